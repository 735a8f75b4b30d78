"""rotation_candidate(): what to retry with after a login failed with a cached version."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from secretcache import AWSCURRENT, AWSPENDING, SecretAccessDeniedError, SecretCache
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
    clock.advance(1)
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
    clock.advance(1)
    candidate = cache.rotation_candidate(db, failed)
    assert candidate is not None
    assert candidate.version_id == pending
    assert AWSPENDING in candidate.version_stages
    assert cache.get_secret_field(db, "password") == "p1"  # AWSCURRENT has not moved
    finish_rotation(sm, db, pending)
    clock.advance(1)
    after = cache.rotation_candidate(db, failed)
    assert after is not None
    assert after.version_id == pending
    assert AWSCURRENT in after.version_stages


def test_no_candidate_without_a_rotation(
    db: str, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    cache = make_cache()
    failed = cache.get_secret(db).version_id
    clock.advance(1)
    assert cache.rotation_candidate(db, failed) is None


def test_pending_equal_to_the_failed_version_is_no_candidate() -> None:
    source = InMemorySource({"db": _pw(1)})
    clock = FakeClock()
    cache = SecretCache(source=source, clock=clock)
    pending = source.put("db", _pw(2), stages=[AWSPENDING])
    current = cache.get_secret("db").version_id
    clock.advance(1)
    candidate = cache.rotation_candidate("db", current)
    assert candidate is not None
    assert candidate.version_id == pending
    # The pending password failed too: back to AWSCURRENT, which differs from it.
    clock.advance(1)
    back = cache.rotation_candidate("db", pending)
    assert back is not None
    assert back.version_id == current


def test_a_burst_of_failed_logins_asks_at_most_once_a_second(
    sm: SecretsManagerClient, db: str, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    cache = make_cache()
    failed = cache.get_secret(db).version_id
    clock.advance(1)
    with counting_calls(sm) as calls:
        for _ in range(50):
            assert cache.rotation_candidate(db, failed) is None
            clock.advance(0.01)
    # AWSCURRENT, AWSPENDING, and AWSCURRENT once more (finishSecret may have run
    # between the first two reads); then AWSPENDING's absence is remembered.
    assert calls["GetSecretValue"] <= 3


def test_errors_other_than_not_found_propagate(
    sm: SecretsManagerClient, db: str, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    cache = make_cache()
    failed = cache.get_secret(db).version_id
    clock.advance(1)
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
    clock.advance(1)

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
