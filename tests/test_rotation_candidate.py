"""rotation_candidate(): what to retry with after a login failed with a cached version."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from secretcache import (
    AWSCURRENT,
    AWSPENDING,
    SecretAccessDeniedError,
    SecretCache,
    SecretsManagerThrottledError,
)
from secretcache.testing import (
    FakeClock,
    FaultInjector,
    InMemorySource,
    counting_calls,
    finish_rotation,
    rotate_secret,
    start_rotation,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_secretsmanager import SecretsManagerClient


def _pw(n: int) -> str:
    return json.dumps({"username": "app", "password": f"p{n}"})


@pytest.fixture
def db(sm: SecretsManagerClient) -> str:
    sm.create_secret(Name="db", SecretString=_pw(1))
    return "db"


def test_a_newer_current_version_is_the_candidate(
    sm: SecretsManagerClient, db: str, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    cache = make_cache()
    failed = cache.get_secret(db).version_id
    new = rotate_secret(sm, db, _pw(2))
    candidate = cache.rotation_candidate(db, failed)
    assert candidate is not None
    assert candidate.version_id == new
    assert json.loads(candidate.secret_string or "")["password"] == "p2"
    assert cache.get_secret_field(db, "password") == "p2"  # the cache moved on too


def test_pending_is_the_candidate_inside_a_rotation_window(
    sm: SecretsManagerClient, db: str, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    cache = make_cache()
    failed = cache.get_secret(db).version_id
    pending = start_rotation(sm, db, _pw(2))  # createSecret; setSecret changed the DB
    candidate = cache.rotation_candidate(db, failed)
    assert candidate is not None
    assert candidate.version_id == pending
    assert AWSPENDING in candidate.version_stages
    assert cache.get_secret_field(db, "password") == "p1"  # AWSCURRENT has not moved
    finish_rotation(sm, db, pending)
    clock.advance(3)  # the last look (2 calls) answered repeats for 2 s
    after = cache.rotation_candidate(db, failed)
    assert after is not None
    assert after.version_id == pending
    assert AWSCURRENT in after.version_stages
    assert cache.get_secret_field(db, "password") == "p2"


def test_no_candidate_without_a_rotation(
    db: str, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    cache = make_cache()
    failed = cache.get_secret(db).version_id
    assert cache.rotation_candidate(db, failed) is None


def test_once_awscurrent_moved_the_cache_serves_it() -> None:
    source = InMemorySource({"db": _pw(1)})
    clock = FakeClock()
    cache = SecretCache(source=source, clock=clock, ttl=3600)
    v1 = cache.get_secret("db").version_id
    v2 = source.put("db", _pw(2), stages=[AWSPENDING])
    window = cache.rotation_candidate("db", v1)
    assert window is not None
    assert window.version_id == v2
    source.move_stage("db", AWSCURRENT, v2)  # finishSecret
    clock.advance(2)  # the window's look is used up
    # The next login with the cached AWSCURRENT (v1) fails: the look stores v2, so
    # the logins after it succeed the first time.
    again = cache.rotation_candidate("db", v1)
    assert again is not None
    assert again.version_id == v2
    assert cache.get_secret("db").version_id == v2


def test_with_a_frozen_clock_the_next_rotation_teaches_the_cache() -> None:
    # A long TTL and a clock that never moves: only failed logins make the cache ask.
    source = InMemorySource({"db": _pw(1)})
    cache = SecretCache(source=source, clock=FakeClock(), ttl=3600)
    v1 = cache.get_secret("db").version_id
    v2 = source.put("db", _pw(2), stages=[AWSPENDING])
    assert (got := cache.rotation_candidate("db", v1)) is not None
    assert got.version_id == v2
    source.move_stage("db", AWSCURRENT, v2)
    v3 = source.put("db", _pw(3), stages=[AWSPENDING])
    # Logins kept using v2 (the candidate) until the next setSecret made it fail.
    candidate = cache.rotation_candidate("db", v2)
    assert candidate is not None
    assert candidate.version_id == v3
    assert cache.get_secret("db").version_id == v2  # the moved AWSCURRENT, stored


def test_a_failed_newer_version_is_never_answered_with_an_older_one() -> None:
    # Two rotations a few seconds apart; the cache kept v1 as AWSCURRENT (frozen clock).
    source = InMemorySource({"db": _pw(1)})
    clock = FakeClock()
    cache = SecretCache(source=source, clock=clock, ttl=3600)
    v1 = cache.get_secret("db").version_id
    v2 = source.put("db", _pw(2), stages=[AWSPENDING])
    assert (got := cache.rotation_candidate("db", v1)) is not None
    assert got.version_id == v2
    source.move_stage("db", AWSCURRENT, v2)
    v3 = source.put("db", _pw(3), stages=[AWSPENDING])  # second rotation's createSecret
    # A login with v2 (the candidate that worked) fails: setSecret set v3.
    candidate = cache.rotation_candidate("db", v2)
    assert candidate is not None
    assert candidate.version_id == v3
    # v3 fails too (a third party changed the password): nothing older is offered.
    assert cache.rotation_candidate("db", v3) is None
    source.move_stage("db", AWSCURRENT, v3)
    clock.advance(10)
    assert cache.rotation_candidate("db", v3) is None  # v3 failed: never again
    assert cache.rotation_candidate("db", v1) is None  # older than a failure


def test_a_pending_equal_to_the_failed_version_is_no_candidate() -> None:
    source = InMemorySource({"db": _pw(1)})
    cache = SecretCache(source=source, clock=FakeClock())
    current = cache.get_secret("db").version_id
    pending = source.put("db", _pw(2), stages=[AWSPENDING])
    candidate = cache.rotation_candidate("db", current)
    assert candidate is not None
    assert candidate.version_id == pending
    # The pending password failed too: AWSCURRENT is older than it, so no candidate.
    assert cache.rotation_candidate("db", pending) is None


def test_failing_logins_without_a_rotation_ask_about_four_times_in_three_seconds(
    sm: SecretsManagerClient, db: str, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    cache = make_cache()
    failed = cache.get_secret(db).version_id
    with counting_calls(sm) as calls:
        for _ in range(60 * 100):  # 100 failing logins a second for a minute
            assert cache.rotation_candidate(db, failed) is None
            clock.advance(0.01)
    # The first look reads up to four stages; after it, AWSCURRENT once a second and
    # AWSPENDING once every three seconds.
    assert calls["GetSecretValue"] <= 4 + 60 + 20


def test_a_new_failure_gets_a_fresh_answer_at_once() -> None:
    source = InMemorySource({"db": _pw(1)})
    cache = SecretCache(source=source, clock=FakeClock())
    v1 = cache.get_secret("db").version_id
    assert cache.rotation_candidate("db", v1) is None  # a look: good for 1 s
    v2 = source.put("db", _pw(2), stages=[AWSPENDING])
    assert cache.rotation_candidate("db", v1) is None  # a repeat: the last look answers
    # Another process wrote v2's password and a login with it (read elsewhere) failed:
    v3 = source.put("db", _pw(3), stages=[AWSPENDING])
    candidate = cache.rotation_candidate("db", v2)  # news: looked at now
    assert candidate is not None
    assert candidate.version_id == v3


def test_while_throttled_at_most_six_calls_a_minute(
    sm: SecretsManagerClient, db: str, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    cache = make_cache()
    failed = cache.get_secret(db).version_id
    with FaultInjector(sm) as faults:
        faults.fail("ThrottlingException")
        attempts_before = faults.attempts["GetSecretValue"]
        with counting_calls(sm) as calls:
            for n in range(60 * 100):
                # New failed versions each time would defeat a per-version limit.
                version = f"{n:08d}-aaaa-4000-8000-000000000000"
                with pytest.raises(SecretsManagerThrottledError):
                    cache.rotation_candidate(db, version if n % 7 == 0 else failed)
                clock.advance(0.01)
    assert calls["GetSecretValue"] <= 6
    assert faults.attempts["GetSecretValue"] - attempts_before <= 6 * 3  # botocore's retries


def test_a_denied_awspending_read_keeps_awscurrent(
    sm: SecretsManagerClient, db: str, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    # An IAM policy may allow GetSecretValue only with VersionStage AWSCURRENT.
    cache = make_cache()
    failed = cache.get_secret(db).version_id

    def deny_pending(params: dict[str, Any], **_: Any) -> None:
        if params.get("VersionStage") == AWSPENDING:
            raise _denied()

    sm.meta.events.register("before-parameter-build.secrets-manager.GetSecretValue", deny_pending)
    try:
        assert cache.rotation_candidate(db, failed) is None
        with counting_calls(sm) as calls:
            assert cache.get_secret_field(db, "password") == "p1"
        assert calls["GetSecretValue"] == 0  # AWSCURRENT's entry was not dropped
    finally:
        sm.meta.events.unregister(
            "before-parameter-build.secrets-manager.GetSecretValue", deny_pending
        )


def _denied() -> Exception:
    from botocore.exceptions import ClientError

    return ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "not AWSPENDING"}},
        "GetSecretValue",
    )


def test_errors_other_than_not_found_propagate(
    sm: SecretsManagerClient, db: str, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    cache = make_cache()
    failed = cache.get_secret(db).version_id
    with FaultInjector(sm) as faults:
        faults.fail("AccessDeniedException")
        with pytest.raises(SecretAccessDeniedError):
            cache.rotation_candidate(db, failed)


def test_finish_between_the_two_reads_still_finds_the_new_current(
    sm: SecretsManagerClient, db: str, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    cache = make_cache()
    failed = cache.get_secret(db).version_id
    pending = start_rotation(sm, db, '{"password": "p2"}')

    # finishSecret lands right after the cache re-read AWSCURRENT (still the old one).
    def finish_after_current_read(model: Any, params: dict[str, Any], **_: Any) -> None:
        if params.get("VersionStage") == "AWSPENDING":
            finish_rotation(sm, db, pending)

    sm.meta.events.register("before-call.secrets-manager.GetSecretValue", finish_after_current_read)
    try:
        candidate = cache.rotation_candidate(db, failed)
    finally:
        sm.meta.events.unregister(
            "before-call.secrets-manager.GetSecretValue", finish_after_current_read
        )
    assert candidate is not None
    assert candidate.version_id == pending


def test_arguments_are_checked(make_cache: Callable[..., SecretCache]) -> None:
    cache = make_cache()
    with pytest.raises(TypeError):
        cache.rotation_candidate("db", None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="version_id"):
        cache.rotation_candidate("db", "short")
