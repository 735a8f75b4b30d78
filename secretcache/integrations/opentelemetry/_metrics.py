"""Metrics: observable instruments read from ``stats()`` at collection, one set per provider.

An observable instrument is read only when a reader collects, so a hit pays nothing
for it. OpenTelemetry keeps one instrument per name and meter (a second registration
with another callback is dropped), so each meter provider gets one set of instruments
whose callbacks read every cache instrumented with it, summing caches that report the
same attributes (give caches a ``cache_name`` to tell them apart).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from opentelemetry.metrics import CallbackOptions, Observation

# Locks a forked child gets anew (a reader thread may hold one at the fork).
from secretcache._core.forksafe import ForkSafeLock
from secretcache._version import __version__

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from opentelemetry.metrics import Histogram, Meter, MeterProvider

    from secretcache import CacheStats

    from ._spans import Calls

__all__ = ["Member", "Meters", "meters_for"]

SCOPE = "secretcache.integrations.opentelemetry"

#: Seconds: the semantic conventions' advice for client call durations.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)

_Points = list[tuple[dict[str, Any], float]]


class Member:
    """One instrumented cache as the instruments see it (the cache held weakly)."""

    def __init__(self, cache: Any, calls: Calls) -> None:
        self._cache = weakref.ref(cache)
        self.calls = calls
        self.base: dict[str, Any] = (
            {} if calls.cache_name is None else {"secretcache.cache.name": calls.cache_name}
        )

    @property
    def alive(self) -> bool:
        """Return True while the cache exists."""
        return self._cache() is not None

    def stats(self) -> CacheStats | None:
        """Return the cache's stats, or None once it is gone."""
        cache = self._cache()
        return None if cache is None else cache.stats()


def _counter(field: str) -> Callable[[Member], _Points]:
    def read(member: Member) -> _Points:
        stats = member.stats()
        return [] if stats is None else [(member.base, getattr(stats, field))]

    return read


def _api_calls(member: Member) -> _Points:
    points: _Points = []
    for (operation, region), calls in member.calls.snapshot().items():
        attributes = {**member.base, "rpc.method": operation}
        if region:
            attributes["cloud.region"] = region
        points.append((attributes, calls))
    return points


class Meters:
    """The instruments of one meter provider, and the caches they read."""

    def __init__(self, meter: Meter) -> None:
        self._members: set[Member] = set()
        self._lock = ForkSafeLock()
        counters = {
            "secretcache.hits": ("{read}", "Reads served fresh from memory", "hits"),
            "secretcache.misses": ("{read}", "Reads that found no fresh value", "misses"),
            "secretcache.stale_served": (
                "{read}",
                "Reads served an expired value (stale-while-revalidate, or an outage)",
                "stale_served",
            ),
            "secretcache.rotations": (
                "{rotation}",
                "New versions seen behind a stage",
                "rotations",
            ),
            "secretcache.failovers": ("{load}", "Loads a fallback region answered", "failovers"),
        }
        for name, (unit, description, field) in counters.items():
            meter.create_observable_counter(
                name, [self._callback(_counter(field))], unit=unit, description=description
            )
        meter.create_observable_counter(
            "secretcache.api_calls",
            [self._callback(_api_calls)],
            unit="{call}",
            description="API calls made, by operation and region asked (since instrumented)",
        )
        meter.create_observable_up_down_counter(
            "secretcache.entries",
            [self._callback(_counter("size"))],
            unit="{entry}",
            description="Entries the cache holds",
        )
        self.histogram: Histogram = meter.create_histogram(
            "secretcache.load.duration",
            unit="s",
            description="Duration of each API call a load makes (never recorded on a hit)",
            explicit_bucket_boundaries_advisory=BUCKETS,
        )

    def add(self, member: Member) -> None:
        """Start reporting ``member``."""
        with self._lock:
            self._members.add(member)

    def discard(self, member: Member) -> None:
        """Stop reporting ``member``."""
        with self._lock:
            self._members.discard(member)

    def _callback(
        self, read: Callable[[Member], _Points]
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            with self._lock:
                # A cache dropped without uninstrument() reports nothing and is forgotten.
                self._members = {m for m in self._members if m.alive}
                members = list(self._members)
            totals: dict[frozenset[tuple[str, Any]], float] = {}
            for member in members:
                for attributes, value in read(member):
                    key = frozenset(attributes.items())
                    totals[key] = totals.get(key, 0) + value
            return [Observation(value, dict(key)) for key, value in totals.items()]

        return observe


_registry: weakref.WeakKeyDictionary[Any, Meters] = weakref.WeakKeyDictionary()
_registry_lock = ForkSafeLock()


def meters_for(provider: MeterProvider) -> Meters:
    """Return the instruments of ``provider``, created on first use."""
    with _registry_lock:
        meters = _registry.get(provider)
        if meters is None:
            meters = _registry[provider] = Meters(provider.get_meter(SCOPE, __version__))
        return meters
