"""The login rule every database integration shares.

A login uses the cached AWSCURRENT. When the server refuses it for its credentials
(SQLSTATE 28P01 or 28000, or, where libpq hands no SQLSTATE back, the server's
"password authentication failed"; never a server that is down or a timeout), the login
asks ``cache.rotation_candidate(secret_id, failed_version_id)`` and retries with its
answer: a newer AWSCURRENT, or AWSPENDING in a rotation window. When there is no answer
the login gives up with the original error.

To keep failed logins per rotation low, each (cache, secret) pair remembers the versions
that failed a login and the candidate that worked: a new login whose AWSCURRENT is known
to have failed goes straight to the candidate that worked (unless that failed too), and
while one login recovers from a version's first failure, new logins that would try that
version wait for it instead of failing too. A login records only what it learned itself:
one that began before a refusal was recorded and succeeded late clears nothing. The state
is kept per cache (held weakly: it goes with the cache) and bounded: 256 secrets per
cache, 16 failed versions per secret.

Only ``Secret`` objects (whose repr is redacted) live in these frames: the password is
handed to the driver inside the call expression of the integration's ``connect``.
"""

from __future__ import annotations

import inspect
import logging
import threading
import weakref
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .._core import forksafe as _forksafe
from .._core.forksafe import ForkSafeLock
from ..exceptions import SecretCacheError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .._core.models import Secret

__all__ = ["AUTH_SQLSTATES", "alogin", "is_auth_failure", "login", "reader"]

log = logging.getLogger("secretcache")

T = TypeVar("T")

#: invalid_password, invalid_authorization_specification
AUTH_SQLSTATES = frozenset({"28P01", "28000"})
# libpq gives no SQLSTATE when the connection itself fails (psycopg 3.3's sqlstate is
# None then); the server's message for 28P01 is English unless lc_messages says otherwise.
_AUTH_TEXT = "password authentication failed"
MAX_ATTEMPTS = 3  # the first choice, then at most two candidates
WAIT = 10.0  # seconds a login waits for another one's recovery before trying anyway
_MAX_FAILED = 16
_MAX_SECRETS = 256


def is_auth_failure(exc: BaseException) -> bool:
    """Return True if ``exc`` is a login the server refused for its credentials."""
    # SQLAlchemy wraps the driver's error in .orig; psycopg2 names the code .pgcode.
    for error in (exc, getattr(exc, "orig", None)):
        if error is None:
            continue
        code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(code, str):
            return code in AUTH_SQLSTATES
        if _AUTH_TEXT in str(error):
            return True
    return False


class _State:
    """What logins to one secret through one cache learned."""

    __slots__ = ("failed", "recovering", "worked")

    def __init__(self) -> None:
        self.failed: dict[str, None] = {}  # VersionIds that failed a login, oldest first
        self.worked: Secret | None = None  # the last candidate that logged in
        self.recovering: threading.Event | None = None  # set when a recovery ends

    def first_choice(self, current: Secret) -> Secret:
        """Return the version a new login tries first: AWSCURRENT, unless it was refused."""
        worked = self.worked
        if (
            current.version_id in self.failed
            and worked is not None
            and worked.version_id not in self.failed
        ):
            return worked
        return current


class Logins:
    """Login state of the secrets one cache serves (one lock: logins are rare)."""

    def __init__(self) -> None:
        self._lock = ForkSafeLock()
        self._states: dict[str, _State] = {}
        _forksafe.register(self)

    def state(self, secret_id: str) -> _State:
        """Return the secret's state (most recently used last; the oldest go first)."""
        with self._lock:
            state = self._states.pop(secret_id, None)
            if state is None:
                state = _State()
                while len(self._states) >= _MAX_SECRETS:
                    del self._states[next(iter(self._states))]
            self._states[secret_id] = state
            return state

    def attempt(self, state: _State, current: Secret) -> Attempt:
        """Start a login whose AWSCURRENT (as cached) is ``current``."""
        return Attempt(self._lock, state, current)

    def _after_fork_in_child(self) -> None:
        # The recovering thread is the parent's: nobody would ever set its event.
        for state in self._states.values():
            state.recovering = None


