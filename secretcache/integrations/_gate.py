"""The login rule every database integration shares, without I/O: the gate and the plan.

Per (cache, secret) a ``Gate`` lets at most ``LIMIT`` (2) logins be in flight at once,
and each login chooses its version inside the gate, from what the logins before it
learned. When the database stops taking a password, only the logins already in flight
with it are refused: at most two per process and rotation. Fewer still where the
version is not known good: a version no login of this process has logged in with yet,
or AWSPREVIOUS while AWSCURRENT waits for the database (a hand rotation half done), is
tried by one login at a time, so its refusal costs one login, not two.

``login_plan`` is one login as a generator: it yields what to do (``READ`` the cached
AWSCURRENT, ``Try(secret)`` a connect, ``Ask(failed)`` rotation_candidate, ``Wait`` for
the gate, ``Pause`` before asking again) and is sent each result; connect errors are
thrown into it. The sync and the async login in ``_login`` are thin loops over it.

The rules: a login whose AWSCURRENT (as cached) was refused goes straight to the
candidate that worked; while one login (the leader) recovers from a refusal, logins
that would try a refused version wait for it; a refused login asks rotation_candidate
for a candidate and tries it. When there is none and the refused version had logged in
before (the database changed under a working password: a rotation under way, e.g. ALTER
ROLE before put-secret-value), the leader asks again every ``LOOK_AGAIN`` seconds for up
to ``PATIENCE`` seconds before giving up with the original error; a version that never
logged in gives up at once. A login records only what it learned itself.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .._core.forksafe import ForkSafeLock
from .._core.models import AWSPREVIOUS

if TYPE_CHECKING:
    from collections.abc import Callable, Generator

    from .._core.models import Secret

__all__ = [
    "AUTH_SQLSTATES",
    "LIMIT",
    "PATIENCE",
    "READ",
    "Ask",
    "Gate",
    "Pause",
    "Try",
    "Wait",
    "is_auth_failure",
    "login_plan",
]

#: Logins per (cache, secret) in flight at once (the bench sets it None: ungated).
LIMIT: int | None = 2
MAX_TRIES = 3  # connects per login: the first choice, then at most two candidates
WAIT = 10.0  # seconds a login waits at the gate before going ahead anyway (a hang guard)
PATIENCE = 3.0  # seconds a refused leader keeps looking for a version stored after
LOOK_AGAIN = 0.2  # seconds between its asks (rotation_candidate looks once a second)
_MAX_FAILED = 16
log = logging.getLogger("secretcache")

#: invalid_password, invalid_authorization_specification
AUTH_SQLSTATES = frozenset({"28P01", "28000"})
# libpq gives no SQLSTATE when the connection itself fails (psycopg 3.3's sqlstate is
# None then); the server's message for 28P01 is English unless lc_messages says otherwise.
_AUTH_TEXT = "password authentication failed"


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


def _older(choice: Secret, current: Secret) -> bool:
    """Return True if ``choice`` is a rollback: older than the AWSCURRENT it stands in for."""
    if choice.version_id == current.version_id:
        return False
    if AWSPREVIOUS in choice.version_stages:
        return True
    # A Secret's stages are those of its read: the version that worked may have been
    # AWSCURRENT then and be AWSPREVIOUS now. CreatedDate says which is older.
    mine, theirs = choice.created_date, current.created_date
    return mine is not None and theirs is not None and mine < theirs


class Try:
    """Connect with ``secret``; send the connection, or throw the error."""

    __slots__ = ("secret",)

    def __init__(self, secret: Secret) -> None:
        self.secret = secret


class Ask:
    """Send ``rotation_candidate(secret_id, failed.version_id)`` (None if it failed)."""

    __slots__ = ("failed",)

    def __init__(self, failed: Secret) -> None:
        self.failed = failed


class Wait:
    """Wait up to ``seconds`` for the login's signal (set when the gate changes)."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


