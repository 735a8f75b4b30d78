"""The store's upkeep: failure memory, eviction, landing flights, invalidation, fork safety.

``Upkeep`` is the half of ``store.Store`` that keeps the map in order under the store's
lock (what is remembered, evicted, invalidated, expired, woken); the other half answers
reads and ends loads and batches.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Generic, TypeVar

from .entries import Deserted, _Failure, backoff_step, detached

if TYPE_CHECKING:
    import random

    from ..exceptions import SecretCacheError
    from .entries import Batch, Entry, _Flight
    from .forksafe import ForkSafeLock

__all__ = ["Upkeep"]

V = TypeVar("V")
K = TypeVar("K", bound=Hashable)


class Upkeep(Generic[K, V]):
    """Invalidate, restart, expire and snapshot a store's entries (see ``store.Store``)."""

    clock: Callable[[], float]
    data: dict[K, Entry[V]]
    _failures: dict[K, _Failure]
    _flights: dict[K, _Flight[V]]
    _batches: set[Batch[K]]
    _lock: ForkSafeLock
    _own_rng: bool
    _rng: random.Random
    _inherited: set[K]
    max_size: int
    backoff_base: float
    backoff_growth: float
    backoff_cap: float

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

    # -- flights landing ----------------------------------------------------------------
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
    def _after_fork_in_child(self) -> None:
        # Every load in flight was sent by a thread the child does not have: nobody
        # would ever end it. (The lock is a ForkSafeLock: the child has a new one.)
        self._flights = {}
        self._batches = set()
        # Siblings forked from one master hold the same deadlines and generator state:
        # without this they would refresh in step for good.
        self.diverge()
