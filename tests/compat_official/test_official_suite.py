"""aws-secretsmanager-caching 1.2.0's own public-API unit tests, run against secretcache.compat.

The test files come from the official sdist, downloaded at test time
(``official_sdist``), and run unmodified: their ``unittest.TestCase`` classes are
collected from this module. One test is left out (``official_sdist.LEFT_OUT`` says
which and why; ``conftest.py`` deselects it): it asserts the official user agent.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import unittest
from pathlib import Path

import official_sdist

import secretcache.compat
import secretcache.compat.cache.secret_cache_hook
import secretcache.compat.decorators

_MODULES = official_sdist.load()


def _test_classes() -> dict[str, type[unittest.TestCase]]:
    """Return every TestCase class the official files define, by name."""
    return {
        name: value
        for module in _MODULES
        for name, value in vars(module).items()
        if inspect.isclass(value)
        and issubclass(value, unittest.TestCase)
        and value.__module__ == module.__name__
    }


# pytest collects TestCase classes found in this module: the official ones, from here.
globals().update(_test_classes())


def _official(module_stem: str, name: str) -> object:
    module = next(m for m in _MODULES if m.__name__.endswith(module_stem))
    return vars(module)[name]


def test_the_official_tests_exercise_compat_not_the_real_package() -> None:
    # The real package is installed too (the benchmarks use it): a failed alias would
    # quietly test it instead.
    assert _official("test_aws_secretsmanager_caching", "SecretCache") is (
        secretcache.compat.SecretCache
    )
    assert _official("test_config", "SecretCacheConfig") is secretcache.compat.SecretCacheConfig
    assert _official("test_cache_hook", "SecretCacheHook") is (
        secretcache.compat.cache.secret_cache_hook.SecretCacheHook
    )
    assert _official("test_decorators", "InjectSecretString") is (
        secretcache.compat.decorators.InjectSecretString
    )
    assert _official("test_decorators", "InjectKeywordedSecretString") is (
        secretcache.compat.decorators.InjectKeywordedSecretString
    )


def test_the_suite_is_the_one_counted() -> None:
    found = {
        f"{cls.__name__}::{name}"
        for cls in _test_classes().values()
        for name in unittest.TestLoader().getTestCaseNames(cls)
    }
    assert len(found) == 28
    # Only the user-agent test is left out; the private seam users call
    # (_get_cached_secret(...).refresh_secret_now()) is run like the rest.
    assert set(official_sdist.LEFT_OUT) == {"TestAwsSecretsManagerCaching::test_default_session"}
    assert set(official_sdist.LEFT_OUT) <= found


HERE = Path(official_sdist.__file__).resolve().parent


def test_client_stub_passes_in_a_fresh_process() -> None:
    # In this process something else has imported botocore.session already; a user's
    # process may not have: the official test does ``import botocore`` and then calls
    # botocore.session.get_session(), relying on the package import to load it.
    code = (
        "import sys, unittest\n"
        f"sys.path[:0] = {[str(HERE), str(HERE.parent)]!r}\n"
        "import official_sdist\n"
        "(tests,) = [m for m in official_sdist.load()"
        " if m.__name__.endswith('test_aws_secretsmanager_caching')]\n"
        "case = tests.TestAwsSecretsManagerCaching('test_client_stub')\n"
        "result = unittest.TextTestRunner(stream=sys.stdout).run(case)\n"
        "raise SystemExit(0 if result.wasSuccessful() else 1)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