class Pause:
    """Sleep ``seconds``."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


class _Read:
    """Send the cached AWSCURRENT (``cache.get_secret(secret_id)``)."""

    __slots__ = ()


READ = _Read()
Action = Try | Ask | Wait | Pause | _Read


class Gate:
    """What logins to one secret through one cache learned, and who is in flight."""

    def __init__(self) -> None:
        self._lock = ForkSafeLock()
        self.in_flight = 0
        self.failed: dict[str, None] = {}  # VersionIds refused, oldest first
        self.worked: Secret | None = None  # the last candidate that logged in
        self.proven: str | None = None  # the VersionId that last logged in
        self.leader: object | None = None  # the login recovering from a refusal
        self._waiting: list[Callable[[], object]] = []

    def _limit(self, choice: Secret, current: Secret) -> float:
        if LIMIT is None:
            return float("inf")
        if choice.version_id != self.proven or _older(choice, current):
            return 1  # not known good, or about to go bad: one login finds out
        return LIMIT

    def admit(
        self, current: Secret, login: object, wake: Callable[[], object], *, force: bool
    ) -> Secret | None:
        """Return the version ``login`` tries, counted in flight; None: wait for ``wake``."""
        with self._lock:
            choice = current
            worked = self.worked
            if (
                current.version_id in self.failed
                and worked is not None
                and worked.version_id not in self.failed
            ):
                choice = worked
            if not force and (
                (choice.version_id in self.failed and self.leader not in (None, login))
                or self.in_flight >= self._limit(choice, current)
            ):
                if wake not in self._waiting:
                    self._waiting.append(wake)
                return None
            self.in_flight += 1
            return choice

    def is_failed(self, secret: Secret) -> bool:
        """Return True if a login with ``secret`` was refused."""
        return secret.version_id in self.failed

    def refused(self, secret: Secret, login: object) -> bool:
        """Record a refusal; return True if ``login`` leads the recovery."""
        with self._lock:
            if secret.version_id not in self.failed:
                while len(self.failed) >= _MAX_FAILED:
                    del self.failed[next(iter(self.failed))]
                self.failed[secret.version_id] = None
            if self.leader is None:
                self.leader = login
            return self.leader is login

    def offered(self, candidate: Secret) -> None:
        """Trust rotation_candidate: a version it offers again may be tried again."""
        with self._lock:
            self.failed.pop(candidate.version_id, None)

    def succeeded(self, secret: Secret, *, asked: bool, known_failed: bool) -> None:
        """Remember a version that logged in (what this login learned itself)."""
        with self._lock:
            if known_failed:  # tried for want of anything better: put right by hand
                self.failed.pop(secret.version_id, None)
            if asked:
                self.worked = secret
            if secret.version_id not in self.failed:
                self.proven = secret.version_id

    def gave_up(self, secret: Secret) -> None:
        """Forget that ``secret`` logged in: the next refusal of it gives up at once."""
        with self._lock:
            if self.proven == secret.version_id:
                self.proven = None

    def leave(self, login: object, *, in_flight: bool) -> None:
        """End ``login``'s turn in the gate (and its lead); wake the logins waiting."""
        with self._lock:
            if in_flight:
                self.in_flight -= 1
            if self.leader is login:
                self.leader = None
            waiting, self._waiting = self._waiting, []
        for wake in waiting:
            wake()

    def after_fork_in_child(self) -> None:
        """Forget the parent's logins in flight: none of them will ever leave."""
        self.in_flight = 0
        self.leader = None
        self._waiting = []


class _Refusal:
    """The first refusal a login met, out of sight of frame-local recorders.

    The driver's error holds the password (psycopg keeps its connection info on it);
    error trackers record frame locals and judge an object like this one by its repr.
    """

    __slots__ = ("error",)

    def __init__(self) -> None:
        self.error: BaseException | None = None


def login_plan(
    secret_id: str, gate: Gate, wake: Callable[[], object], clock: Callable[[], float]
) -> Generator[Action, Any, Any]:
    """Run one login (see the module docstring); return the connection."""
    login = object()
    first = _Refusal()  # what giving up raises
    tries = 0
    while True:  # once per turn in the gate
        started = clock()
        while True:
            current: Secret = yield READ
            choice = gate.admit(current, login, wake, force=clock() - started >= WAIT)
            if choice is not None:
                break
            yield Wait(max(0.0, WAIT - (clock() - started)))
        try:
            secret, asked, known_failed = choice, False, gate.is_failed(choice)
            while True:
                tries += 1
                try:
                    conn = yield Try(secret)
                except Exception as exc:
                    if not is_auth_failure(exc):
                        raise
                    first.error = first.error or exc
                    log.info(
                        "secretcache: login with version %s of %s refused",
                        secret.version_id,
                        secret_id,
                    )
                    leads = gate.refused(secret, login)
                else:
                    gate.succeeded(secret, asked=asked, known_failed=known_failed)
                    return conn
                if tries >= MAX_TRIES:
                    raise first.error
                if not leads:
                    break  # another login recovers: a new turn, choosing from what it finds
                found = yield from _find(secret, gate.proven == secret.version_id, clock)
                if found is None:
                    gate.gave_up(secret)
                    raise first.error
                gate.offered(found)
                secret, asked, known_failed = found, True, False
        finally:
            gate.leave(login, in_flight=True)


def _find(
    refused: Secret, worked_before: bool, clock: Callable[[], float]
) -> Generator[Action, Any, Secret | None]:
    """Ask for a candidate; keep asking a while if ``refused`` had logged in before."""
    deadline = clock() + PATIENCE
    while True:
        found: Secret | None = yield Ask(refused)
        if found is not None or not worked_before or clock() >= deadline:
            return found
        yield Pause(LOOK_AGAIN)
