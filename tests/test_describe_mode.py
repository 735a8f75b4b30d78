"""revalidate="describe": DescribeSecret first, GetSecretValue only for a new version."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from secretcache import (
    AWSCURRENT,
    RotationEvent,
    SecretAccessDeniedError,
    SecretCache,
    SecretDeletedError,
    SecretNotFoundError,
)
from secretcache.testing import FakeClock, FaultInjector, InMemorySource, rotate_secret

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_secretsmanager import SecretsManagerClient

TTL = 60.0


def test_unchanged_costs_one_describe_and_no_get(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    sm.create_secret(Name="db", SecretString=json.dumps({"password": "p1"}))
    cache = make_cache(revalidate="describe", ttl=TTL)
    first = cache.get_secret("db")
    assert cache.stats().api_calls == {"GetSecretValue": 1}  # a cold key is simply read
    clock.advance(TTL)
    assert cache.get_secret("db") is first
    assert cache.stats().api_calls == {"GetSecretValue": 1, "DescribeSecret": 1}
    assert cache.get_secret_field("db", "password") == "p1"  # re-armed: a hit again
    assert cache.stats().api_calls == {"GetSecretValue": 1, "DescribeSecret": 1}


def test_a_new_version_is_fetched_by_version_id(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    sm.create_secret(Name="db", SecretString=json.dumps({"password": "p1"}))
    events: list[RotationEvent] = []
    cache = make_cache(revalidate="describe", ttl=TTL, on_rotation=events.append)
    old = cache.get_secret("db").version_id
    new = rotate_secret(sm, "db", json.dumps({"password": "p2"}))
    sent: list[dict[str, object]] = []
    sm.meta.events.register(
        "provide-client-params.secrets-manager.GetSecretValue",
        lambda params, **_: sent.append(dict(params)),
    )
    clock.advance(TTL)
    assert cache.get_secret_field("db", "password") == "p2"
    assert sent == [{"SecretId": "db", "VersionId": new}]
    assert events == [RotationEvent("db", AWSCURRENT, old, new)]
    assert cache.stats().api_calls == {"GetSecretValue": 2, "DescribeSecret": 1}


def test_denied_describe_falls_back_to_get_for_good(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    sm.create_secret(Name="db", SecretString="v1")
    cache = make_cache(revalidate="describe", ttl=TTL)
    with FaultInjector(sm) as faults:
        faults.fail("AccessDeniedException", operation="DescribeSecret")
        cache.get_secret_string("db")
        clock.advance(TTL)
        assert cache.get_secret_string("db") == "v1"  # no error surfaced
        rotate_secret(sm, "db", "v2")
        for _ in range(3):
            clock.advance(TTL)
            assert cache.get_secret_string("db") == "v2"
    assert cache.stats().api_calls == {"GetSecretValue": 5, "DescribeSecret": 1}
    assert faults.attempts["DescribeSecret"] == 1  # never asked again
    assert cache.stats().errors == 0


def test_describe_on_a_deleted_secret_drops_the_value() -> None:
    source = InMemorySource({"db": "v1"})
    clock = FakeClock()
    cache = SecretCache(source=source, clock=clock, ttl=TTL, jitter=0, revalidate="describe")
    cache.get_secret_string("db")
    source.delete("db")
    clock.advance(TTL)
    with pytest.raises(SecretDeletedError):
        cache.get_secret_string("db")
    assert cache.stats().size == 0


def test_describe_reports_a_vanished_stage_as_not_found() -> None:
    source = InMemorySource({"db": "v1"})
    clock = FakeClock()
    cache = SecretCache(source=source, clock=clock, ttl=TTL, jitter=0, revalidate="describe")
    pending = source.put("db", "v2", stages=["AWSPENDING"])
    assert cache.get_secret_string("db", "AWSPENDING") == "v2"
    source.move_stage("db", AWSCURRENT, pending)  # finishSecret drops AWSPENDING
    clock.advance(TTL)
    with pytest.raises(SecretNotFoundError):
        cache.get_secret_string("db", "AWSPENDING")
    assert source.calls["GetSecretValue"] == 1


def test_next_rotation_date_caps_freshness() -> None:
    source = InMemorySource({"db": "v1"})
    clock = FakeClock()
    cache = SecretCache(source=source, clock=clock, ttl=TTL, jitter=0, revalidate="describe")
    cache.get_secret_string("db")
    source.set_next_rotation("db", 10.0)
    clock.advance(TTL)
    cache.get_secret_string("db")  # revalidated; fresh only until the rotation is due
    assert source.calls["DescribeSecret"] == 1
    source.rotate("db", "v2")
    source.set_next_rotation("db", None)
    clock.advance(10.5)
    assert cache.get_secret_string("db") == "v2"
    assert source.calls["DescribeSecret"] == 2


def test_a_far_rotation_date_does_not_extend_the_ttl() -> None:
    source = InMemorySource({"db": "v1"})
    clock = FakeClock()
    cache = SecretCache(source=source, clock=clock, ttl=TTL, jitter=0, revalidate="describe")
    cache.get_secret_string("db")
    source.set_next_rotation("db", 86400.0)
    clock.advance(TTL)
    cache.get_secret_string("db")
    clock.advance(TTL)
    cache.get_secret_string("db")
    assert source.calls["DescribeSecret"] == 2


def test_describe_is_not_asked_again_once_the_grant_returns() -> None:
    source = InMemorySource({"db": "v1"})
    clock = FakeClock()
    cache = SecretCache(source=source, clock=clock, ttl=TTL, jitter=0, revalidate="describe")
    cache.get_secret_string("db")

    denied = SecretAccessDeniedError("not allowed", code="AccessDeniedException")
    original = source.describe_secret

    def deny(secret_id: str) -> object:
        source.calls["DescribeSecret"] += 1
        raise denied

    source.describe_secret = deny  # type: ignore[method-assign]
    clock.advance(TTL)
    assert cache.get_secret_string("db") == "v1"
    source.describe_secret = original  # type: ignore[method-assign]
    clock.advance(TTL)
    cache.get_secret_string("db")
    assert source.calls == {"GetSecretValue": 3, "DescribeSecret": 1}
