"""The store's records: entries, loads, flights, tickets, batches, and the backoff step.

Plain slotted classes (see ``Load``) that ``store.Store`` hands out and takes back;
nothing here takes a lock or knows a key's neighbours.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from ..exceptions import SecretCacheError

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "Batch",
    "Deserted",
    "Entry",
    "Load",
    "Ticket",
    "backoff_step",
    "detached",
    "fresh_copy",
]

V = TypeVar("V")
K = TypeVar("K", bound=Hashable)
E = TypeVar("E", bound=BaseException)

BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0
_BACKOFF_JITTER = 0.2  # a step lasts base*2**n times [1, 1.2): never shorter, so never busier


class Entry(Generic[V]):
    """A cached value with its freshness deadlines (times from the store's clock)."""

    __slots__ = ("fresh_until", "parsed", "read_at", "referenced", "seq", "stale_until", "value")

    def __init__(
        self, value: V, read_at: float, fresh_until: float, stale_until: float, seq: int
    ) -> None:
        self.value = value
        # When the value itself was last read from the source (a revalidation that only
        # confirmed the version, in describe mode, does not move it).
        self.read_at = read_at
        self.fresh_until = fresh_until
        self.stale_until = stale_until
        # The sequence number of the request that produced this value.
        self.seq = seq
        # Second-chance bit for CLOCK eviction: set on a hit without taking the lock.
        self.referenced = False
        # Derived data a caller may attach (parsed JSON), valid for this value only.
        self.parsed: object = None


class Load(Generic[V]):
    """What a loader returns: the value, a cap on its freshness, whether it was re-read."""

    # A plain slotted class, not a dataclass: building a frozen dataclass costs ~0.3 ms
    # of import time each, and nothing compares or hashes these.
    __slots__ = ("fresh_cap", "reused", "value")

    def __init__(self, value: V, fresh_cap: float | None = None, *, reused: bool = False) -> None:
        self.value = value
        self.fresh_cap = fresh_cap
        # True when the value is the one being revalidated, confirmed without reading
        # it again (describe mode): its read_at stays what it was.
        self.reused = reused


class _Failure:
    __slots__ = ("attempts", "error", "failed_at", "retry_at", "seq")

    def __init__(
        self, error: SecretCacheError, failed_at: float, retry_at: float, attempts: int, seq: int
    ) -> None:
        self.error = error
        self.failed_at = failed_at
        self.retry_at = retry_at
        self.attempts = attempts
        self.seq = seq


class Deserted(BaseException):
    """A load whose loader is gone (its event loop was closed under it): plan again."""


class _Flight(Generic[V]):
    """A load in progress that other readers of the same key wait for."""

    __slots__ = ("done", "entry", "error", "invalidated", "stale_error", "task", "waiters")

    def __init__(self) -> None:
        self.done = threading.Event()
        # Called once the flight lands (readers in other event loops); None once it has.
        self.waiters: list[Callable[[], object]] | None = []
        self.entry: Entry[V] | None = None
        self.error: BaseException | None = None
        # The load failed but its reader was served stale: a forced read joining it
        # (refresh()) asked for a fetch, and must see that the fetch failed.
        self.stale_error: SecretCacheError | None = None
        # Set (under the store's lock) when invalidate() matches this key mid-load: the
        # load's outcome is handed to its callers but not kept.
        self.invalidated = False
        # The async cache keeps the loading task here so its waiters can await it.
        self.task: object = None

    def drops(self, key: object) -> bool:
        return self.invalidated

    def outcome(self, force: bool = False) -> Entry[V]:
        """Return the loaded entry, or raise (a copy of) the load's error."""
        error = self.error if self.error is not None or not force else self.stale_error
        if error is not None:
            raise fresh_copy(error)
        assert self.entry is not None
        return self.entry


class Ticket(Generic[K, V]):
    """The right, and the duty, to load one key: end it with succeed/fail/abandon."""

    __slots__ = ("entry", "failure", "flight", "force", "key", "seq")

    def __init__(
        self,
        key: K,
        entry: Entry[V] | None,
        failure: _Failure | None,
        flight: _Flight[V],
        force: bool,
        seq: int,
    ) -> None:
        self.key = key
        self.entry = entry
        self.failure = failure
        self.flight = flight
        self.force = force
        self.seq = seq

    @property
    def previous(self) -> V | None:
        """Return the value being revalidated, or None for a cold key."""
        return self.entry.value if self.entry is not None else None


class Batch(Generic[K]):
    """A batch read in progress: its sequence number, and what invalidate() hit since."""

    __slots__ = ("cleared", "predicates", "seq")

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.cleared = False
        self.predicates: list[Callable[[K], bool]] = []

    def drops(self, key: K) -> bool:
        """Return True if an invalidate() since the batch was sent covered ``key``."""
        return self.cleared or any(predicate(key) for predicate in self.predicates)


def fresh_copy(error: E) -> E:
    """Return a copy of a remembered error, so re-raising never grows one traceback."""
    clone = copy.copy(error)
    clone.__cause__ = error.__cause__
    clone.__suppress_context__ = True
    return clone


def backoff_step(
    attempts: int,
    draw: float,
    *,
    base: float = BACKOFF_BASE,
    growth: float = 2.0,
    cap: float = BACKOFF_CAP,
) -> float:
    """Return the seconds of the backoff step after ``attempts`` failures in a row before.

    ``base * growth**attempts``, at most ``cap``, times ``1 + 0.2 * draw`` (``draw`` in
    [0, 1)): a step is never shorter than its base figure, so never busier.
    """
    try:
        step = min(cap, base * growth**attempts)
    except OverflowError:  # ~1,000 steps in a row: long since at the cap
        step = cap
    return min(cap, step * (1.0 + draw * _BACKOFF_JITTER))


def detached(error: E) -> E:
    """Return a copy of ``error`` to remember: no traceback, and a cause without one.

    A traceback's frames link to their callers: remembering an error as raised would
    keep the whole stack of the first caller that met it (with every local of every
    frame, the caller's own secrets too) alive for as long as the failure is remembered.
    """
    clone = fresh_copy(error)
    cause = error.__cause__
    if cause is not None and cause.__traceback__ is not None:
        # An uncopyable third-party error stays as it is.
        with contextlib.suppress(Exception):
            clone.__cause__ = copy.copy(cause)  # the same error, without its traceback
    return clone
