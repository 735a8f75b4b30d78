"""secretcache.compat mirrors the official package's public module paths and names."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import secretcache.compat

OFFICIAL_PATHS = {
    "": ["SecretCache", "SecretCacheConfig", "InjectSecretString", "InjectKeywordedSecretString"],
    ".config": ["SecretCacheConfig"],
    ".secret_cache": ["SecretCache"],
    ".decorators": ["InjectSecretString", "InjectKeywordedSecretString"],
    ".cache.secret_cache_hook": ["SecretCacheHook"],
}


def test_all_is_sorted_and_complete() -> None:
    names = secretcache.compat.__all__
    assert names == sorted(names)
    assert set(names) == {
        "InjectKeywordedSecretString",
        "InjectSecretString",
        "SecretCache",
        "SecretCacheConfig",
        "SecretCacheHook",
    }


@pytest.mark.parametrize(("path", "names"), OFFICIAL_PATHS.items())
def test_every_official_import_path_resolves(path: str, names: list[str]) -> None:
    module = importlib.import_module(f"secretcache.compat{path}")
    for name in names:
        assert getattr(module, name) is getattr(secretcache.compat, name)


def test_the_config_defaults_are_the_official_ones() -> None:
    assert dict(secretcache.compat.SecretCacheConfig.OPTION_DEFAULTS) == {
        "max_cache_size": 1024,
        "exception_retry_delay_base": 1,
        "exception_retry_growth_factor": 2,
        "exception_retry_delay_max": 3600,
        "default_version_stage": "AWSCURRENT",
        "secret_refresh_interval": 3600,
        "secret_cache_hook": None,
    }
    config = secretcache.compat.SecretCacheConfig(max_cache_size=5)
    assert config.max_cache_size == 5
    assert "max_cache_size=5" in repr(config)


def test_import_secretcache_does_not_import_compat() -> None:
    code = "import sys, secretcache; print('secretcache.compat' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def _fresh(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("module", ["secretcache.compat", "secretcache.compat.secret_cache"])
def test_importing_compat_makes_botocore_session_available_as_the_official_import_does(
    module: str,
) -> None:
    # Code written for the official package: ``import botocore`` and its import, then
    # botocore.session.get_session() (the official test suite's get_client does this).
    code = f"import botocore, {module}; print(type(botocore.session.get_session()).__name__)"
    assert _fresh(code) == "Session"


def test_import_secretcache_still_leaves_botocore_session_unimported() -> None:
    code = "import sys, secretcache; print('botocore.session' in sys.modules)"
    assert _fresh(code) == "False"
