"""Freshness draws: a cold load's first freshness spreads over cold_jitter, later ones jitter.

A fleet that starts (or reloads) together must not refresh together. Each test holds
200 keys in one cache on a FakeClock with a seeded ``rng``, reads every key every half
second and notes the moments a read needed an API call: with reads on a grid, a value
fresh for f seconds is reloaded at the first grid point at or after f, so the ranges
below are exact, not statistical.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import types
from typing import TYPE_CHECKING, Any

import pytest

from secretcache import (
    SecretAccessDeniedError,
    SecretCache,
    SecretCacheError,
    SecretsManagerUnavailableError,
)
from secretcache.aio import AsyncSecretCache
from secretcache.testing import FakeClock, InMemorySource

if TYPE_CHECKING:
    from collections.abc import Callable

    from secretcache import Secret

TTL = 100.0
STEP = 0.5
KEYS = [f"app/{n:03d}" for n in range(200)]
COLD = (TTL * (1 - 0.9), TTL)  # the defaults: cold_jitter=0.9 ...
WARM = (TTL * (1 - 0.1), TTL)  # ... and jitter=0.1


class Fleet:
    """One cache over KEYS, and the moments each key was loaded."""

    def __init__(self, **options: Any) -> None:
        self.source = InMemorySource(dict.fromkeys(KEYS, "v"))
        self.clock = FakeClock()
        options.setdefault("rng", random.Random(18))
        self.cache = SecretCache(source=self.source, clock=self.clock, ttl=TTL, **options)

    def read_all(self, keys: list[str] = KEYS) -> list[str]:
        """Read every key once now; return the keys whose read made an API call."""
        loaded = []
        for key in keys:
            before = self.source.calls["GetSecretValue"]
            self.cache.get_secret_string(key)
            if self.source.calls["GetSecretValue"] != before:
                loaded.append(key)
        return loaded

    def loads(self, horizon: float) -> dict[str, list[float]]:
        """Read every key every STEP seconds for ``horizon`` seconds; return load times."""
        start = self.clock()
        times: dict[str, list[float]] = {key: [] for key in KEYS}
        for _ in range(round(horizon / STEP)):
            self.clock.advance(STEP)
            for key in self.read_all():
                times[key].append(self.clock() - start)
        return times


def _freshness(times: dict[str, list[float]], n: int) -> list[float]:
    """Return each key's n-th freshness (0: the one loaded at the start of ``loads``)."""
    return [t[n] - (t[n - 1] if n else 0.0) for t in times.values()]


def _spread_over(values: list[float], low: float, high: float) -> None:
    """Assert every value lies in (low, high] and the values cover that range."""
    assert all(low < v <= high for v in values), (min(values), max(values))
    width = high - low
    assert min(values) < low + 0.1 * width
    assert max(values) > high - 0.1 * width
    below_middle = sum(v <= low + width / 2 for v in values)
    assert 0.3 * len(values) < below_middle < 0.7 * len(values)


def test_first_freshness_spreads_over_the_cold_range_later_ones_over_jitter() -> None:
    fleet = Fleet()
    assert fleet.read_all() == KEYS  # 200 cold loads at the same instant
    times = fleet.loads(2 * TTL)
    _spread_over(_freshness(times, 0), *COLD)
    _spread_over(_freshness(times, 1), *WARM)


def test_cold_jitter_is_the_documented_range_and_zero_turns_it_off() -> None:
    wide = Fleet(cold_jitter=0.5)
    wide.read_all()
    _spread_over(_freshness(wide.loads(TTL), 0), TTL * 0.5, TTL)
    # cold_jitter=0: the first freshness is drawn like every later one.
    narrow = Fleet(jitter=0.2, cold_jitter=0.0)
    narrow.read_all()
    _spread_over(_freshness(narrow.loads(TTL), 0), TTL * 0.8, TTL)
    # A jitter wider than cold_jitter: cold loads are never narrower than later ones.
    widest = Fleet(jitter=0.6, cold_jitter=0.3)
    widest.read_all()
    _spread_over(_freshness(widest.loads(TTL), 0), TTL * 0.4, TTL)


@pytest.mark.parametrize("rng", [None, random.Random(18)], ids=["own rng", "seeded rng"])
def test_jitter_zero_is_an_exact_ttl_cold_or_not(rng: random.Random | None) -> None:
    fleet = Fleet(jitter=0, cold_jitter=0.9, rng=rng)
    fleet.read_all()
    times = fleet.loads(2 * TTL)
    assert set(_freshness(times, 0)) == {TTL}
    assert set(_freshness(times, 1)) == {TTL}


@pytest.fixture
def restore_hooks(monkeypatch: pytest.MonkeyPatch) -> list[Callable[[], object]]:
    """Stand in for the Lambda runtime's snapshot_restore_py; collect registered hooks."""
    registered: list[Callable[[], object]] = []
    module = types.ModuleType("snapshot_restore_py")
    module.register_after_restore = registered.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", module)
    return registered


