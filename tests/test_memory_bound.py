"""Bounded memory: 100,000 distinct secrets through a cache of 1,024 entries, and more.

The size never passes max_size, and the memory the cache holds (traced with
tracemalloc) stops growing once it is full: what 1,024 ids cost, 100,000 cost too.
"""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from secretcache import SecretAccessDeniedError, SecretCache, SecretMetadata
from secretcache.testing import FakeClock, InMemorySource

IDS = 100_000
MAX_SIZE = 1024
# Growth allowed between "full" and "after 100,000 ids": dict resizes and allocator
# noise, far below one more entry per 100 ids (which would be ~250 KB here).
SLACK = 64 * 1024


@pytest.mark.slow
def test_hundred_thousand_ids_stay_within_max_size_and_flat_memory() -> None:
    names = [f"tenant/{n:06d}/db" for n in range(IDS)]
    source = InMemorySource({name: f"pw-{n:06d}" for n, name in enumerate(names)})
    clock = FakeClock()
    cache = SecretCache(source=source, clock=clock, ttl=300.0, max_size=MAX_SIZE)
    sizes: list[int] = []
    gc.collect()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        for name in names[:MAX_SIZE]:
            cache.get_secret_string(name)
        gc.collect()
        full = tracemalloc.get_traced_memory()[0]
        for n in range(MAX_SIZE, IDS):
            value = cache.get_secret_string(names[n])
            if n % 1000 == 0:
                assert value == f"pw-{n:06d}"
                sizes.append(cache.stats().size)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    stats = cache.stats()
    cache.close()

    assert max(sizes) <= MAX_SIZE
    assert stats.size == MAX_SIZE
    assert stats.misses == IDS
    assert stats.api_calls == {"GetSecretValue": IDS}
    growth = after - full
    print(
        f"\nretained: {full - baseline} B at {MAX_SIZE} ids "
        f"({(full - baseline) / MAX_SIZE:.0f} B/entry incl. the Secret), "
        f"{after - baseline} B at {IDS} ids (growth {growth} B)"
    )
    assert growth < SLACK, f"memory grew by {growth} bytes after the cache was full"


class _NoDescribe(InMemorySource):
    """DescribeSecret denied for every secret (a least-privilege role)."""

    def describe_secret(self, secret_id: str) -> SecretMetadata:
        self.calls["DescribeSecret"] += 1
        raise SecretAccessDeniedError("no DescribeSecret", code="AccessDeniedException")


@pytest.mark.slow
def test_describe_mode_denied_for_twenty_thousand_ids_stays_bounded() -> None:
    count, size = 20_000, 10
    names = [f"tenant/{n:05d}" for n in range(count)]
    source = _NoDescribe(dict.fromkeys(names, "pw"))
    clock = FakeClock()
    cache = SecretCache(
        source=source, clock=clock, ttl=60.0, jitter=0.0, max_size=size, revalidate="describe"
    )

    def revalidate(batch: list[str]) -> None:
        for name in batch:
            cache.get_secret_string(name)  # cold: GetSecretValue
        clock.advance(60.0)
        for name in batch:
            cache.get_secret_string(name)  # DescribeSecret denied: falls back to get

    gc.collect()
    tracemalloc.start()
    try:
        for start in range(0, 1000, size):
            revalidate(names[start : start + size])
        gc.collect()
        full = tracemalloc.get_traced_memory()[0]
        for start in range(1000, count, size):
            revalidate(names[start : start + size])
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert source.calls["DescribeSecret"] == count  # each asked once, then "get" for it
    growth = after - full
    print(f"\ndescribe denied for {count} ids: growth {growth} B after the first 1,000")
    assert growth < SLACK
