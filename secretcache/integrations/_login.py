"""The login every database integration runs: two thin loops over ``_gate.login_plan``.

A login uses the cached AWSCURRENT. When the server refuses it for its credentials
(SQLSTATE 28P01 or 28000, or, where libpq hands no SQLSTATE back, the server's
"password authentication failed"; never a server that is down or a timeout), the login
asks ``cache.rotation_candidate(secret_id, failed_version_id)`` and retries with its
answer: a newer AWSCURRENT, AWSPENDING in a rotation window, or AWSPREVIOUS while
AWSCURRENT is ahead of the database. At most two logins per (cache, secret) are in
flight at once, each choosing its version inside that gate (``_gate``), so a rotation
costs at most two refused logins per process. When there is no answer the login gives
up with the original error. Each refusal is logged at INFO (version id, never a value).

The state is kept per cache (held weakly: it goes with the cache) and bounded: 256
secrets per cache, 16 failed versions per secret. Only ``Secret`` objects (whose repr
is redacted) live in these frames: the password is handed to the driver inside the
call expression of the integration's ``connect``.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .._core import forksafe as _forksafe
from .._core.forksafe import ForkSafeLock
from ..exceptions import SecretCacheError
from ._gate import AUTH_SQLSTATES, Ask, Gate, Pause, Try, Wait, is_auth_failure, login_plan

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Awaitable, Callable, Generator

    from .._core.models import Secret

__all__ = ["AUTH_SQLSTATES", "alogin", "is_auth_failure", "login", "reader"]

log = logging.getLogger("secretcache")

T = TypeVar("T")
_MAX_SECRETS = 256


class Logins:
    """The gates of the secrets one cache serves (one lock: logins are rare)."""

    def __init__(self) -> None:
        self._lock = ForkSafeLock()
        self._gates: dict[str, Gate] = {}
        _forksafe.register(self)

    def gate(self, secret_id: str) -> Gate:
        """Return the secret's gate (most recently used last; the oldest go first)."""
        with self._lock:
            gate = self._gates.pop(secret_id, None)
            if gate is None:
                gate = Gate()
                while len(self._gates) >= _MAX_SECRETS:
                    del self._gates[next(iter(self._gates))]
            self._gates[secret_id] = gate
            return gate

    def _after_fork_in_child(self) -> None:
        for gate in self._gates.values():
            gate.after_fork_in_child()


class _Registry:
    """Each cache's Logins, held weakly: the state goes with the cache."""

    def __init__(self) -> None:
        self._lock = ForkSafeLock()
        self._by_cache: weakref.WeakKeyDictionary[object, Logins] = weakref.WeakKeyDictionary()

    def logins(self, cache: object) -> Logins:
        with self._lock:
            found = self._by_cache.get(cache)
            if found is None:
                found = self._by_cache[cache] = Logins()
            return found


# Login state belongs to a (cache, secret) pair, not to an engine or a Django thread:
# every integration and thread that logs in with one cache shares what it learned.
_registry = _Registry()


def reader(cache: Any) -> Any:
    """Return ``cache``, or the process-wide default cache when it is None."""
    if cache is None:
        from .._cache import default_cache

        return default_cache()
    return cache


def _plan(cache: Any, secret_id: str, wake: Callable[[], object]) -> Generator[Any, Any, Any]:
    return login_plan(secret_id, _registry.logins(cache).gate(secret_id), wake, time.monotonic)


def _lookup_failed(secret_id: str, exc: SecretCacheError) -> None:
    # The login's own error is the one to raise; this only explains why no retry.
    log.warning(
        "secretcache: could not look for a rotated version of %s (%s: %s);"
        " raising the login's error",
        secret_id,
        type(exc).__name__,
        exc,
    )


def login(cache: Any, secret_id: str, connect: Callable[[Secret], T]) -> T:
    """Open a connection with ``connect(secret)``, recovering from a rotation."""
    signal = threading.Event()
    plan = _plan(cache, secret_id, signal.set)
    try:
        action = next(plan)
        while True:
            try:
                if isinstance(action, Try):
                    result: Any = connect(action.secret)
                elif isinstance(action, Ask):
                    result = _candidate(cache, secret_id, action.failed)
                elif isinstance(action, Wait):
                    result = signal.wait(action.seconds)
                    signal.clear()
                elif isinstance(action, Pause):
                    result = None
                    time.sleep(action.seconds)
                else:
                    result = cache.get_secret(secret_id)
            except Exception as exc:
                action = plan.throw(exc)
            else:
                action = plan.send(result)
    except StopIteration as done:
        return cast("T", done.value)
    finally:
        plan.close()


async def alogin(cache: Any, secret_id: str, connect: Callable[[Secret], Awaitable[T]]) -> T:
    """Open a connection with ``await connect(secret)``, recovering from a rotation.

    ``cache`` is a ``SecretCache`` (its reads run in a worker thread) or an
    ``AsyncSecretCache``.
    """
    import asyncio  # only async callers pay for it

    signal = _Signal(asyncio.get_running_loop())
    plan = _plan(cache, secret_id, signal.set)
    try:
        action = next(plan)
        while True:
            try:
                if isinstance(action, Try):
                    result: Any = await connect(action.secret)
                elif isinstance(action, Ask):
                    result = await _acandidate(cache, secret_id, action.failed)
                elif isinstance(action, (Wait, Pause)):
                    result = None
                    await (signal.wait if isinstance(action, Wait) else asyncio.sleep)(
                        action.seconds
                    )
                else:
                    result = await _call(cache.get_secret, secret_id)
            except Exception as exc:
                action = plan.throw(exc)
            else:
                action = plan.send(result)
    except StopIteration as done:
        return cast("T", done.value)
    finally:
        plan.close()


class _Signal:
    """A wake-up an event loop awaits and any thread may set."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._set = False
        self._future: asyncio.Future[None] | None = None

    def set(self) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        self._set = True
        if self._future is not None and not self._future.done():
            self._future.set_result(None)

    async def wait(self, seconds: float) -> None:
        import asyncio

        if not self._set:
            self._future = self._loop.create_future()
            try:
                await asyncio.wait_for(self._future, seconds)
            except asyncio.TimeoutError:
                pass
            finally:
                self._future = None
        self._set = False


def _candidate(cache: Any, secret_id: str, failed: Secret) -> Secret | None:
    try:
        return cast("Secret | None", cache.rotation_candidate(secret_id, failed.version_id))
    except SecretCacheError as exc:
        _lookup_failed(secret_id, exc)
        return None


async def _acandidate(cache: Any, secret_id: str, failed: Secret) -> Secret | None:
    try:
        found = await _call(cache.rotation_candidate, secret_id, failed.version_id)
    except SecretCacheError as exc:
        _lookup_failed(secret_id, exc)
        return None
    return cast("Secret | None", found)


async def _call(method: Callable[..., Any], *args: Any) -> Any:
    """Await an async cache's method; run a sync cache's in a worker thread."""
    import asyncio

    if inspect.iscoroutinefunction(method):
        return await method(*args)
    return await asyncio.to_thread(method, *args)
