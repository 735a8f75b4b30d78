"""No secret value in a local variable of secretcache's frames on a traceback: SecretCache.

Error trackers record every frame's locals with an exception. For each public entry
point of ``SecretCache`` and each error path (format and field errors, every typed AWS
error, a malformed answer, prefetch, rotation_candidate, on_rotation callbacks) the
exception a user would report is walked by ``framecheck.assert_no_secret_in_frames``.
"""

from __future__ import annotations

import gc
import json
import logging
import sys
import weakref
from typing import TYPE_CHECKING, Any

import pytest
from botocore.stub import Stubber
from framecheck import assert_no_secret_in_frames, raised, secret_locals
from test_hostile_input import READS

from secretcache import (
    SecretCache,
    SecretCacheError,
    SecretDeletedError,
    SecretFieldError,
    SecretFormatError,
    SecretNotFoundError,
    SecretsManagerUnavailableError,
)
from secretcache._core.errors import CODE_TABLE
from secretcache.testing import (
    FaultInjector,
    counting_calls,
    rotate_secret,
    start_rotation,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import FrameType

    from framecheck import World


TTL = 60.0


# -- the check itself can fail --------------------------------------------------------


def _ours_here(frame: FrameType) -> bool:
    return frame.f_code.co_filename == __file__


def test_the_check_finds_a_value_nested_anywhere_in_a_local(canary: str) -> None:
    class Opaque:
        def __repr__(self) -> str:
            return f"Opaque({canary!r})"

    def leaky(kind: str) -> None:
        held: Any = {  # noqa: F841 - the leak under test
            "str": {"a": [("x", canary)]},
            "bytes": {frozenset({canary.encode()})},
            "partial": __import__("functools").partial(print, {"pw": canary}),
            "repr": [Opaque()],
            "exception": ValueError("no", {"doc": canary}),
        }[kind]
        raise RuntimeError(f"{kind} failed")  # ``held`` is on this frame

    for kind in ("str", "bytes", "partial", "repr", "exception"):
        found, checked = secret_locals(raised(leaky, kind), canary, ours=_ours_here)
        assert checked >= 1
        assert any(where.endswith("leaky: held") for where in found), kind


def test_the_check_follows_causes_and_contexts(canary: str) -> None:
    def inner() -> None:
        secret = canary  # noqa: F841 - the leak under test
        raise KeyError("inner")

    def outer() -> None:
        try:
            inner()
        except KeyError:
            raise RuntimeError("outer") from None  # suppressed, yet still __context__

    found, _ = secret_locals(raised(outer), canary, ours=_ours_here)
    assert any(where.endswith("inner: secret") for where in found)
    with pytest.raises(AssertionError, match="no secretcache frame"):
        assert_no_secret_in_frames(raised(outer), canary)


# -- format and field errors ------------------------------------------------------------


def _not_json(w: World) -> list[BaseException]:
    name = w.secret("plain", f"not json: {w.canary}")
    cache = w.make_cache()
    return [raised(cache.get_secret_json, name), raised(cache.get_secret_field, name, "pw")]


def _missing_field(w: World) -> list[BaseException]:
    cache = w.make_cache()
    return [raised(cache.get_secret_field, w.creds(), "host")]


def _not_an_object(w: World) -> list[BaseException]:
    cache = w.make_cache()
    array = w.secret("array", json.dumps([w.canary]))
    text = w.secret("text", json.dumps(w.canary))
    return [raised(cache.get_secret_field, array, "pw"), raised(cache.get_secret_field, text, "x")]


def _binary_as_text(w: World) -> list[BaseException]:
    name = w.secret("blob", w.canary.encode())
    cache = w.make_cache()
    return [raised(cache.get_secret_string, name), raised(cache.get_secret_json, name)]


def _rotated_to_invalid_json(w: World) -> list[BaseException]:
    """The old version's parsed JSON is cached: the new version's failure must not show it."""
    name = w.creds()
    cache = w.make_cache()
    assert cache.get_secret_json(name)["password"] == w.canary
    rotate_secret(w.sm, name, '{"password": oops')
    cache.refresh(name)
    return [raised(cache.get_secret_json, name), raised(cache.get_secret_field, name, "password")]


def _too_deep_to_parse(w: World) -> list[BaseException]:
    deep = "[" * 10_000 + "]" * 10_000
    name = w.secret("deep", f'{{"password": "{w.canary}", "deep": {deep}}}')
    return [raised(w.make_cache().get_secret_json, name)]


def _too_many_digits(w: World) -> list[BaseException]:
    if not hasattr(sys, "get_int_max_str_digits"):  # before 3.10.7 / 3.11: no such limit
        pytest.skip("this Python converts a number of any length")
    name = w.secret("digits", f'{{"password": "{w.canary}", "n": {"7" * 5000}}}')
    return [raised(w.make_cache().get_secret_json, name)]


def _too_deep_to_copy(w: World) -> list[BaseException]:
    """Parsed (and remembered) as usual, then copied under a recursion limit it cannot meet.

    Lowering the limit only for the second read works on every CPython: the copy recurses
    in Python frames, whichever way the version counts json's own (C) recursion.
    """
    depth = 400
    nested = "[" * depth + json.dumps(w.canary) + "]" * depth
    name = w.secret("nested", f'{{"password": "{w.canary}", "deep": {nested}}}')
    cache = w.make_cache()
    assert cache.get_secret_json(name)["password"] == w.canary
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(_stack_depth() + depth // 2)
    try:
        errors = [raised(cache.get_secret_json, name), raised(cache.get_secret_field, name, "deep")]
    finally:
        sys.setrecursionlimit(limit)
    assert all("too deeply to copy" in str(e) for e in errors), errors
    return errors


def _stack_depth() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


FORMAT_CASES: dict[str, Callable[[World], list[BaseException]]] = {
    "not-json": _not_json,
    "missing-field": _missing_field,
    "not-an-object": _not_an_object,
    "binary-as-text": _binary_as_text,
    "rotated-to-invalid-json": _rotated_to_invalid_json,
    "too-deep-to-parse": _too_deep_to_parse,
    "too-many-digits": _too_many_digits,
    "too-deep-to-copy": _too_deep_to_copy,
}


@pytest.mark.parametrize("case", list(FORMAT_CASES))
def test_format_errors_hold_no_value_in_our_frames(world: World, case: str) -> None:
    errors = FORMAT_CASES[case](world)
    assert errors
    assert all(isinstance(e, SecretFormatError) for e in errors)
    if case == "missing-field":
        assert isinstance(errors[0], SecretFieldError)
    for error in errors:
        assert_no_secret_in_frames(error, world.canary)


# -- every typed AWS error, through every getter ----------------------------------------

GETTERS = {name: read for name, read in READS.items() if name != "invalidate"}
_DELETED_MESSAGE = (
    "You can't perform this operation on the secret because it was marked for deletion."
)
FAULTS = [*sorted(CODE_TABLE), "InvalidRequestException-deleted", "connection", "read-timeout"]


def _inject(faults: FaultInjector, fault: str) -> None:
    if fault == "connection":
        faults.connection_error()
    elif fault == "read-timeout":
        faults.read_timeout()
    elif fault == "InvalidRequestException-deleted":
        faults.fail("InvalidRequestException", message=_DELETED_MESSAGE)
    else:
        faults.fail(fault)


def _warm_then_fail(w: World, getter: Callable[[SecretCache, str], object], fault: str) -> list:
    """A value cached, its freshness over (no stale window), then the refresh fails twice."""
    cache = w.make_cache(max_stale=0.0)
    name = w.creds()
    getter(cache, name)
    w.clock.advance(TTL + 1)
    with FaultInjector(w.sm) as faults:
        _inject(faults, fault)
        # The second read falls inside the backoff step: the remembered error, re-raised.
        return [raised(getter, cache, name), raised(getter, cache, name)]


@pytest.mark.parametrize("fault", FAULTS)
def test_every_typed_aws_error_holds_no_value_in_our_frames(world: World, fault: str) -> None:
    for error in _warm_then_fail(world, GETTERS["get_secret_field"], fault):
        assert isinstance(error, SecretCacheError)
        assert_no_secret_in_frames(error, world.canary)


@pytest.mark.parametrize("getter", list(GETTERS))
@pytest.mark.parametrize("fault", ["ThrottlingException", "AccessDeniedException"])
def test_every_getter_holds_no_value_in_our_frames(world: World, getter: str, fault: str) -> None:
    for error in _warm_then_fail(world, GETTERS[getter], fault):
        assert isinstance(error, SecretCacheError)
        assert_no_secret_in_frames(error, world.canary)


def test_describe_mode_deletion_holds_no_value_in_our_frames(world: World) -> None:
    cache = world.make_cache(revalidate="describe")
    name = world.creds()
    assert cache.get_secret_field(name, "password") == world.canary
    world.sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    world.clock.advance(TTL + 1)
    error = raised(cache.get_secret_json, name)
    assert isinstance(error, SecretDeletedError)
    assert_no_secret_in_frames(error, world.canary)


def test_unknown_version_id_holds_no_value_in_our_frames(world: World) -> None:
    cache = world.make_cache()
    name = world.creds()
    cache.get_secret_string(name)
    error = raised(cache.get_secret_string, name, version_id="0" * 40)
    assert isinstance(error, SecretNotFoundError)
    assert_no_secret_in_frames(error, world.canary)


@pytest.mark.parametrize("answer", ["no-version-id", "another-secret"])
def test_a_malformed_answer_holds_no_value_in_our_frames(world: World, answer: str) -> None:
    """Secrets Manager's answer carries a value, but not one the cache may store."""
    response: dict[str, Any] = {"Name": "db", "SecretString": world.canary}
    if answer == "another-secret":
        response.update(Name="other", VersionId="v" * 32)
    cache = world.make_cache()
    with Stubber(world.sm) as stub:
        stub.add_response("get_secret_value", response)
        error = raised(cache.get_secret_string, "db")
    assert isinstance(error, SecretsManagerUnavailableError)
    assert error.code == "MalformedResponse"
    assert_no_secret_in_frames(error, world.canary)


# -- rotation_candidate, prefetch, on_rotation ---------------------------------------------


def test_rotation_candidate_errors_hold_no_value_in_our_frames(world: World) -> None:
    cache = world.make_cache()
    name = world.creds()
    failed = cache.get_secret(name).version_id
    start_rotation(world.sm, name, json.dumps({"password": world.canary + "-next"}))
    with FaultInjector(world.sm) as faults:
        faults.fail("AccessDeniedException")
        error = raised(cache.rotation_candidate, name, failed)
    assert isinstance(error, SecretCacheError)
    assert_no_secret_in_frames(error, world.canary)


def test_prefetch_errors_hold_no_value_in_our_frames(world: World) -> None:
    cache = world.make_cache()
    name = world.creds()
    with FaultInjector(world.sm) as faults:
        # A denied batch falls back to one read per id: the missing id's error is kept.
        faults.fail("AccessDeniedException", operation="BatchGetSecretValue")
        found = cache.prefetch([name, "missing"])
    assert cache.get_secret_field(name, "password") == world.canary
    assert isinstance(found["missing"], SecretNotFoundError)
    assert_no_secret_in_frames(found["missing"], world.canary)
    with FaultInjector(world.sm) as faults:
        faults.fail("ThrottlingException", operation="BatchGetSecretValue")
        error = raised(cache.prefetch, filters=[{"Key": "name", "Values": ["db"]}])
    assert isinstance(error, SecretCacheError)
    assert_no_secret_in_frames(error, world.canary)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def secretcache_log() -> Iterator[_Records]:
    """What secretcache logs (an error tracker's logging integration reports ERRORs)."""
    handler = _Records()
    logger = logging.getLogger("secretcache")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def test_a_failing_on_rotation_callback_is_logged_with_no_value_in_our_frames(
    world: World, secretcache_log: _Records
) -> None:
    def callback(event: object) -> None:
        raise RuntimeError("the callback broke")

    cache = world.make_cache(on_rotation=callback)
    name = world.creds()
    cache.get_secret_json(name)
    rotate_secret(world.sm, name, json.dumps({"password": world.canary + "-2"}))
    cache.refresh(name)
    logged = [r.exc_info[1] for r in secretcache_log.records if r.exc_info and r.exc_info[1]]
    assert len(logged) == 1
    assert_no_secret_in_frames(logged[0], world.canary)


def test_a_remembered_error_keeps_no_frame_alive(world: World) -> None:
    """The failure memory re-raises copies; it holds no traceback (nor the caller's locals)."""

    class Held:
        """Stands for anything a caller's frame holds (its own secrets, say)."""

    cache = world.make_cache()
    held: list[weakref.ref[Held]] = []

    def handler() -> None:
        local = Held()
        held.append(weakref.ref(local))
        cache.get_secret("missing")

    error = raised(handler)
    assert isinstance(error, SecretNotFoundError)
    del error
    gc.collect()
    assert held[0]() is None
    with counting_calls(world.sm) as calls:
        again = raised(cache.get_secret, "missing")  # inside the backoff step: remembered
    assert isinstance(again, SecretNotFoundError)
    assert calls == {}
