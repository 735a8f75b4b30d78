"""Reads through SecretCache on moto: hits, stages, VersionIds, JSON, fields, binary, size."""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING

import pytest

from secretcache import (
    AWSCURRENT,
    AWSPREVIOUS,
    SecretCache,
    SecretFieldError,
    SecretFormatError,
    SecretNotFoundError,
)
from secretcache.testing import FakeClock, InMemorySource, counting_calls, rotate_secret

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_secretsmanager import SecretsManagerClient

DB = {"username": "app", "password": "p1", "port": 5432, "hosts": ["a", "b"]}


@pytest.fixture
def db_secret(sm: SecretsManagerClient) -> str:
    sm.create_secret(Name="prod/db", SecretString=json.dumps(DB))
    return "prod/db"


def test_first_read_costs_one_call_and_hits_cost_none(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache], db_secret: str
) -> None:
    cache = make_cache()
    with counting_calls(sm) as calls:
        first = cache.get_secret_string(db_secret)
        assert calls == {"GetSecretValue": 1}
        for _ in range(50):
            assert cache.get_secret_string(db_secret) == first
            cache.get_secret(db_secret)
            cache.get_secret_json(db_secret)
            cache.get_secret_field(db_secret, "password")
            cache.get_secret_binary(db_secret)
    assert calls == {"GetSecretValue": 1}
    stats = cache.stats()
    assert stats.api_calls == {"GetSecretValue": 1}
    assert stats.misses == 1
    assert stats.hits == 250
    assert stats.size == 1


def test_secret_carries_its_metadata(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache], db_secret: str
) -> None:
    described = sm.describe_secret(SecretId=db_secret)
    secret = make_cache().get_secret(db_secret)
    assert secret.secret_id == db_secret
    assert secret.name == db_secret
    assert secret.arn == described["ARN"]
    assert secret.version_stages == (AWSCURRENT,)
    assert secret.version_id in described["VersionIdsToStages"]
    assert secret.created_date is not None
    assert json.loads(secret.secret_string or "") == DB
    assert not secret.is_binary


def test_arn_and_name_are_separate_keys_with_the_same_value(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache], db_secret: str
) -> None:
    arn = sm.describe_secret(SecretId=db_secret)["ARN"]
    cache = make_cache()
    assert cache.get_secret_json(arn) == cache.get_secret_json(db_secret) == DB
    assert cache.get_secret(arn).secret_id == arn


def test_stages_and_version_ids_never_answer_for_each_other(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache], db_secret: str
) -> None:
    (old_version,) = sm.describe_secret(SecretId=db_secret)["VersionIdsToStages"]
    new_version = rotate_secret(sm, db_secret, json.dumps({**DB, "password": "p2"}))
    cache = make_cache()
    with counting_calls(sm) as calls:
        assert cache.get_secret_field(db_secret, "password", AWSPREVIOUS) == "p1"
        assert cache.get_secret_field(db_secret, "password") == "p2"
        assert cache.get_secret_field(db_secret, "password", version_id=old_version) == "p1"
        assert cache.get_secret_field(db_secret, "password", version_id=new_version) == "p2"
        assert cache.get_secret(db_secret, version_id=new_version).version_id == new_version
    assert calls == {"GetSecretValue": 4}
    assert cache.get_secret(db_secret, AWSPREVIOUS).version_id == old_version
    assert cache.get_secret(db_secret, AWSCURRENT).version_id == new_version
    assert cache.stats().size == 4


def test_every_request_names_a_stage_or_a_version(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache], db_secret: str
) -> None:
    sent: list[dict[str, object]] = []
    sm.meta.events.register(
        "provide-client-params.secrets-manager.GetSecretValue",
        lambda params, **_: sent.append(dict(params)),
    )
    cache = make_cache()
    version = cache.get_secret(db_secret).version_id
    cache.get_secret(db_secret, version_id=version)
    assert sent == [
        {"SecretId": db_secret, "VersionStage": AWSCURRENT},
        {"SecretId": db_secret, "VersionId": version},
    ]


def test_unknown_stage_and_version_are_not_found(
    make_cache: Callable[..., SecretCache], db_secret: str
) -> None:
    cache = make_cache()
    with pytest.raises(SecretNotFoundError) as stage:
        cache.get_secret(db_secret, "AWSPENDING")
    assert stage.value.version_stage == "AWSPENDING"
    with pytest.raises(SecretNotFoundError) as version:
        cache.get_secret(db_secret, version_id="0" * 36)
    assert version.value.version_id == "0" * 36


def test_binary_secret_comes_back_as_bytes(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache]
) -> None:
    blob = bytes(range(256))
    sm.create_secret(Name="blob", SecretBinary=blob)
    cache = make_cache()
    assert cache.get_secret_binary("blob") == blob
    secret = cache.get_secret("blob")
    assert secret.is_binary
    assert secret.value == blob
    with pytest.raises(SecretFormatError) as err:
        cache.get_secret_string("blob")
    assert err.value.code == "SecretIsBinary"
    with pytest.raises(SecretFormatError):
        cache.get_secret_json("blob")


def test_string_secret_as_binary_is_utf8(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache]
) -> None:
    sm.create_secret(Name="text", SecretString="pässword")
    assert make_cache().get_secret_binary("text") == "pässword".encode()


