"""Concurrency hammer: 16 threads mixing reads, refreshes, invalidations and rotations.

Each run is a bounded number of operations joined with a timeout, so a deadlock fails
the test instead of hanging it. Everything runs twice: at the default thread switch
interval and at 1 microsecond, which forces a thread switch almost every bytecode.
"""

from __future__ import annotations

import random
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from secretcache import (
    CacheStats,
    RotationEvent,
    Secret,
    SecretCache,
    SecretCacheError,
    SecretsManagerThrottledError,
)
from secretcache.testing import FakeClock, InMemorySource

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

THREADS = 16
OPS_PER_THREAD = 1000
JOIN_TIMEOUT = 120.0  # a deadlock guard, not a speed limit
TTL = 10.0


@pytest.fixture(params=["default", "1us"])
def switch_interval(request: pytest.FixtureRequest) -> Iterator[None]:
    """Run at the default switch interval, then at 1 microsecond (restored after)."""
    saved = sys.getswitchinterval()
    if request.param == "1us":
        sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(saved)


def run_threads(work: Callable[[int], None]) -> list[BaseException]:
    """Run ``work(i)`` on THREADS threads started together; return what they raised."""
    barrier = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def body(i: int) -> None:
        try:
            barrier.wait(timeout=JOIN_TIMEOUT)
            work(i)
        except BaseException as exc:  # report everything, typed or not
            failures.append(exc)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"threads still running after {JOIN_TIMEOUT}s (deadlock?): {stuck}"
    return failures


@pytest.mark.usefixtures("switch_interval")
def test_sixteen_threads_on_one_cold_key_make_one_call_per_round() -> None:
    """Single-flight: however many threads miss at once, one GetSecretValue per miss."""
    source = InMemorySource({"hot": "v0"}, latency=0.002)
    clock = FakeClock()
    rounds = 20
    barrier = threading.Barrier(THREADS)
    seen: list[Counter[str]] = [Counter() for _ in range(THREADS)]
    with SecretCache(source=source, clock=clock, ttl=TTL, jitter=0.0) as cache:

        def work(i: int) -> None:
            for _ in range(rounds):
                if barrier.wait(timeout=JOIN_TIMEOUT) == 0:
                    cache.invalidate()  # one thread empties the cache for the round
                barrier.wait(timeout=JOIN_TIMEOUT)
                seen[i][cache.get_secret_string("hot")] += 1

        assert run_threads(work) == []
        assert source.calls == {"GetSecretValue": rounds}
        assert sum(seen, Counter()) == {"v0": rounds * THREADS}
        stats = cache.stats()
        assert stats.hits + stats.misses == rounds * THREADS


@dataclass
class Mixed:
    """What a mixed hammer run did and saw."""

    keys: list[str]
    source: InMemorySource
    stats: CacheStats
    events: list[RotationEvent]
    totals: Counter[str]
    failures: list[BaseException]


def hammer_mixed() -> Mixed:
    """16 threads: gets, refreshes, invalidations, rotations, clock moves, faults."""
    keys = [f"app/{n}" for n in range(4)]
    source = InMemorySource({k: f"{k}#0" for k in keys}, latency=0.0005)
    clock = FakeClock()
    events: list[RotationEvent] = []
    events_lock = threading.Lock()

    def on_rotation(event: RotationEvent) -> None:
        with events_lock:
            events.append(event)

    # Tallies of the events that may each start one extra load per key (see below).
    tallies = [Counter[str]() for _ in range(THREADS)]
    with SecretCache(
        source=source, clock=clock, ttl=TTL, jitter=0.0, max_size=8, on_rotation=on_rotation
    ) as cache:

        def work(i: int) -> None:
            rng = random.Random(i)
            tally = tallies[i]
            for _ in range(OPS_PER_THREAD):
                key = rng.choice(keys)
                roll = rng.random()
                try:
                    if roll < 0.70:
                        tally["gets"] += 1
                        value = cache.get_secret_string(key)
                        assert value.startswith(f"{key}#"), "a value crossed keys"
                    elif roll < 0.80:
                        tally["refreshes"] += 1
                        cache.refresh(key)
                    elif roll < 0.84:
                        tally["invalidations"] += 1
                        cache.invalidate(key if roll < 0.835 else None)
                    elif roll < 0.94:
                        source.rotate(key, f"{key}#{i}-{rng.random()}")
                    elif roll < 0.97:
                        tally["advances"] += 1
                        clock.advance(TTL + 1.0)  # every entry is due again
                    elif roll < 0.985:
                        source.fail(SecretsManagerThrottledError("slow down"), key)
                    else:
                        source.heal()
                except SecretCacheError:
                    pass  # typed: allowed (faults are injected on purpose)

        failures = run_threads(work)
        stats = cache.stats()
    return Mixed(keys, source, stats, events, sum(tallies, Counter()), failures)


