"""Failure semantics: stale under transient errors, bounded calls, no stale after revocation."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from secretcache import (
    AWSPREVIOUS,
    SecretAccessDeniedError,
    SecretCache,
    SecretCredentialsError,
    SecretDecryptionError,
    SecretDeletedError,
    SecretNotFoundError,
    SecretsManagerThrottledError,
    SecretsManagerUnavailableError,
)
from secretcache.testing import (
    FakeClock,
    FaultInjector,
    InMemorySource,
    counting_calls,
    rotate_secret,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from mypy_boto3_secretsmanager import SecretsManagerClient

TTL = 60.0


@pytest.fixture
def faults(sm: SecretsManagerClient) -> Iterator[FaultInjector]:
    sm.create_secret(Name="db", SecretString=json.dumps({"password": "p1"}))
    with FaultInjector(sm) as injector:
        yield injector


def _hammer(cache: SecretCache, clock: FakeClock, seconds: float, rate: int = 100) -> list[object]:
    """Read "db" ``rate`` times per simulated second; return each result or error."""
    results: list[object] = []
    for _ in range(int(seconds * rate)):
        try:
            results.append(cache.get_secret_field("db", "password"))
        except Exception as exc:  # the test inspects what came out
            results.append(exc)
        clock.advance(1.0 / rate)
    return results


def _gets(cache: SecretCache) -> int:
    return cache.stats().api_calls.get("GetSecretValue", 0)


@pytest.mark.parametrize("fault", ["ThrottlingException", "InternalServiceError", "connection"])
def test_stale_is_served_under_transient_failure_with_calls_bounded(
    faults: FaultInjector, make_cache: Callable[..., SecretCache], clock: FakeClock, fault: str
) -> None:
    cache = make_cache(ttl=TTL)
    assert cache.get_secret_field("db", "password") == "p1"
    if fault == "connection":
        faults.connection_error()
    else:
        faults.fail(fault)
    clock.advance(TTL)
    results = _hammer(cache, clock, seconds=60)
    assert set(results) == {"p1"}  # never an error, never a wait for the outage
    assert _gets(cache) - 1 <= 6  # 100 gets/s for a minute: <= 6 logical calls
    stats = cache.stats()
    assert stats.stale_served >= 6000 - 6
    assert stats.errors == _gets(cache) - 1


def test_error_is_raised_once_max_stale_is_spent(
    faults: FaultInjector, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    cache = make_cache(ttl=TTL, max_stale=120.0)
    cache.get_secret_string("db")
    faults.fail("ThrottlingException")
    clock.advance(TTL + 119.0)
    assert json.loads(cache.get_secret_string("db")) == {"password": "p1"}
    clock.advance(1.5)
    with pytest.raises(SecretsManagerThrottledError) as caught:
        cache.get_secret_string("db")
    assert caught.value.retryable
    clock.advance(300)  # still failing, later still: raised, not served
    with pytest.raises(SecretsManagerThrottledError):
        cache.get_secret_string("db")


def test_no_stale_at_all_with_max_stale_zero() -> None:
    source = InMemorySource({"db": "v"})
    clock = FakeClock()
    cache = SecretCache(source=source, clock=clock, ttl=10, jitter=0, max_stale=0)
    cache.get_secret_string("db")
    source.fail(SecretsManagerUnavailableError("down", code="InternalServiceError"))
    clock.advance(10)
    with pytest.raises(SecretsManagerUnavailableError):
        cache.get_secret_string("db")


def test_recovery_on_the_first_success_after_the_outage(
    sm: SecretsManagerClient,
    faults: FaultInjector,
    make_cache: Callable[..., SecretCache],
    clock: FakeClock,
) -> None:
    cache = make_cache(ttl=TTL)
    cache.get_secret_string("db")
    faults.fail("InternalServiceError")
    clock.advance(TTL)
    _hammer(cache, clock, seconds=20)
    rotate_secret(sm, "db", json.dumps({"password": "p2"}))
    faults.heal()
    calls_at_heal = _gets(cache)
    results = _hammer(cache, clock, seconds=40)
    first_new = results.index("p2")
    assert set(results[first_new:]) == {"p2"}
    # One call recovered it (at the next backoff step); then it is fresh again: no more.
    assert _gets(cache) == calls_at_heal + 1
    assert cache.stats().rotations == 1


def test_a_failed_refresh_leaves_the_cache_consistent(
    faults: FaultInjector, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    cache = make_cache(ttl=TTL)
    before = cache.get_secret("db")
    faults.fail("ThrottlingException")
    with pytest.raises(SecretsManagerThrottledError):
        cache.refresh("db")
    assert cache.get_secret("db") is before  # still fresh, still served, no call
    assert cache.stats().size == 1
    faults.heal()
    clock.advance(TTL)
    assert cache.get_secret("db").version_id == before.version_id


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("AccessDeniedException", SecretAccessDeniedError),
        ("DecryptionFailure", SecretDecryptionError),
        ("ResourceNotFoundException", SecretNotFoundError),
    ],
)
def test_no_stale_after_a_terminal_error_and_one_call_per_step(
    faults: FaultInjector,
    make_cache: Callable[..., SecretCache],
    clock: FakeClock,
    code: str,
    cls: type[Exception],
) -> None:
    cache = make_cache(ttl=TTL, max_stale=None)
    cache.get_secret_field("db", "password")
    faults.fail(code)
    clock.advance(TTL)
    results = _hammer(cache, clock, seconds=60)
    assert "p1" not in results  # revoked means revoked, even with unbounded max_stale
    assert all(type(r) is cls for r in results)
    assert _gets(cache) - 1 <= 6  # at most one call per backoff step (1, 2, 4, ... s)
    assert cache.stats().stale_served == 0


def test_access_denied_drops_the_key_that_got_it_and_no_stale_anywhere(
    sm: SecretsManagerClient,
    faults: FaultInjector,
    make_cache: Callable[..., SecretCache],
    clock: FakeClock,
) -> None:
    rotate_secret(sm, "db", json.dumps({"password": "p2"}))
    cache = make_cache(ttl=TTL)
    cache.get_secret_string("db")
    clock.advance(TTL / 2)
    cache.get_secret_string("db", AWSPREVIOUS)
    faults.fail("AccessDeniedException")
    clock.advance(TTL / 2)
    with pytest.raises(SecretAccessDeniedError):
        cache.get_secret_string("db")
    # A denial is about the request that got it (an IAM condition may allow one stage
    # and not another): the other stage stays until its own revalidation...
    assert cache.stats().size == 1
    clock.advance(TTL / 2)
    # ...which meets the denial too: nothing stale, not even within max_stale.
    with pytest.raises(SecretAccessDeniedError):
        cache.get_secret_string("db", AWSPREVIOUS)
    assert cache.stats().size == 0


def test_deletion_drops_every_stage_and_remembers_it_for_each(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    sm.create_secret(Name="db", SecretString=json.dumps({"password": "p1"}))
    rotate_secret(sm, "db", json.dumps({"password": "p2"}))
    cache = make_cache(ttl=TTL)
    cache.get_secret_string("db")
    version = cache.get_secret("db", AWSPREVIOUS).version_id
    cache.get_secret_string("db", version_id=version)
    sm.delete_secret(SecretId="db", RecoveryWindowInDays=7)
    clock.advance(TTL)
    with pytest.raises(SecretDeletedError):
        cache.get_secret_string("db")
    assert cache.stats().size == 0  # scheduled deletion speaks for every version
    with counting_calls(sm) as calls:
        for _ in range(50):
            with pytest.raises(SecretDeletedError):
                cache.get_secret_string("db", AWSPREVIOUS)
            with pytest.raises(SecretDeletedError):
                cache.get_secret_string("db", version_id=version)
    assert calls["GetSecretValue"] == 0  # hot siblings meet the remembered answer


def test_no_stale_after_scheduled_deletion(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    sm.create_secret(Name="db", SecretString="v")
    cache = make_cache(ttl=TTL, max_stale=None)
    assert cache.get_secret_string("db") == "v"
    sm.delete_secret(SecretId="db", RecoveryWindowInDays=7)
    clock.advance(TTL)
    for _ in range(3):
        with pytest.raises(SecretDeletedError):
            cache.get_secret_string("db")
        clock.advance(0.5)
    sm.restore_secret(SecretId="db")
    clock.advance(120)  # past the backoff step: the restored secret reads again
    assert cache.get_secret_string("db") == "v"


def test_credentials_trouble_serves_stale() -> None:
    source = InMemorySource({"db": "v"})
    clock = FakeClock()
    cache = SecretCache(source=source, clock=clock, ttl=10, jitter=0)
    cache.get_secret_string("db")
    source.fail(SecretCredentialsError("token expired", code="ExpiredTokenException"))
    clock.advance(10)
    assert cache.get_secret_string("db") == "v"
    assert cache.stats().stale_served == 1


def test_backoff_resets_after_recovery() -> None:
    source = InMemorySource({"db": "v"})
    clock = FakeClock()
    cache = SecretCache(source=source, clock=clock, ttl=10, jitter=0)
    cache.get_secret_string("db")
    outage = SecretsManagerThrottledError("slow", code="ThrottlingException")
    source.fail(outage)
    clock.advance(10)
    for _ in range(5):  # let the backoff grow: steps of 1, 2, 4, 8, 16 s
        cache.get_secret_string("db")
        clock.advance(20)
    source.heal()
    cache.get_secret_string("db")
    calls = source.calls["GetSecretValue"]
    source.fail(outage)
    clock.advance(10)
    cache.get_secret_string("db")  # fails: the first step is short again
    clock.advance(1.3)
    cache.get_secret_string("db")
    assert source.calls["GetSecretValue"] == calls + 2
