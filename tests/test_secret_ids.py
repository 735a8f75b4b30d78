"""A name, its full ARN and its partial ARN are one secret: invalidate, errors, events."""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

import pytest

from secretcache import AWSCURRENT, RotationEvent, Secret, SecretCache, SecretDeletedError
from secretcache.testing import FakeClock, InMemorySource, counting_calls, rotate_secret

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_secretsmanager import SecretsManagerClient

TTL = 60.0


@pytest.fixture
def arn(sm: SecretsManagerClient) -> str:
    return sm.create_secret(Name="prod/db", SecretString=json.dumps({"pw": "p1"}))["ARN"]


def test_invalidate_by_name_forgets_the_arn_too(
    sm: SecretsManagerClient, arn: str, make_cache: Callable[..., SecretCache]
) -> None:
    cache = make_cache(ttl=TTL)
    partial = arn[:-7]  # without "-" and the six random characters
    for sid in ("prod/db", arn, partial):
        assert cache.get_secret_field(sid, "pw") == "p1"
    rotate_secret(sm, "prod/db", json.dumps({"pw": "p2"}))
    cache.invalidate("prod/db")  # e.g. told of the rotation by an EventBridge rule
    for sid in ("prod/db", arn, partial):
        assert cache.get_secret_field(sid, "pw") == "p2"


def test_invalidate_by_arn_forgets_the_name_too(
    sm: SecretsManagerClient, arn: str, make_cache: Callable[..., SecretCache]
) -> None:
    cache = make_cache(ttl=TTL)
    cache.get_secret_field("prod/db", "pw")
    cache.get_secret_field(arn, "pw")
    cache.invalidate(arn)
    assert cache.stats().size == 0


def test_invalidate_leaves_other_secrets_alone(
    sm: SecretsManagerClient, arn: str, make_cache: Callable[..., SecretCache]
) -> None:
    sm.create_secret(Name="prod/db-admin", SecretString="admin")  # a name that extends it
    cache = make_cache(ttl=TTL)
    cache.get_secret_field(arn, "pw")
    cache.get_secret_string("prod/db-admin")
    cache.invalidate("prod/db")
    with counting_calls(sm) as calls:
        assert cache.get_secret_string("prod/db-admin") == "admin"
    assert calls["GetSecretValue"] == 0


def test_a_rotation_seen_under_the_name_and_the_arn_is_one_event(
    sm: SecretsManagerClient, arn: str, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    events: list[RotationEvent] = []
    cache = make_cache(ttl=TTL, on_rotation=events.append)
    cache.get_secret_field("prod/db", "pw")
    cache.get_secret_field(arn, "pw")
    rotate_secret(sm, "prod/db", json.dumps({"pw": "p2"}))
    assert cache.refresh("prod/db")
    # The ARN's entry holds the old version: it must not be served as current.
    assert cache.get_secret_field(arn, "pw") == "p2"
    clock.advance(TTL)
    cache.get_secret_field(arn, "pw")
    assert len(events) == 1
    assert cache.stats().rotations == 1


def test_a_deletion_seen_under_the_name_drops_the_arn(
    sm: SecretsManagerClient, arn: str, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    cache = make_cache(ttl=TTL, max_stale=None)
    cache.get_secret_field("prod/db", "pw")
    clock.advance(TTL / 2)
    cache.get_secret_field(arn, "pw")  # fresh for another half TTL
    sm.delete_secret(SecretId="prod/db", RecoveryWindowInDays=7)
    clock.advance(TTL / 2)
    with pytest.raises(SecretDeletedError):
        cache.get_secret_field("prod/db", "pw")
    with counting_calls(sm) as calls, pytest.raises(SecretDeletedError):
        cache.get_secret_field(arn, "pw")  # not served from memory, not asked either
    assert calls["GetSecretValue"] == 0


def test_a_deleted_secret_named_by_an_ambiguous_partial_arn_fails_no_other_secret(
    sm: SecretsManagerClient, arn: str, make_cache: Callable[..., SecretCache]
) -> None:
    # "prod/db-reader" looks like "prod/db" plus a random suffix: only a guess.
    other = sm.create_secret(Name="prod/db-reader", SecretString="r")["ARN"]
    sm.delete_secret(SecretId="prod/db-reader", RecoveryWindowInDays=7)
    cache = make_cache(ttl=TTL)
    assert cache.get_secret_field("prod/db", "pw") == "p1"
    with pytest.raises(SecretDeletedError):
        cache.get_secret_string(other[:-7])  # the partial ARN of the deleted one
    assert cache.get_secret_field("prod/db", "pw") == "p1"  # still readable, not "deleted"


def test_a_slow_deletion_answer_does_not_drop_a_later_value() -> None:
    gate, sent = threading.Event(), threading.Event()

    class SlowDeletion(InMemorySource):
        def get_secret_value(self, secret_id: str, **kwargs: Any) -> Secret:
            if kwargs.get("version_stage") == AWSCURRENT:  # sent before the restore...
                sent.set()
                assert gate.wait(10)
                raise SecretDeletedError("scheduled", code="InvalidRequestException")
            return super().get_secret_value(secret_id, **kwargs)

    source = SlowDeletion({"db": "v1"})
    version = source.put("db", "v2")
    cache = SecretCache(source=source, clock=FakeClock())
    outcome: list[BaseException] = []

    def read_current() -> None:
        try:
            cache.get_secret("db")
        except SecretDeletedError as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read_current)
    reader.start()
    assert sent.wait(10)
    assert cache.get_secret_string("db", version_id=version) == "v2"  # ...read after it
    gate.set()
    reader.join(10)
    assert len(outcome) == 1
    calls = source.calls["GetSecretValue"]
    assert cache.get_secret_string("db", version_id=version) == "v2"
    assert source.calls["GetSecretValue"] == calls  # kept, not dropped by the older answer
