"""The cache core: entries, TTL with jitter, single-flight, the stale window, backoff.

It knows nothing of boto3 or of secrets: a value is loaded by a callable the caller
passes in, exactly one caller at a time per key ("single-flight"). Reads of a fresh
entry take no lock (``lookup``); everything else happens under one short lock that is
never held across a load.

Failure rules (``_rules``; see the failure table in docs/freshness.md):
- a *transient* error (``keeps_stale``) leaves the entry in place; it is served stale
  until ``stale_until`` (freshness + max_stale), then the error is raised;
- any other error drops the entry: nothing stale is served after access was revoked;
- either way the error is remembered for a backoff step (1 s doubling to 60 s, plus
  jitter) during which no load is attempted for that key, however hot it is.

Ordering: every request gets a sequence number when it is planned (a load's ticket, a
batch's token). An answer never replaces an answer to a later request, whichever lands
first: a slow load or a batch sent before a newer value was stored is handed to its
caller but not kept, and neither is a value older than a later denial.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import math
import random
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from ..exceptions import SecretCacheError
from . import forksafe as _forksafe
from .rules import keeps_stale

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "Batch",
    "Deserted",
    "Entry",
    "Load",
    "Store",
    "Ticket",
    "backoff_step",
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


class Store(Generic[K, V]):
    """A bounded map of entries with single-flight loading and failure memory."""

    def __init__(
        self,
        *,
        ttl: float,
        jitter: float,
        cold_jitter: float = 0.0,
        max_size: int,
        max_stale: float | None,
        clock: Callable[[], float],
        rng: random.Random | None = None,
        on_replace: Callable[[K, V | None, V], None] | None = None,
        backoff_base: float = BACKOFF_BASE,
        backoff_growth: float = 2.0,
        backoff_cap: float = BACKOFF_CAP,
    ) -> None:
        self.ttl = ttl
        self.jitter = jitter
        self.cold_jitter = cold_jitter
        self.max_size = max_size
        self.max_stale = math.inf if max_stale is None else max_stale
        self.clock = clock
        self._own_rng = rng is None
        self._rng = rng or random.Random()
        # Keys held from before a fork or a snapshot restore: their next load is cold.
        self._inherited: set[K] = set()
        self._on_replace = on_replace
        # A failure's n-th consecutive backoff step lasts base * growth**n, at most cap.
        self.backoff_base = backoff_base
        self.backoff_growth = backoff_growth
        self.backoff_cap = backoff_cap
        self.data: dict[K, Entry[V]] = {}
        self._failures: dict[K, _Failure] = {}
        self._flights: dict[K, _Flight[V]] = {}
        self._batches: set[Batch[K]] = set()
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._hits = itertools.count()
        #: Count one read served fresh from memory: atomic and lock-free, and a builtin
        #: bound method rather than a Python one, so a hit pays no extra frame.
        self.count_hit: Callable[[], int] = self._hits.__next__
        self.misses = 0
        self.loads = 0
        self.refreshes = 0
        self.stale_served = 0
        self.errors = 0
        _forksafe.register(self)

    # -- counters ---------------------------------------------------------------------
    @property
    def hits(self) -> int:
        """Return the number of fresh hits so far."""
        # itertools.count is the one lock-free atomic counter CPython offers; its repr
        # is the only public view of its position ("count(N)").
        return int(repr(self._hits)[6:-1])

    # -- reads ------------------------------------------------------------------------
    def lookup(self, key: K) -> Entry[V] | None:
        """Return the entry if it is fresh now, counting a hit; never blocks."""
        entry = self.data.get(key)
        if entry is not None and self.clock() < entry.fresh_until:
            entry.referenced = True
            next(self._hits)
            return entry
        return None

    def plan(
        self, key: K, *, force: bool = False, ignore_backoff: bool = False
    ) -> Entry[V] | _Flight[V] | Ticket[K, V]:
        """Decide, under the lock, how to answer a read of ``key``.

        Returns an entry to serve now (fresh, or stale within its window), a flight to
        wait for (another caller is loading), or a ticket: the caller is the one that
        loads, and must end it with ``succeed``, ``fail`` or ``abandon``. Raises the
        remembered error inside a backoff step. ``force`` (an explicit refresh) plans a
        load even when the entry is fresh, joins a load in flight, and never serves
        stale. ``ignore_backoff`` loads even inside the backoff step of a remembered
        *answer* (not found, denied): only for callers that rate-limit themselves
        (rotation_candidate); the backoff of a transient failure (throttling, an
        outage) holds for everyone. Reads that are not forced are counted as a hit or
        a miss.
        """
        with self._lock:
            now = self.clock()
            entry = self.data.get(key)
            if not force and entry is not None and now < entry.fresh_until:
                entry.referenced = True
                next(self._hits)
                return entry
            if not force:
                self.misses += 1
            failure = self._failures.get(key)
            flight = self._flights.get(key)
            if flight is not None:
                if not force and entry is not None and now < entry.stale_until:
                    # Stale-while-revalidate: someone else is already loading.
                    self.stale_served += 1
                    return entry
                return flight
            if (
                failure is not None
                and now < failure.retry_at
                and not (ignore_backoff and not keeps_stale(failure.error))
            ):
                # Inside a backoff step: no load, however hot the key.
                if not force and entry is not None and now < entry.stale_until:
                    self.stale_served += 1
                    return entry
                raise fresh_copy(failure.error)
            flight = _Flight()
            self._flights[key] = flight
            self.loads += 1
            return Ticket(key, entry, failure, flight, force, next(self._seq))

    def get(
        self,
        key: K,
        loader: Callable[[Ticket[K, V]], Load[V]],
        *,
        force: bool = False,
        ignore_backoff: bool = False,
    ) -> Entry[V]:
        """Return a usable entry for ``key``, loading it through ``loader`` if needed."""
        planned = self.plan(key, force=force, ignore_backoff=ignore_backoff)
        while isinstance(planned, _Flight):
            planned.done.wait()
            if planned.error is None or isinstance(planned.error, Exception):
                return planned.outcome(force)
            # The loader was interrupted (KeyboardInterrupt, SystemExit), not failed:
            # that is its thread's business, so plan again rather than re-raise it here.
            planned = self.plan(key, force=force, ignore_backoff=ignore_backoff)
        if isinstance(planned, Entry):
            return planned
        try:
            loaded = loader(planned)
        except SecretCacheError as exc:
            served = self.fail(planned, exc)
            if served is None:
                raise
            return served
        except BaseException as exc:
            self.abandon(planned, exc)
            raise
        return self.succeed(planned, loaded)

    def succeed(self, ticket: Ticket[K, V], loaded: Load[V]) -> Entry[V]:
        """End a load that worked: store the value, wake the waiters, report a change.

        Raises (a copy of) a later request's denial if one landed during this load.
        """
        flight = ticket.flight
        base = ticket.entry.read_at if ticket.entry is not None else None
        try:
            entry, replaced, stored = self._commit(ticket.key, loaded, ticket.seq, flight, base)
            if isinstance(entry, _Failure):
                flight.error = entry.error
            else:
                flight.entry = entry
        finally:
            self._land(ticket)
        if isinstance(entry, _Failure):
            raise fresh_copy(entry.error)
        if stored:
            self._report(ticket.key, replaced, entry.value)
        return entry

    def fail(self, ticket: Ticket[K, V], exc: SecretCacheError) -> Entry[V] | None:
        """End a load that failed: remember it; return an entry to serve, or None."""
        flight = ticket.flight
        try:
            served, stale = self._fail(
                ticket.key, exc, ticket.entry, ticket.failure, ticket.force, ticket.seq, flight
            )
            if served is None:
                flight.error = exc
            else:
                flight.entry = served
                flight.stale_error = exc if stale else None
        finally:
            self._land(ticket)
        return served

    def abandon(self, ticket: Ticket[K, V], exc: BaseException) -> None:
        """End a load that broke with something untyped (a bug, a cancellation)."""
        ticket.flight.error = exc
        self._land(ticket)

    def _land(self, ticket: Ticket[K, V]) -> None:
        self._end_flight(ticket.key, ticket.flight)

    def _end_flight(self, key: K, flight: _Flight[V]) -> None:
        with self._lock:
            # invalidate() may have detached this flight and a newer one may fly now.
            if self._flights.get(key) is flight:
                del self._flights[key]
            waiters, flight.waiters = flight.waiters, None
        flight.done.set()
        for wake in waiters or ():
            wake()

    def when_landed(self, flight: _Flight[V], wake: Callable[[], object]) -> bool:
        """Call ``wake()`` once ``flight`` lands; return False (not calling it) if it has."""
        with self._lock:
            if flight.waiters is None:
                return False
            flight.waiters.append(wake)
            return True

    def desert(self, key: K, flight: _Flight[V]) -> None:
        """End a flight whose loader can no longer end it: its readers plan again."""
        if flight.error is None and flight.entry is None:
            flight.error = Deserted()
        self._end_flight(key, flight)

    # -- batches ------------------------------------------------------------------------
    def begin_batch(self) -> Batch[K]:
        """Start a batch read: call before sending it, end it with ``end_batch``."""
        with self._lock:
            batch: Batch[K] = Batch(next(self._seq))
            self._batches.add(batch)
            return batch

    def end_batch(self, batch: Batch[K]) -> None:
        """Forget a batch read whose answers are all stored."""
        with self._lock:
            self._batches.discard(batch)

    def put(self, key: K, loaded: Load[V], batch: Batch[K]) -> V:
        """Store a value read by ``batch``, as if ``key`` had been loaded; return the kept one.

        The value kept is this one, or a newer one that was stored while the batch was
        out (or this one, unkept, if invalidate() covered the key meanwhile).
        """
        entry, replaced, stored = self._commit(key, loaded, batch.seq, batch, None)
        if isinstance(entry, _Failure):
            raise fresh_copy(entry.error)
        if stored:
            self._report(key, replaced, entry.value)
        return entry.value

    def put_failure(self, key: K, error: SecretCacheError, batch: Batch[K]) -> None:
        """Remember a failure read by ``batch``, as if loading ``key`` had failed."""
        with self._lock:
            entry = self.data.get(key)
            failure = self._failures.get(key)
        self._fail(key, error, entry, failure, True, batch.seq, batch)

    def _report(self, key: K, replaced: V | None, value: V) -> None:
        if self._on_replace is not None and value is not replaced:
            self._on_replace(key, replaced, value)

    # -- the two ways a request ends ----------------------------------------------------
    def _fail(
        self,
        key: K,
        exc: SecretCacheError,
        entry: Entry[V] | None,
        failure: _Failure | None,
        force: bool,
        seq: int,
        token: _Flight[V] | Batch[K],
    ) -> tuple[Entry[V] | None, bool]:
        """Record a failed request; return (an entry to serve or None, served stale)."""
        with self._lock:
            now = self.clock()
            self.errors += 1
            if token.drops(key):
                # invalidate() ran during the request: the caller sees the error, the
                # key starts afresh (no remembered failure, nothing to serve).
                return None, False
            current = self.data.get(key)
            if current is not None and current.seq > seq:
                # A later request's answer landed first: it stands, and is served.
                return current, False
            self._remember(key, exc, failure, now, seq)
            if not keeps_stale(exc):
                if current is not None:
                    del self.data[key]
                return None, False
            if force or current is None or current is not entry:
                return None, False
            if now < current.stale_until:
                self.stale_served += 1
                return current, True
            return None, False

    def _remember(
        self, key: K, exc: SecretCacheError, failure: _Failure | None, now: float, seq: int
    ) -> None:
        attempts = failure.attempts + 1 if failure is not None else 0
        step = backoff_step(
            attempts,
            self._rng.random(),
            base=self.backoff_base,
            growth=self.backoff_growth,
            cap=self.backoff_cap,
        )
        failures = self._failures
        failures.pop(key, None)
        if len(failures) >= self.max_size:
            # Oldest first: failure memory is bounded like the entries are.
            del failures[next(iter(failures))]
        failures[key] = _Failure(detached(exc), now, now + step, attempts, seq)

    def _commit(
        self,
        key: K,
        loaded: Load[V],
        seq: int,
        token: _Flight[V] | Batch[K],
        base_read_at: float | None,
    ) -> tuple[Entry[V] | _Failure, V | None, bool]:
        """Store a loaded value unless a later answer stands.

        Returns what to hand the caller (the entry, a later entry, or a later denial),
        the value replaced, and whether the value was stored.
        """
        with self._lock:
            now = self.clock()
            old = self.data.get(key)
            spread = self.jitter
            if spread and (old is None or key in self._failures or key in self._inherited):
                # A cold load may be one of a fleet's that started (or recovered) at
                # once: spread its first freshness wide so their refreshes spread too.
                spread = max(spread, self.cold_jitter)
            fresh_for = self.ttl * (1.0 - spread * self._rng.random())
            if loaded.fresh_cap is not None and 0.0 < loaded.fresh_cap < fresh_for:
                fresh_for = loaded.fresh_cap
            fresh_until = now + fresh_for
            if base_read_at is None and old is not None:
                base_read_at = old.read_at  # a batch confirming what is cached
            read_at = base_read_at if loaded.reused and base_read_at is not None else now
            entry: Entry[V] = Entry(
                loaded.value, read_at, fresh_until, fresh_until + self.max_stale, seq
            )
            if token.drops(key):
                # An invalidate() of this key during the load wins: hand the value out,
                # keep nothing. Invalidating other keys leaves this load alone.
                return entry, None, False
            if old is not None and old.seq > seq:
                return old, None, False
            failure = self._failures.get(key)
            if failure is not None and failure.seq > seq and not keeps_stale(failure.error):
                # A later request was denied (or found nothing): this older value must
                # not bring the secret back.
                return failure, None, False
            if old is not None:
                self.refreshes += 1
                entry.parsed = old.parsed  # the reader checks it matches the version
            if failure is not None and failure.seq < seq:
                del self._failures[key]
            self._inherited.discard(key)
            if old is None:
                self._make_room()
            self.data[key] = entry
            return entry, old.value if old is not None else None, True

    def _make_room(self) -> None:
        """Evict until there is room for one more entry (CLOCK: LRU's lock-free cousin)."""
        data = self.data
        while len(data) >= self.max_size:
            key = next(iter(data))
            entry = data.pop(key)
            if entry.referenced:
                entry.referenced = False
                data[key] = entry  # second chance: to the back of the line
            else:
                break

    # -- maintenance ------------------------------------------------------------------
    def invalidate(self, predicate: Callable[[K], bool] | None = None) -> None:
        """Drop entries and remembered failures (all, or those whose key matches)."""
        with self._lock:
            for key in [k for k in self._flights if predicate is None or predicate(k)]:
                # Its caller still gets what it fetched, but later readers must not
                # join a request sent before the invalidation: they load afresh.
                self._flights.pop(key).invalidated = True
            for batch in self._batches:
                if predicate is None:
                    batch.cleared = True
                else:
                    batch.predicates.append(predicate)
            if predicate is None:
                self.data.clear()
                self._failures.clear()
                return
            for key in [k for k in self.data if predicate(k)]:
                del self.data[key]
            for key in [k for k in self._failures if predicate(k)]:
                del self._failures[key]

    def restart(self, predicate: Callable[[K], bool]) -> None:
        """Make matching keys load afresh, keeping their remembered failures.

        Loads in flight are detached (their callers still get what they fetched; later
        readers don't join a request sent before now) and entries can't be served until
        reloaded; unlike ``invalidate``, a backoff in progress still holds.
        """
        with self._lock:
            for key in [k for k in self._flights if predicate(k)]:
                self._flights.pop(key).invalidated = True
            for batch in self._batches:
                batch.predicates.append(predicate)
            for key, entry in self.data.items():
                if predicate(key):
                    entry.fresh_until = entry.stale_until = -math.inf

    def fail_keys(self, predicate: Callable[[K], bool], error: SecretCacheError, seq: int) -> None:
        """Drop the entries whose key matches, remembering ``error`` for each of them.

        For an answer that holds for other keys too (a secret scheduled for deletion):
        their hot readers then meet the remembered error instead of the API. ``seq`` is
        the request that got the answer: an entry from a later request stays.
        """
        with self._lock:
            now = self.clock()
            for key in [k for k, e in self.data.items() if e.seq < seq and predicate(k)]:
                del self.data[key]
                self._remember(key, error, self._failures.get(key), now, seq)

    def diverge(self) -> None:
        """Part from the copies of this process (after a fork or a snapshot restore).

        Copies hold the same entries and the same generator state: they would draw the
        same jitter and refresh in step for good. Reseed our own generator (not one the
        caller passed in) and make the next load of every entry held now a cold one.
        """
        with self._lock:
            if self._own_rng:
                self._rng.seed()
            self._inherited = set(self.data)

    def expire(self, predicate: Callable[[K], bool] | None = None, *, servable: bool) -> None:
        """Make matching entries due for revalidation now.

        With ``servable`` they stay within their stale window (others read them while
        one caller revalidates); without, they can't be served until revalidated.
        """
        with self._lock:
            now = self.clock()
            for key, entry in self.data.items():
                if predicate is None or predicate(key):
                    entry.fresh_until = min(entry.fresh_until, now)
                    if not servable:
                        entry.stale_until = -math.inf

    def due(self, lead: float) -> list[K]:
        """Return keys whose freshness ends within ``lead`` seconds, not loading or backing off."""
        with self._lock:
            now = self.clock()
            horizon = now + lead
            return [
                k
                for k, e in self.data.items()
                if e.fresh_until <= horizon
                and k not in self._flights
                and not (k in self._failures and now < self._failures[k].retry_at)
            ]

    def items(self) -> list[tuple[K, V]]:
        """Return a snapshot of the cached keys and values."""
        with self._lock:
            return [(key, entry.value) for key, entry in self.data.items()]

    def values(self) -> list[V]:
        """Return a snapshot of the cached values."""
        with self._lock:
            return [entry.value for entry in self.data.values()]

    def __len__(self) -> int:
        return len(self.data)

    # -- fork -------------------------------------------------------------------------
    def _before_fork(self) -> None:
        # Fork with the map consistent: no other thread is half-way through a change.
        self._lock.acquire()

    def _after_fork_in_parent(self) -> None:
        self._lock.release()

    def _after_fork_in_child(self) -> None:
        # The inherited lock is held (by _before_fork) and every load in flight was
        # sent by a thread the child does not have: nobody would ever end it.
        self._lock = threading.Lock()
        self._flights = {}
        self._batches = set()
        # Siblings forked from one master hold the same deadlines and generator state:
        # without this they would refresh in step for good.
        self.diverge()
