"""Rotation: visible after the TTL and not before, one RotationEvent, refresh() semantics."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from secretcache import AWSCURRENT, AWSPREVIOUS, RotationEvent, SecretCache
from secretcache.testing import FakeClock, InMemorySource, counting_calls, rotate_secret

if TYPE_CHECKING:
    from collections.abc import Callable

    import pytest
    from mypy_boto3_secretsmanager import SecretsManagerClient


def test_rotation_is_visible_after_the_ttl_not_before(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    sm.create_secret(Name="api", SecretString="v1")
    events: list[RotationEvent] = []
    cache = make_cache(ttl=60.0, on_rotation=events.append)
    old = cache.get_secret("api").version_id
    new = rotate_secret(sm, "api", "v2")
    clock.advance(59.9)
    assert cache.get_secret_string("api") == "v1"
    assert events == []
    clock.advance(0.2)
    assert cache.get_secret_string("api") == "v2"
    assert events == [RotationEvent("api", AWSCURRENT, old, new)]
    for _ in range(3):
        clock.advance(61)
        assert cache.get_secret_string("api") == "v2"
    assert len(events) == 1
    assert cache.stats().rotations == 1


def test_jitter_spreads_expiry_within_the_ttl() -> None:
    source = InMemorySource({f"s{i}": "v" for i in range(50)})
    clock = FakeClock()
    # cold_jitter=0: first loads are drawn like refreshes (tests/test_fleet_spread.py).
    cache = SecretCache(source=source, clock=clock, ttl=100, jitter=0.5, cold_jitter=0)
    for i in range(50):
        cache.get_secret_string(f"s{i}")
    clock.advance(49.9)
    for i in range(50):
        cache.get_secret_string(f"s{i}")
    assert source.calls["GetSecretValue"] == 50  # nothing expires before ttl*(1-jitter)
    clock.advance(50.2)
    for i in range(50):
        cache.get_secret_string(f"s{i}")
    assert source.calls["GetSecretValue"] == 100  # everything expired by ttl


def test_same_version_is_not_a_rotation() -> None:
    source = InMemorySource({"s": "v"})
    clock = FakeClock()
    events: list[RotationEvent] = []
    cache = SecretCache(source=source, clock=clock, ttl=1, jitter=0, on_rotation=events.append)
    first = cache.get_secret("s")
    clock.advance(2)
    assert cache.get_secret("s") is first
    assert events == []
    assert cache.stats().refreshes == 1


def test_refresh_reports_whether_the_version_changed(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache]
) -> None:
    sm.create_secret(Name="api", SecretString="v1")
    events: list[RotationEvent] = []
    cache = make_cache()
    cache.on_rotation(events.append)
    assert cache.refresh("api") is False  # nothing cached: nothing changed
    assert cache.refresh("api") is False
    rotate_secret(sm, "api", "v2")
    with counting_calls(sm) as calls:
        assert cache.refresh("api") is True
    assert calls == {"GetSecretValue": 1}
    assert cache.get_secret_string("api") == "v2"
    assert cache.refresh("api") is False
    assert len(events) == 1


def test_rotation_moves_the_other_stages_too(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache]
) -> None:
    sm.create_secret(Name="api", SecretString="v1")
    rotate_secret(sm, "api", "v2")
    cache = make_cache()
    assert cache.get_secret_string("api", AWSPREVIOUS) == "v1"
    assert cache.get_secret_string("api") == "v2"
    rotate_secret(sm, "api", "v3")
    assert cache.refresh("api") is True
    # AWSPREVIOUS moved with it: it is revalidated on its next read.
    assert cache.get_secret_string("api", AWSPREVIOUS) == "v2"


def test_parsed_json_follows_the_rotation(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    sm.create_secret(Name="db", SecretString=json.dumps({"password": "p1"}))
    cache = make_cache()
    assert cache.get_secret_field("db", "password") == "p1"
    rotate_secret(sm, "db", json.dumps({"password": "p2"}))
    clock.advance(61)
    assert cache.get_secret_field("db", "password") == "p2"
    assert cache.get_secret_json("db") == {"password": "p2"}


def test_a_failing_callback_does_not_break_the_read(
    sm: SecretsManagerClient,
    make_cache: Callable[..., SecretCache],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sm.create_secret(Name="api", SecretString="v1")
    seen: list[RotationEvent] = []

    def broken(event: RotationEvent) -> None:
        raise RuntimeError("callback bug")

    cache = make_cache(on_rotation=broken)

    @cache.on_rotation
    def record(event: RotationEvent) -> None:
        seen.append(event)

    cache.get_secret("api")
    rotate_secret(sm, "api", "v2")
    clock.advance(61)
    with caplog.at_level(logging.ERROR, logger="secretcache"):
        assert cache.get_secret_string("api") == "v2"
    assert len(seen) == 1
    assert "callback" in caplog.text


def test_version_id_reads_never_rotate(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache], clock: FakeClock
) -> None:
    sm.create_secret(Name="api", SecretString="v1")
    events: list[RotationEvent] = []
    cache = make_cache(on_rotation=events.append)
    version = cache.get_secret("api").version_id
    rotate_secret(sm, "api", "v2")
    clock.advance(61)
    assert cache.get_secret_string("api", version_id=version) == "v1"
    assert events == []