class Attempt:
    """One login: the versions it tried, its first refusal, the recovery it leads."""

    def __init__(self, lock: ForkSafeLock, state: _State, current: Secret) -> None:
        self._lock = lock
        self._state = state
        self.current = current
        self.secret = current  # the version tried last
        self.tries = 0
        self.original: BaseException | None = None  # the first refusal: what giving up raises
        self._leading: threading.Event | None = None
        self._waited = False
        self._asked = False  # self.secret came from rotation_candidate
        self._known_failed = False  # self.secret had been refused before it was tried

    def choose(self) -> Secret | threading.Event | None:
        """Return the version to try next, a recovery to wait for first, or None to ask.

        None means: ask ``rotation_candidate`` about the version that failed last.
        """
        state = self._state
        with self._lock:
            if self.tries == 0:
                choice = state.first_choice(self.current)
            else:
                choice = state.worked or self.secret  # another login may have found one
            if choice.version_id not in state.failed:
                return choice
            recovering = state.recovering
            if recovering is not None and recovering is not self._leading and not self._waited:
                # Another login is finding the new version: wait for it, then choose again.
                self._waited = True
                return recovering
        # Nothing better known: the first try goes ahead (a password fixed by hand).
        return self.current if self.tries == 0 else None

    def take(self, candidate: Secret | None, *, asked: bool = False) -> bool:
        """Take the version to try (``asked``: rotation_candidate's); False to give up."""
        if candidate is None or self.tries >= MAX_ATTEMPTS:
            return False
        with self._lock:
            known_failed = candidate.version_id in self._state.failed
        if known_failed and self.tries:
            return False
        self.secret = candidate
        self.tries += 1
        self._asked = asked
        self._known_failed = known_failed
        return True

    def refused(self, exc: BaseException) -> bool:
        """Record a failed connect; return True if the server refused the credentials."""
        if not is_auth_failure(exc):
            return False
        if self.original is None:
            self.original = exc
        state = self._state
        with self._lock:
            version_id = self.secret.version_id
            if version_id not in state.failed:
                while len(state.failed) >= _MAX_FAILED:
                    del state.failed[next(iter(state.failed))]
                state.failed[version_id] = None
                if state.recovering is None and self._leading is None:
                    state.recovering = self._leading = threading.Event()
        return True

    def succeeded(self) -> None:
        """Remember a candidate that logged in, or a refused version that works again.

        Only what this login learned: a login that began before a refusal was recorded
        and succeeded late proves nothing about the database now.
        """
        state = self._state
        with self._lock:
            if self._known_failed:  # tried for want of anything better: put right by hand
                state.failed.pop(self.secret.version_id, None)
            if self._asked:
                state.worked = self.secret

    def done(self) -> None:
        """End the recovery this login led, if any: the logins waiting for it go on."""
        event = self._leading
        if event is None:
            return
        with self._lock:
            if self._state.recovering is event:
                self._state.recovering = None
        event.set()


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


def _candidate(cache: Any, secret_id: str, failed: Secret) -> Secret | None:
    try:
        return cast("Secret | None", cache.rotation_candidate(secret_id, failed.version_id))
    except SecretCacheError as exc:
        _lookup_failed(secret_id, exc)
        return None


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
    logins = _registry.logins(cache)
    attempt = logins.attempt(logins.state(secret_id), cache.get_secret(secret_id))
    try:
        while True:
            choice = attempt.choose()
            if isinstance(choice, threading.Event):
                choice.wait(WAIT)
                continue
            if choice is None:
                if not attempt.take(_candidate(cache, secret_id, attempt.secret), asked=True):
                    break
            elif not attempt.take(choice):
                break
            try:
                conn = connect(attempt.secret)
            except Exception as exc:
                if not attempt.refused(exc):
                    raise
            else:
                attempt.succeeded()
                return conn
    finally:
        attempt.done()
    assert attempt.original is not None
    raise attempt.original


async def alogin(cache: Any, secret_id: str, connect: Callable[[Secret], Awaitable[T]]) -> T:
    """Open a connection with ``await connect(secret)``, recovering from a rotation.

    ``cache`` is a ``SecretCache`` (its reads run in a worker thread) or an
    ``AsyncSecretCache``.
    """
    import asyncio  # only async callers pay for it

    logins = _registry.logins(cache)
    attempt = logins.attempt(logins.state(secret_id), await _call(cache.get_secret, secret_id))
    try:
        while True:
            choice = attempt.choose()
            if isinstance(choice, threading.Event):
                await asyncio.to_thread(choice.wait, WAIT)
                continue
            if choice is None:
                found = await _acandidate(cache, secret_id, attempt.secret)
                if not attempt.take(found, asked=True):
                    break
            elif not attempt.take(choice):
                break
            try:
                conn = await connect(attempt.secret)
            except Exception as exc:
                if not attempt.refused(exc):
                    raise
            else:
                attempt.succeeded()
                return conn
    finally:
        attempt.done()
    assert attempt.original is not None
    raise attempt.original


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
