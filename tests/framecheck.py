"""Find secret values in the local variables of secretcache's frames on a traceback.

Error trackers (Sentry, Rollbar, Honeybadger, rich's tracebacks) record each frame's
local variables when an exception is reported. ``assert_no_secret_in_frames(exc, canary)``
walks everything a tracker walks (``tb_next``, then ``__cause__`` and ``__context__``,
recursively; exception groups too) and fails if a frame whose code is secretcache's holds
the canary in a local: as a str or bytes, anywhere inside a container (dict, list, tuple,
set, ``functools.partial``, an exception's args and attributes), or in the repr of any
other object (what a tracker shows for it).

To cover a new integration, add one scenario that returns the exception a user would
report (``raised(...)`` / ``raised_async(...)``) to a parametrized test and call
``assert_no_secret_in_frames`` on it; ``World`` (the ``world`` fixture) sets a canary
secret up on moto.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import functools
import json
import os
from collections import deque
from collections.abc import ItemsView, KeysView, Mapping, ValuesView
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

import secretcache

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator
    from types import FrameType

    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache import SecretCache
    from secretcache.testing import FakeClock

PACKAGE_DIR = os.path.dirname(os.path.realpath(secretcache.__file__)) + os.sep
_MAX_DEPTH = 64
_SEQUENCES = (list, tuple, set, frozenset, deque, KeysView, ValuesView, ItemsView)
_GROUPS: tuple[type[BaseException], ...] = tuple(
    group for group in [getattr(builtins, "BaseExceptionGroup", None)] if group is not None
)  # Python 3.11+


def is_ours(frame: FrameType) -> bool:
    """Return True for a frame running code of the secretcache package."""
    return os.path.realpath(frame.f_code.co_filename).startswith(PACKAGE_DIR)


def frame_name(frame: FrameType) -> str:
    """Return ``module.function`` for a frame (the qualified name where Python has one)."""
    code = frame.f_code
    return f"{frame.f_globals.get('__name__')}.{getattr(code, 'co_qualname', code.co_name)}"


class Needles:
    """The forms of a canary a leak may take: text, UTF-8 bytes, base64."""

    def __init__(self, canary: str) -> None:
        encoded = canary.encode()
        self.texts = (canary, base64.b64encode(encoded).decode())
        self.blobs = (encoded,)

    def in_text(self, text: str) -> bool:
        return any(needle in text for needle in self.texts)

    def holds(self, value: object, seen: set[int] | None = None, depth: int = 0) -> bool:
        """Return True if ``value``, or anything inside it, shows the canary."""
        if isinstance(value, str):
            return self.in_text(value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            raw = bytes(value)
            return any(needle in raw for needle in self.blobs)
        seen = set() if seen is None else seen
        if id(value) in seen or depth > _MAX_DEPTH:
            return False
        seen.add(id(value))
        parts = _parts(value)
        if parts is not None:
            return any(self.holds(part, seen, depth + 1) for part in parts)
        try:
            text = repr(value)
        except Exception:  # a broken repr shows nothing (trackers print a placeholder)
            return False
        return self.in_text(text)


def _parts(value: object) -> list[Any] | None:
    """Return what a container holds (None for a leaf, which is judged by its repr)."""
    if isinstance(value, Mapping):
        return [part for pair in list(value.items()) for part in pair]
    if isinstance(value, _SEQUENCES):
        return list(value)
    if isinstance(value, functools.partial):
        return [value.func, value.args, value.keywords]
    if isinstance(value, BaseException):
        # Trackers show an exception's repr; its attributes (JSONDecodeError.doc holds
        # the whole document) are one careless serializer away.
        return [repr(value), value.args, dict(getattr(value, "__dict__", {}))]
    return None


def exceptions(exc: BaseException) -> Iterator[BaseException]:
    """Yield ``exc`` and every exception chained to it (causes, contexts, groups)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__]
        if isinstance(current, _GROUPS):
            todo += current.exceptions


def tracebacks(exc: BaseException) -> Iterator[FrameType]:
    """Yield every frame on the tracebacks of ``exc`` and its chained exceptions."""
    for current in exceptions(exc):
        tb = current.__traceback__
        while tb is not None:
            yield tb.tb_frame
            tb = tb.tb_next


def secret_locals(
    exc: BaseException, canary: str, *, ours: Callable[[FrameType], bool] = is_ours
) -> tuple[list[str], int]:
    """Return (``module.function: variable`` of each leak, how many of our frames were seen)."""
    needles = Needles(canary)
    found: list[str] = []
    checked = 0
    for frame in tracebacks(exc):
        if not ours(frame):
            continue
        checked += 1
        for name, value in dict(frame.f_locals).items():
            if needles.holds(value):
                found.append(f"{frame_name(frame)}: {name}")
    return found, checked


def assert_no_secret_in_frames(
    exc: BaseException, canary: str, *, ours: Callable[[FrameType], bool] = is_ours
) -> None:
    """Fail if a frame of ours on ``exc``'s tracebacks holds the canary in a local.

    Also fails when no frame of ours is on them: the check would prove nothing.
    """
    found, checked = secret_locals(exc, canary, ours=ours)
    assert checked > 0, f"no secretcache frame on the traceback of {exc!r}"
    assert found == [], f"secret value in frame locals: {sorted(set(found))}"


def raised(call: Callable[..., object], *args: Any, **kwargs: Any) -> BaseException:
    """Call; return the exception it raised (fail if it returned)."""
    try:
        call(*args, **kwargs)
    except Exception as exc:
        return exc
    raise AssertionError(f"{call!r} returned instead of raising")


def raised_async(make: Callable[[], Awaitable[object]]) -> BaseException:
    """Run the awaitable ``make()`` builds in a fresh event loop; return what it raised."""

    async def run() -> BaseException:
        try:
            await make()
        except Exception as exc:
            return exc
        raise AssertionError(f"{make!r} returned instead of raising")

    return asyncio.run(run())


# -- the set-up most scenarios share ------------------------------------------------------


@dataclass
class World:
    """One test's moto client, fake clock, cache factory and canary."""

    sm: SecretsManagerClient
    clock: FakeClock
    make_cache: Callable[..., SecretCache]
    canary: str

    @functools.cached_property
    def cache(self) -> SecretCache:
        """Return the test's one cache (on the moto client and the fake clock)."""
        return self.make_cache()

    def secret(self, name: str, value: str | bytes) -> str:
        """Create a secret holding ``value``; return its name."""
        field = "SecretBinary" if isinstance(value, bytes) else "SecretString"
        self.sm.create_secret(Name=name, **{field: value})
        return name

    def creds(self, name: str = "db") -> str:
        """Create a JSON object secret whose password is the canary; return its name."""
        return self.secret(name, json.dumps({"username": "app", "password": self.canary}))


@pytest.fixture
def world(
    sm: SecretsManagerClient,
    clock: FakeClock,
    make_cache: Callable[..., SecretCache],
    canary: str,
) -> World:
    """The conftest's moto client, clock, cache factory and canary, as one object."""
    return World(sm, clock, make_cache, canary)