def test_json_and_fields(make_cache: Callable[..., SecretCache], db_secret: str) -> None:
    cache = make_cache()
    assert cache.get_secret_json(db_secret) == DB
    assert cache.get_secret_field(db_secret, "port") == 5432
    with pytest.raises(SecretFieldError) as missing:
        cache.get_secret_field(db_secret, "nope")
    assert isinstance(missing.value, LookupError)
    assert "nope" in str(missing.value)


def test_callers_may_mutate_what_they_get(
    make_cache: Callable[..., SecretCache], db_secret: str
) -> None:
    cache = make_cache()
    first = cache.get_secret_json(db_secret)
    first["password"] = "changed"
    first["hosts"].append("evil")
    hosts = cache.get_secret_field(db_secret, "hosts")
    hosts.clear()
    assert cache.get_secret_json(db_secret) == DB
    assert cache.get_secret_field(db_secret, "hosts") == ["a", "b"]


def test_json_is_parsed_once_per_version(monkeypatch: pytest.MonkeyPatch) -> None:
    from secretcache._core import parse as _parse

    parses: list[str] = []
    real = _parse.parse_json

    def counting(secret: object) -> object:
        parses.append("x")
        return real(secret)  # type: ignore[arg-type]

    monkeypatch.setattr(_parse, "parse_json", counting)
    source = InMemorySource({"s": json.dumps(DB)})
    clock = FakeClock()
    cache = SecretCache(source=source, clock=clock, ttl=10, jitter=0)
    for _ in range(5):
        cache.get_secret_json("s")
        cache.get_secret_field("s", "username")
    clock.advance(11)  # revalidated, same version: still no second parse
    cache.get_secret_json("s")
    assert len(parses) == 1
    source.rotate("s", json.dumps({**DB, "password": "p2"}))
    clock.advance(11)
    assert cache.get_secret_field("s", "password") == "p2"
    assert len(parses) == 2


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('{"password": "CANARY-broken', SecretFormatError),
        ('["CANARY-in-a-list"]', SecretFormatError),
        ("CANARY-plain-text", SecretFormatError),
    ],
)
def test_json_errors_never_quote_the_value(
    sm: SecretsManagerClient,
    make_cache: Callable[..., SecretCache],
    text: str,
    error: type[Exception],
) -> None:
    sm.create_secret(Name="odd", SecretString=text)
    cache = make_cache()
    with pytest.raises(error) as caught:
        cache.get_secret_field("odd", "password")
    assert "CANARY" not in str(caught.value)
    assert "CANARY" not in repr(caught.value)
    assert caught.value.__cause__ is None or "CANARY" not in str(caught.value.__cause__)


def test_max_size_bounds_the_entries() -> None:
    source = InMemorySource({f"s{i}": f"v{i}" for i in range(20)})
    cache = SecretCache(source=source, clock=FakeClock(), max_size=5)
    for i in range(20):
        assert cache.get_secret_string(f"s{i}") == f"v{i}"
        assert cache.stats().size <= 5
    assert cache.stats().size == 5
    # The most recent entries survive; an evicted one is simply read again.
    assert cache.get_secret_string("s19") == "v19"
    assert source.calls["GetSecretValue"] == 20
    assert cache.get_secret_string("s0") == "v0"
    assert source.calls["GetSecretValue"] == 21


def test_hot_entries_survive_eviction() -> None:
    source = InMemorySource({f"s{i}": f"v{i}" for i in range(10)})
    cache = SecretCache(source=source, clock=FakeClock(), max_size=3)
    for i in range(10):
        cache.get_secret_string("s0")  # hot: read before every other miss
        cache.get_secret_string(f"s{i}")
    before = source.calls["GetSecretValue"]
    cache.get_secret_string("s0")
    assert source.calls["GetSecretValue"] == before


def test_invalidate_one_secret_or_all(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache], db_secret: str
) -> None:
    sm.create_secret(Name="other", SecretString="x")
    cache = make_cache()
    cache.get_secret(db_secret)
    cache.get_secret(db_secret, AWSCURRENT)
    cache.get_secret("other")
    with counting_calls(sm) as calls:
        cache.invalidate(db_secret)
        cache.get_secret("other")
        assert calls == {}
        cache.get_secret(db_secret)
        assert calls == {"GetSecretValue": 1}
        cache.invalidate()
        assert cache.stats().size == 0
        cache.get_secret("other")
    assert calls == {"GetSecretValue": 2}


def test_hits_plus_misses_equals_reads() -> None:
    source = InMemorySource({"a": "1", "b": b"\x00"})
    clock = FakeClock()
    cache = SecretCache(source=source, clock=clock, ttl=10, jitter=0)
    reads = 0
    for step in range(30):
        for call in (
            lambda: cache.get_secret_string("a"),
            lambda: cache.get_secret_binary("b"),
            lambda: cache.get_secret_string("b"),  # raises SecretFormatError
            lambda: cache.get_secret("missing"),  # raises SecretNotFoundError
        ):
            reads += 1
            with contextlib.suppress(SecretFormatError, SecretNotFoundError):
                call()
        clock.advance(step % 3)
    stats = cache.stats()
    assert stats.hits + stats.misses == reads
    assert stats.hits > stats.misses > 0


def test_context_manager_closes_and_cache_stays_usable() -> None:
    source = InMemorySource({"a": "1"})
    with SecretCache(source=source, clock=FakeClock()) as cache:
        cache.get_secret_string("a")
        assert cache.stats().size == 1
    assert cache.stats().size == 0
    assert cache.get_secret_string("a") == "1"