@pytest.mark.usefixtures("switch_interval")
def test_mixed_operations_stay_typed_bounded_and_single_flight() -> None:
    run = hammer_mixed()
    assert run.failures == [], f"untyped errors: {run.failures[:3]!r}"
    total, stats = run.totals, run.stats
    # Every get is counted once, as a hit or as a miss, even under contention.
    assert stats.hits + stats.misses == total["gets"]
    assert stats.size <= 8
    # Single-flight bound: per key, a non-forced load starts only when the key was
    # never loaded, or was invalidated, or the clock moved past its freshness (or its
    # backoff) since the last load; a refresh starts at most one load.
    bound = len(run.keys) * (1 + total["invalidations"] + total["advances"]) + total["refreshes"]
    calls = run.source.calls["GetSecretValue"]
    assert 0 < calls <= bound
    assert dict(stats.api_calls) == dict(run.source.calls)
    # Each rotation the cache saw is reported once: a new version never twice.
    assert stats.rotations == len(run.events)
    assert all(e.old_version_id != e.new_version_id for e in run.events)
    reported = Counter((e.secret_id, e.new_version_id) for e in run.events)
    twice = [e for e in run.events if reported[(e.secret_id, e.new_version_id)] > 1]
    assert not twice, f"{len(twice)} events repeat a rotation: {twice[:2]}"


class GatedSource(InMemorySource):
    """An InMemorySource whose reads of one secret wait until the test opens the gate."""

    def __init__(self, secrets: dict[str, str], gated: str) -> None:
        super().__init__(secrets)
        self.gated = gated
        self.closed = False
        self.entered = threading.Event()
        self.gate = threading.Event()

    def get_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        if secret_id == self.gated and self.closed:
            self.entered.set()
            self.gate.wait(JOIN_TIMEOUT)
        return super().get_secret_value(
            secret_id, version_stage=version_stage, version_id=version_id
        )


def test_invalidating_another_key_does_not_lose_a_refresh() -> None:
    """A load of one key survives an invalidate() of another (it once did not)."""
    source = GatedSource({"a": "old", "b": "b"}, gated="a")
    clock = FakeClock()
    events: list[RotationEvent] = []
    with SecretCache(
        source=source, clock=clock, ttl=TTL, jitter=0.0, on_rotation=events.append
    ) as cache:
        cache.get_secret_string("a")
        cache.get_secret_string("b")
        source.rotate("a", "new")
        source.closed = True
        changed: list[bool] = []
        refresher = threading.Thread(target=lambda: changed.append(cache.refresh("a")))
        refresher.start()
        assert source.entered.wait(JOIN_TIMEOUT)
        cache.invalidate("b")  # another secret entirely
        source.gate.set()
        refresher.join(JOIN_TIMEOUT)
        source.closed = False
        assert changed == [True]
        assert cache.get_secret_string("a") == "new"
        clock.advance(TTL + 1.0)
        cache.get_secret_string("a")
        assert len(events) == 1  # reported once, not again on the next load


@pytest.mark.usefixtures("switch_interval")
def test_many_keys_through_a_small_cache_stay_within_max_size() -> None:
    keys = [f"churn/{n}" for n in range(64)]
    source = InMemorySource({k: f"{k}#0" for k in keys})
    max_size = 16
    sizes: list[int] = []
    with SecretCache(source=source, ttl=TTL, jitter=0.0, max_size=max_size) as cache:

        def work(i: int) -> None:
            rng = random.Random(100 + i)
            for n in range(OPS_PER_THREAD):
                key = rng.choice(keys)
                assert cache.get_secret_string(key) == f"{key}#0"
                if n % 50 == 0:
                    sizes.append(cache.stats().size)

        assert run_threads(work) == []
        sizes.append(cache.stats().size)
    assert max(sizes) <= max_size
    assert source.calls["GetSecretValue"] >= len(keys)
