"""After a revocation: no stale value, no API storm, and describe mode notices it too."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from secretcache import (
    AWSCURRENT,
    SecretAccessDeniedError,
    SecretCache,
    SecretDecryptionError,
    SecretsManagerUnavailableError,
)
from secretcache.testing import FakeClock, FaultInjector, InMemorySource, counting_calls

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_secretsmanager import SecretsManagerClient

TTL = 60.0


def test_hot_keys_of_a_denied_secret_do_not_call_the_api_on_every_read(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    sm.create_secret(Name="db", SecretString=json.dumps({"password": "p1"}))
    cache = make_cache(ttl=TTL)
    version = cache.get_secret("db").version_id
    cache.get_secret("db", version_id=version)  # a pinned version: a second hot key
    clock.advance(TTL)
    with FaultInjector(sm) as faults, counting_calls(sm) as calls:
        faults.fail("AccessDeniedException")
        for _ in range(100):  # 100 reads in the same second, both keys
            with pytest.raises(SecretAccessDeniedError):
                cache.get_secret("db")
            with pytest.raises(SecretAccessDeniedError):
                cache.get_secret("db", version_id=version)
            clock.advance(0.01)
    assert calls["GetSecretValue"] <= 2  # one per key; then each key's backoff holds


def test_a_terminal_error_on_one_key_keeps_the_others_failure_memory() -> None:
    source = InMemorySource({"db": "v1"})
    clock = FakeClock()
    cache = SecretCache(source=source, clock=clock, ttl=TTL, jitter=0)
    version = cache.get_secret("db").version_id
    cache.get_secret("db", version_id=version)
    clock.advance(TTL)
    source.fail(SecretDecryptionError("KMS key disabled", code="DecryptionFailure"))
    calls = source.calls["GetSecretValue"]
    for _ in range(50):
        with pytest.raises(SecretDecryptionError):
            cache.get_secret("db")
        with pytest.raises(SecretDecryptionError):
            cache.get_secret("db", version_id=version)
    # The decryption failure speaks for every version: one call, remembered for both.
    assert source.calls["GetSecretValue"] - calls == 1


def test_describe_mode_reads_the_value_again_within_max_stale(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    # DescribeSecret stays granted; GetSecretValue is revoked (or the KMS key disabled).
    sm.create_secret(Name="db", SecretString="v1")
    cache = make_cache(ttl=TTL, max_stale=300.0, revalidate="describe")
    assert cache.get_secret_string("db") == "v1"
    with FaultInjector(sm) as faults:
        faults.fail("AccessDeniedException", operation="GetSecretValue")
        seen_denial_at = None
        for minute in range(1, 3 * 24 * 60):  # three fake days, a read a minute
            clock.advance(60.0)
            try:
                cache.get_secret_string("db")
            except SecretAccessDeniedError:
                seen_denial_at = minute * 60.0
                break
    assert seen_denial_at is not None
    assert seen_denial_at <= 300.0 + TTL  # max(ttl, max_stale), plus one revalidation


def test_describe_mode_still_saves_get_calls_while_the_value_is_readable(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    sm.create_secret(Name="db", SecretString="v1")
    cache = make_cache(ttl=TTL, revalidate="describe")  # max_stale 900 s: a read per 900 s
    cache.get_secret_string("db")
    with counting_calls(sm) as calls:
        for _ in range(60):  # an hour, a revalidation a minute
            clock.advance(TTL)
            cache.get_secret_string("db")
    assert calls["DescribeSecret"] >= 55
    assert 3 <= calls["GetSecretValue"] <= 5


def test_an_answer_with_no_version_and_no_value_is_never_stored(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    # What two processes sharing one inherited connection can parse out of it.
    from botocore.stub import Stubber

    cache = make_cache(ttl=TTL)
    with Stubber(sm) as stub:
        stub.add_response(
            "get_secret_value",
            {"Name": "db", "VersionStages": [AWSCURRENT]},
            {"SecretId": "db", "VersionStage": AWSCURRENT},
        )
        stub.add_response(
            "get_secret_value",
            {"Name": "api-token", "VersionId": "v" * 32, "SecretString": "other's"},
            {"SecretId": "db", "VersionStage": AWSCURRENT},
        )
        for _ in range(2):
            with pytest.raises(SecretsManagerUnavailableError, match="MalformedResponse"):
                cache.get_secret_string("db")
            clock.advance(10)  # past the backoff step
    assert cache.stats().size == 0
