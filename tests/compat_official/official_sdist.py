"""Fetch aws-secretsmanager-caching 1.2.0's sdist and load its unit tests against compat.

The sdist is downloaded with pip (never vendored, ``peer_sdist``) into
``.cache/official-suite/`` at the repository root, checked against its published
SHA-256, and only the four public-API test files are extracted. They are imported
while ``aws_secretsmanager_caching`` and its submodules are aliased to
``secretcache.compat`` in ``sys.modules``; the aliases are removed right after, so
nothing else in the run (the benchmarks import the real package) is affected. No
network, no tests: a failed download raises, it never skips.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
from typing import TYPE_CHECKING

import peer_sdist

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from types import ModuleType

VERSION = "1.2.0"
SDIST = f"aws_secretsmanager_caching-{VERSION}.tar.gz"
SHA256 = "b034ba7154a0b7d975fd25e1bb9805922494b6fd0632e9e117e1abb868f3a06b"
CACHE = peer_sdist.CACHE / "official-suite"

#: The public-API test files of test/unit (test_items.py and test_lru.py test the
#: official package's internals, which compat replaces: they are not run).
FILES = (
    "test_aws_secretsmanager_caching.py",
    "test_cache_hook.py",
    "test_config.py",
    "test_decorators.py",
)

#: The one test of those files that is not run, and why: it asserts the official
#: package's own product token in the user agent, where compat honestly names itself.
LEFT_OUT = {
    "TestAwsSecretsManagerCaching::test_default_session": (
        "expects the official package's product token (AwsSecretCache/<version>) in the"
        " user agent of cache._client; compat sends secretcache/<version>"
        " (tests/compat/test_compat_client.py checks it)"
    ),
}

#: Official module name -> the compat module that stands in for it.
ALIASES = {
    "aws_secretsmanager_caching": "secretcache.compat",
    "aws_secretsmanager_caching.config": "secretcache.compat.config",
    "aws_secretsmanager_caching.secret_cache": "secretcache.compat.secret_cache",
    "aws_secretsmanager_caching.decorators": "secretcache.compat.decorators",
    "aws_secretsmanager_caching.cache": "secretcache.compat.cache",
    "aws_secretsmanager_caching.cache.secret_cache_hook": (
        "secretcache.compat.cache.secret_cache_hook"
    ),
}


def sdist() -> Path:
    """Return the verified sdist, downloading it with pip on first use."""
    return peer_sdist.download(f"aws-secretsmanager-caching=={VERSION}", SDIST, SHA256, CACHE)


def unit_test_files() -> list[Path]:
    """Return the extracted public-API test files (extracting them if needed)."""
    folder = CACHE / VERSION / "test" / "unit"
    prefix = f"aws_secretsmanager_caching-{VERSION}/test/unit"
    return peer_sdist.extract(sdist(), {f"{prefix}/{name}": folder / name for name in FILES})


@contextlib.contextmanager
def aliased() -> Iterator[None]:
    """Make ``aws_secretsmanager_caching`` (and submodules) import secretcache.compat."""
    saved = {name: sys.modules.get(name) for name in ALIASES}
    try:
        for name, target in ALIASES.items():
            sys.modules[name] = importlib.import_module(target)
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def load() -> list[ModuleType]:
    """Import each official test file with the aliases in place; return the modules."""
    modules = []
    with aliased():
        for path in unit_test_files():
            name = f"official_{VERSION.replace('.', '_')}_{path.stem}"
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None
            assert spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            modules.append(module)
    return modules
