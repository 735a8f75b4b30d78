"""Value objects: no value in any repr or str, frozen, comparable."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from datetime import datetime, timezone

import pytest

from secretcache import CacheStats, RotationEvent, Secret, SecretMetadata


def _secret(canary: str, *, binary: bool = False) -> Secret:
    return Secret(
        secret_id="prod/db",
        name="prod/db",
        arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
        version_id="v" * 36,
        version_stages=("AWSCURRENT",),
        created_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
        secret_string=None if binary else canary,
        secret_binary=canary.encode() if binary else None,
    )


@pytest.mark.parametrize("binary", [False, True])
def test_secret_never_shows_its_value(canary: str, binary: bool) -> None:
    secret = _secret(canary, binary=binary)
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", repr([secret])):
        assert canary not in text
        assert "redacted" in text
        assert "prod/db" in text
    assert secret.value == (canary.encode() if binary else canary)
    assert secret.is_binary is binary


def test_secret_is_frozen_and_compares_by_content(canary: str) -> None:
    secret = _secret(canary)
    with pytest.raises(dataclasses.FrozenInstanceError):
        secret.secret_string = "x"  # type: ignore[misc]
    assert secret == _secret(canary)
    assert secret != _secret(canary + "x")
    assert not hasattr(secret, "__dict__")  # slotted: small per entry


def test_metadata_finds_the_version_for_a_stage() -> None:
    meta = SecretMetadata(
        name="n",
        arn="a",
        version_ids_to_stages={"old": ("AWSPREVIOUS",), "new": ("AWSCURRENT", "AWSPENDING")},
    )
    assert meta.version_for_stage("AWSCURRENT") == "new"
    assert meta.version_for_stage("AWSPREVIOUS") == "old"
    assert meta.version_for_stage("NOPE") is None


def test_rotation_event_and_stats_are_plain_frozen_records() -> None:
    event = RotationEvent("s", "AWSCURRENT", "old", "new")
    assert event == RotationEvent("s", "AWSCURRENT", "old", "new")
    stats = CacheStats(1, 2, 3, 4, 5, 6, 7, {"GetSecretValue": 2})
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.hits = 0  # type: ignore[misc]


def test_stats_export_to_dicts_pickles_and_deep_copies() -> None:
    from secretcache import SecretCache
    from secretcache.testing import FakeClock, InMemorySource

    cache = SecretCache(source=InMemorySource({"s": "v"}), clock=FakeClock())
    cache.get_secret_string("s")
    cache.get_secret_string("s")
    stats = cache.stats()
    exported = dataclasses.asdict(stats)  # what a metrics exporter does
    assert exported["hits"] == 1
    assert exported["misses"] == 1
    assert exported["loads"] == 1
    assert exported["api_calls"] == {"GetSecretValue": 1}
    assert pickle.loads(pickle.dumps(stats)) == stats  # multiprocessing
    assert copy.deepcopy(stats) == stats
    stats.api_calls["GetSecretValue"] = 99  # a snapshot: the cache's own count is apart
    assert cache.stats().api_calls == {"GetSecretValue": 1}


def test_every_stats_field_is_documented() -> None:
    doc = CacheStats.__doc__ or ""
    for field in dataclasses.fields(CacheStats):
        assert f"{field.name}:" in doc, field.name


@pytest.mark.parametrize(
    ("text", "kind"),
    [('"CANARY"', "string"), ("true", "boolean"), ("null", "null"), ("4.5", "number")],
)
def test_a_field_of_a_json_scalar_names_its_kind_not_its_value(text: str, kind: str) -> None:
    from secretcache import SecretCache, SecretFormatError
    from secretcache.testing import FakeClock, InMemorySource

    cache = SecretCache(source=InMemorySource({"s": text}), clock=FakeClock())
    with pytest.raises(SecretFormatError) as caught:
        cache.get_secret_field("s", "password")
    assert kind in str(caught.value)
    assert "CANARY" not in str(caught.value)