def _invalidated(fleet: Fleet) -> None:
    fleet.cache.invalidate()


def _evicted(fleet: Fleet) -> None:
    for n in range(len(KEYS)):  # as many other secrets as the cache holds
        fleet.source.put(f"other/{n}", "x")
        fleet.cache.get_secret_string(f"other/{n}")


def _failed(error: SecretCacheError) -> Callable[[Fleet], None]:
    def fail(fleet: Fleet) -> None:
        fleet.clock.advance(TTL)  # every key expired
        fleet.source.fail(error)
        for key in KEYS:
            with contextlib.suppress(type(error)):  # served stale if transient, else raised
                fleet.cache.get_secret_string(key)
        assert fleet.cache.stats().errors == len(KEYS)
        fleet.source.heal()
        fleet.clock.advance(2.0)  # past the first backoff step (1 s, +20 % at most)

    return fail


@pytest.mark.parametrize(
    "how",
    [
        _invalidated,
        _evicted,
        _failed(SecretAccessDeniedError("denied", code="AccessDeniedException")),
        _failed(SecretsManagerUnavailableError("down", code="InternalServiceError")),
    ],
    ids=["invalidate", "eviction", "terminal error", "recovery from an outage"],
)
def test_a_load_with_no_good_entry_before_it_is_cold(how: Callable[[Fleet], None]) -> None:
    # Every one of these can happen to a whole fleet at once (an invalidate() on a
    # broadcast, a revoked and restored permission, an outage): spread what follows.
    fleet = Fleet(max_size=len(KEYS))
    fleet.read_all()
    fleet.clock.advance(TTL / 2)
    how(fleet)
    assert fleet.read_all() == KEYS
    times = fleet.loads(2 * TTL)
    _spread_over(_freshness(times, 0), *COLD)
    _spread_over(_freshness(times, 1), *WARM)


def test_the_load_after_a_snapshot_restore_is_cold(
    restore_hooks: list[Callable[[], object]],
) -> None:
    # Environments restored from one snapshot hold the same entries: without a cold
    # draw their next refreshes would come all at once, TTL after TTL.
    fleet = Fleet()
    fleet.read_all()
    fleet.clock.advance(TTL / 2)
    for hook in restore_hooks:
        hook()
    assert fleet.read_all() == KEYS  # nothing from the snapshot is served unrevalidated
    times = fleet.loads(2 * TTL)
    _spread_over(_freshness(times, 0), *COLD)
    _spread_over(_freshness(times, 1), *WARM)


def test_refreshes_of_a_warm_key_stay_in_the_jitter_range() -> None:
    fleet = Fleet()
    fleet.read_all()
    times = fleet.loads(4 * TTL)
    for n in (1, 2, 3):
        _spread_over(_freshness(times, n), *WARM)
    # refresh() of a warm key is a refresh too.
    for key in KEYS:
        fleet.cache.refresh(key)
    _spread_over(_freshness(fleet.loads(TTL), 0), *WARM)


class _Async:
    """InMemorySource's GetSecretValue as a coroutine, for an AsyncSecretCache."""

    def __init__(self, inner: InMemorySource) -> None:
        self.inner = inner

    async def get_secret_value(self, secret_id: str, **kwargs: Any) -> Secret:
        return self.inner.get_secret_value(secret_id, **kwargs)


def test_the_async_cache_draws_the_same_way() -> None:
    source = InMemorySource(dict.fromkeys(KEYS, "v"))
    clock = FakeClock()
    cache = AsyncSecretCache(
        source=_Async(source),  # type: ignore[arg-type]
        clock=clock,
        ttl=TTL,
        cold_jitter=0.5,
        rng=random.Random(18),
    )
    first: dict[str, float] = {}

    async def walk() -> None:
        for key in KEYS:
            await cache.get_secret_string(key)
        start = clock()
        while len(first) < len(KEYS):
            clock.advance(STEP)
            for key in KEYS:
                before = source.calls["GetSecretValue"]
                await cache.get_secret_string(key)
                if key not in first and source.calls["GetSecretValue"] != before:
                    first[key] = clock() - start

    asyncio.run(walk())
    _spread_over(list(first.values()), TTL * 0.5, TTL)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"cold_jitter": 1.0}, ValueError),
        ({"cold_jitter": -0.1}, ValueError),
        ({"cold_jitter": "0.9"}, TypeError),
        ({"rng": 18}, TypeError),
        ({"rng": random.random}, TypeError),
    ],
)
def test_bad_spread_arguments(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        SecretCache(source=InMemorySource(), **options)
    with pytest.raises(error):
        AsyncSecretCache(source=_Async(InMemorySource()), **options)  # type: ignore[arg-type]
