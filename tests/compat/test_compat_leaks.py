"""No secret value in anything compat shows: errors, decorator failures, reprs, logs."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from test_leaks import leaks  # noqa: F401  (the fixture, shared with the native scan)

from secretcache.compat import (
    InjectKeywordedSecretString,
    InjectSecretString,
    SecretCache,
    SecretCacheConfig,
)
from secretcache.testing import FakeClock, FaultInjector

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from test_leaks import LeakScanner


def _raised(scanner: LeakScanner, call: Any, *args: Any) -> BaseException:
    try:
        call(*args)
    except Exception as exc:
        scanner.exception(exc)
        return exc
    raise AssertionError(f"{call!r} did not raise")


def test_compat_never_shows_the_value(
    sm: SecretsManagerClient,
    leaks: LeakScanner,  # noqa: F811
    canary: str,
) -> None:
    clock = FakeClock()
    config = SecretCacheConfig(secret_refresh_interval=60)
    # Built first: it installs the log scrubber, which then covers the set-up calls.
    cache = SecretCache(config=config, client=sm, clock=clock)
    sm.create_secret(Name="plain", SecretString=canary)
    sm.create_secret(Name="creds", SecretString=json.dumps({"password": canary}))
    sm.create_secret(Name="broken", SecretString='{"password": "' + canary)
    assert cache.get_secret_string("plain") == canary  # the value is there to leak
    assert cache.get_secret_binary("plain") is None

    @InjectKeywordedSecretString("creds", cache, user="username")
    def missing_key(user: str) -> None:
        raise AssertionError("not called")

    @InjectKeywordedSecretString("broken", cache, password="password")
    def not_json(password: str) -> None:
        raise AssertionError("not called")

    @InjectSecretString("plain", cache)
    def fails(token: str) -> None:
        raise ValueError("the login failed")

    assert isinstance(_raised(leaks, missing_key), RuntimeError)
    assert isinstance(_raised(leaks, not_json), RuntimeError)
    assert isinstance(_raised(leaks, fails), ValueError)
    clock.advance(61)
    with FaultInjector(sm) as faults:
        faults.fail("AccessDeniedException", operation="DescribeSecret")
        _raised(leaks, cache.get_secret_string, "plain")
    sm.delete_secret(SecretId="creds", RecoveryWindowInDays=7)
    _raised(leaks, cache.get_secret_string, "creds")
    leaks.objects(cache, config, missing_key, fails)
