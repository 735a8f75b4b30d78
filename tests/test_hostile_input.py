"""Hostile input: bad ids, stages, VersionIds, values and settings fail at once, typed.

Misuse of the API is a plain TypeError/ValueError raised before any API call; a value
that is not what was asked for is a SecretFormatError. After each, the same cache
still serves other keys.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import TYPE_CHECKING, Any

import pytest

from secretcache import (
    SecretCache,
    SecretFormatError,
    SecretNotFoundError,
    inject_secret,
)
from secretcache.testing import FakeClock, InMemorySource

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

DEEP_LIST = "[" * 10_000 + "]" * 10_000
DEEP_OBJECT = '{"a":' * 10_000 + "1" + "}" * 10_000
MAX_TEXT = 65_536  # Secrets Manager's maximum SecretString size, in bytes

VALUES: dict[str, str | bytes] = {
    "ok": "fine",
    "list": "[1, 2, 3]",
    "number": "42",
    "deep-list": DEEP_LIST,
    "deep-object": DEEP_OBJECT,
    "big-json": json.dumps({"blob": "x" * (MAX_TEXT - 20)}),
    "big-text": "y" * MAX_TEXT,
    "bad-utf8": b"\xff\xfe\x00not utf-8\xc3\x28",
    "long-number": '{"n": ' + "9" * 5000 + "}",
    "nested-985": "[" * 985 + "]" * 985,
}


@pytest.fixture
def source() -> InMemorySource:
    return InMemorySource(VALUES)


@pytest.fixture
def cache(source: InMemorySource) -> Iterator[SecretCache]:
    with SecretCache(source=source, clock=FakeClock(), ttl=60.0) as built:
        yield built


def still_usable(cache: SecretCache, source: InMemorySource, calls_before: int) -> None:
    """The bad call made no API call, and another key still reads fine."""
    assert sum(source.calls.values()) == calls_before
    assert cache.get_secret_string("ok") == "fine"


BAD_IDS: list[tuple[Any, type[Exception]]] = [
    ("", ValueError),
    ("   ", ValueError),
    ("\t\n", ValueError),
    ("x" * 2049, ValueError),
    (None, TypeError),
    (b"prod/db", TypeError),
    (42, TypeError),
    ("prod/\x00db", ValueError),
    ("prod/db\n", ValueError),
    ("prod/\x1bdb", ValueError),
    ("prod/\x7fdb", ValueError),
]

READS: dict[str, Callable[[SecretCache, Any], Any]] = {
    "get_secret": lambda c, sid: c.get_secret(sid),
    "get_secret_string": lambda c, sid: c.get_secret_string(sid),
    "get_secret_binary": lambda c, sid: c.get_secret_binary(sid),
    "get_secret_json": lambda c, sid: c.get_secret_json(sid),
    "get_secret_field": lambda c, sid: c.get_secret_field(sid, "password"),
    "refresh": lambda c, sid: c.refresh(sid),
    "invalidate": lambda c, sid: c.invalidate(sid),
    "rotation_candidate": lambda c, sid: c.rotation_candidate(sid, "v" * 32),
}


# invalidate(None) is valid: it means "everything".
ID_CASES = [
    pytest.param(read, sid, error, id=f"{read}-id{n}")
    for read in sorted(READS)
    for n, (sid, error) in enumerate(BAD_IDS)
    if not (read == "invalidate" and sid is None)
]


@pytest.mark.parametrize(("read", "secret_id", "error"), ID_CASES)
def test_bad_secret_ids_fail_at_once(
    cache: SecretCache,
    source: InMemorySource,
    read: str,
    secret_id: Any,
    error: type[Exception],
) -> None:
    cache.get_secret_string("ok")
    before = sum(source.calls.values())
    with pytest.raises(error, match="secret_id"):
        READS[read](cache, secret_id)
    still_usable(cache, source, before)


@pytest.mark.parametrize("read", sorted(READS))
def test_unhashable_secret_id_gets_the_same_clear_error(
    cache: SecretCache, source: InMemorySource, read: str
) -> None:
    """Even the inlined hit paths explain an unhashable id (they once did not)."""
    before = sum(source.calls.values())
    with pytest.raises(TypeError, match="secret_id must be a str"):
        READS[read](cache, ["prod/db"])
    still_usable(cache, source, before)


def test_the_async_hit_path_explains_an_unhashable_id_too() -> None:
    from secretcache.aio import AsyncSecretCache

    cache = AsyncSecretCache(source=_NoSource(), clock=FakeClock())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="secret_id must be a str"):
        asyncio.run(cache.get_secret(["prod/db"]))  # type: ignore[arg-type]


class _NoSource:
    """An async source never reached: argument checks fail first."""

    async def get_secret_value(self, secret_id: str, **kwargs: Any) -> Any:
        raise AssertionError("the source was called")


def test_longest_valid_id_passes_the_checks(cache: SecretCache) -> None:
    with pytest.raises(SecretNotFoundError):
        cache.get_secret("x" * 2048)


@pytest.mark.parametrize(
    ("stage", "error"),
    [("", ValueError), ("s" * 257, ValueError), (" AWSCURRENT", ValueError), (None, TypeError)],
    ids=["empty", "257-chars", "padded", "none"],
)
def test_bad_stages_fail_at_once(
    cache: SecretCache, source: InMemorySource, stage: Any, error: type[Exception]
) -> None:
    before = sum(source.calls.values())
    with pytest.raises(error, match="version_stage"):
        cache.get_secret("ok", stage)
    with pytest.raises(error, match="version_stage"):
        cache.refresh("ok", stage)
    still_usable(cache, source, before)


def test_longest_valid_stage_passes_the_checks(cache: SecretCache) -> None:
    with pytest.raises(SecretNotFoundError):
        cache.get_secret("ok", "s" * 256)


@pytest.mark.parametrize(
    ("version_id", "error"),
    [
        ("abc", ValueError),
        ("v" * 65, ValueError),
        ("has space " * 4, ValueError),
        ("é" * 40, ValueError),
        (b"0" * 36, TypeError),
        (12345, TypeError),
    ],
    ids=["short", "65-chars", "spaces", "non-ascii", "bytes", "int"],
)
def test_malformed_version_ids_fail_at_once(
    cache: SecretCache, source: InMemorySource, version_id: Any, error: type[Exception]
) -> None:
    before = sum(source.calls.values())
    with pytest.raises(error, match="version_id"):
        cache.get_secret("ok", version_id=version_id)
    still_usable(cache, source, before)


def test_field_name_of_wrong_type(cache: SecretCache, source: InMemorySource) -> None:
    before = sum(source.calls.values())
    with pytest.raises(TypeError, match="field"):
        cache.get_secret_field("ok", 5)  # type: ignore[arg-type]
    still_usable(cache, source, before)


# -- values that are not what was asked for ------------------------------------------


@pytest.mark.parametrize(("name", "parsed"), [("list", [1, 2, 3]), ("number", 42)])
def test_json_that_is_not_an_object(
    cache: SecretCache, source: InMemorySource, name: str, parsed: Any
) -> None:
    assert cache.get_secret_json(name) == parsed  # valid JSON: returned as is
    with pytest.raises(SecretFormatError, match="not an object") as raised:
        cache.get_secret_field(name, "password")
    assert raised.value.secret_id == name
    still_usable(cache, source, sum(source.calls.values()))


@pytest.mark.parametrize("name", ["deep-list", "deep-object"])
def test_json_nested_ten_thousand_levels(
    cache: SecretCache, source: InMemorySource, name: str
) -> None:
    with pytest.raises(SecretFormatError, match="nested too deeply") as raised:
        cache.get_secret_json(name)
    assert len(str(raised.value)) < 200
    with pytest.raises(SecretFormatError):
        cache.get_secret_field(name, "a")
    assert cache.get_secret_string(name) == VALUES[name]  # the raw text is still there
    still_usable(cache, source, sum(source.calls.values()))


def test_largest_secret_string(cache: SecretCache, source: InMemorySource) -> None:
    assert len(cache.get_secret_json("big-json")["blob"]) == MAX_TEXT - 20
    assert cache.get_secret_string("big-text") == "y" * MAX_TEXT
    with pytest.raises(SecretFormatError, match="not valid JSON") as raised:
        cache.get_secret_json("big-text")
    assert "yyy" not in str(raised.value)  # where parsing failed, never the text
    still_usable(cache, source, sum(source.calls.values()))


def test_invalid_utf8_binary_asked_as_string(cache: SecretCache, source: InMemorySource) -> None:
    assert cache.get_secret_binary("bad-utf8") == VALUES["bad-utf8"]
    for read in (cache.get_secret_string, cache.get_secret_json):
        with pytest.raises(SecretFormatError, match="SecretBinary"):
            read("bad-utf8")
    with pytest.raises(SecretFormatError):
        cache.get_secret_field("bad-utf8", "x")
    still_usable(cache, source, sum(source.calls.values()))


# -- settings ------------------------------------------------------------------------

BAD_SETTINGS: list[tuple[dict[str, Any], type[Exception]]] = [
    ({"ttl": -1}, ValueError),
    ({"ttl": math.nan}, ValueError),
    ({"ttl": math.inf}, ValueError),
    ({"ttl": "60"}, TypeError),
    ({"ttl": True}, TypeError),
    ({"jitter": -0.1}, ValueError),
    ({"jitter": 1.0}, ValueError),
    ({"jitter": math.nan}, ValueError),
    ({"jitter": "0.1"}, TypeError),
    ({"max_size": 0}, ValueError),
    ({"max_size": -5}, ValueError),
    ({"max_size": 10.0}, TypeError),
    ({"max_size": math.inf}, TypeError),
    ({"max_size": True}, TypeError),
    ({"max_stale": -1}, ValueError),
    ({"max_stale": math.nan}, ValueError),
    ({"max_stale": math.inf}, ValueError),
    ({"max_stale": "900"}, TypeError),
    ({"revalidate": "sometimes"}, ValueError),
    ({"clock": 5}, TypeError),
    ({"on_rotation": "print"}, TypeError),
    ({"refresh_ahead": "yes"}, TypeError),
    ({"client": object(), "source": InMemorySource()}, TypeError),
]


@pytest.mark.parametrize(
    ("kwargs", "error"), BAD_SETTINGS, ids=[repr(k)[:40] for k, _ in BAD_SETTINGS]
)
def test_bad_settings_fail_at_construction(kwargs: dict[str, Any], error: type[Exception]) -> None:
    kwargs.setdefault("source", InMemorySource())
    with pytest.raises(error):
        SecretCache(**kwargs)


@pytest.mark.parametrize("raw", ["abc", "-5", "nan", "inf"])
def test_bad_ttl_in_the_environment(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("SECRETCACHE_TTL", raw)
    with pytest.raises(ValueError, match="SECRETCACHE_TTL"):
        SecretCache(source=InMemorySource())


def test_zero_ttl_and_zero_stale_mean_always_ask(source: InMemorySource) -> None:
    """Zero is meaningful where it is allowed: no caching, no stale window."""
    with SecretCache(source=source, ttl=0, jitter=0, max_stale=0, clock=FakeClock()) as cache:
        for _ in range(3):
            assert cache.get_secret_string("ok") == "fine"
    assert source.calls == {"GetSecretValue": 3}


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"secret_id": "", "into": "password"}, ValueError),
        ({"secret_id": None, "into": "password"}, TypeError),
        ({"secret_id": "db", "into": "password", "version_stage": ""}, ValueError),
        ({"secret_id": "db", "into": "password", "transform": "yaml"}, ValueError),
        ({"secret_id": "db", "into": "missing"}, TypeError),
        ({"secret_id": "db"}, TypeError),
    ],
    ids=["empty-id", "none-id", "empty-stage", "transform", "no-such-param", "no-target"],
)
def test_inject_secret_misuse_fails_at_decoration(
    kwargs: dict[str, Any], error: type[Exception], cache: SecretCache, source: InMemorySource
) -> None:
    def handler(password: str = "") -> str:
        return password

    with pytest.raises(error):
        inject_secret(cache=cache, **kwargs)(handler)
    still_usable(cache, source, sum(source.calls.values()))


def test_a_number_too_long_to_convert_is_a_format_error(
    cache: SecretCache, source: InMemorySource
) -> None:
    for read in (cache.get_secret_json, lambda sid: cache.get_secret_field(sid, "n")):
        with pytest.raises(SecretFormatError, match="too many digits") as raised:
            read("long-number")
        assert "9999" not in str(raised.value)
    still_usable(cache, source, sum(source.calls.values()))


def test_json_nested_almost_too_deep_is_a_format_error_when_injected(
    cache: SecretCache, source: InMemorySource
) -> None:
    @inject_secret("nested-985", into="doc", transform="json", cache=cache)
    def handler(doc: Any = None) -> Any:
        return doc

    @inject_secret("long-number", into="n", field="n", cache=cache)
    def field_handler(n: Any = None) -> Any:
        return n

    # Parsing may succeed where copying the result for the caller recurses too deep.
    for call in (handler, field_handler):
        with pytest.raises(SecretFormatError) as raised:
            call()
        assert "[[[" not in str(raised.value)
        assert "9999" not in str(raised.value)
