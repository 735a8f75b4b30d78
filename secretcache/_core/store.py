"""The cache core: entries, TTL with jitter, single-flight, the stale window, backoff.

It knows nothing of boto3 or of secrets: a value is loaded by a callable the caller
passes in, exactly one caller at a time per key ("single-flight"). Reads of a fresh
entry take no lock (``lookup``); everything else happens under one short lock that is
never held across a load.

Failure rules (``rules``; see the failure table in docs/freshness.md):
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

import itertools
import math
import random
from collections.abc import Callable, Hashable
from typing import TypeVar

from ..exceptions import SecretCacheError
from . import forksafe as _forksafe
from .entries import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    Batch,
    Entry,
    Load,
    Ticket,
    _Failure,
    _Flight,
    fresh_copy,
)
from .rules import keeps_stale, not_ready
from .upkeep import Upkeep

# The records a store hands out are served here too (their home is ``entries``).
__all__ = ["Batch", "Entry", "Load", "Store", "Ticket"]

V = TypeVar("V")
K = TypeVar("K", bound=Hashable)


class Store(Upkeep[K, V]):
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
        self._lock = _forksafe.ForkSafeLock()  # a child resets it before taking it
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
            if current is None and not_ready(exc):
                self._failures.pop(key, None)  # nothing to serve: the next read asks again
            else:
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
