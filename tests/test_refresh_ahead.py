"""Refresh-ahead: a daemon thread revalidates entries before they expire; stops on close().

The thread polls in real time but decides by the injected clock: each test moves the
FakeClock, then waits (bounded, in real time) for stats().refreshes to grow.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from secretcache import SecretCache, SecretsManagerThrottledError
from secretcache.testing import FakeClock, InMemorySource

if TYPE_CHECKING:
    from collections.abc import Callable

TTL = 1.0  # keeps the thread's real-time poll short (ttl/20, at least 50 ms)
WAIT = 10.0
THREAD = "secretcache-refresh-ahead"


def _eventually(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def _threads() -> int:
    return sum(t.name == THREAD for t in threading.enumerate())


def test_no_thread_unless_asked() -> None:
    before = _threads()
    with SecretCache(source=InMemorySource({"s": "v"}), clock=FakeClock()) as cache:
        cache.get_secret_string("s")
        assert _threads() == before


def test_entries_are_refreshed_before_expiry_so_readers_never_miss() -> None:
    source = InMemorySource({"s": "v1"})
    clock = FakeClock()
    with SecretCache(source=source, clock=clock, ttl=TTL, jitter=0, refresh_ahead=True) as cache:
        assert cache.get_secret_string("s") == "v1"
        for round_ in range(3):
            if round_ == 1:
                source.rotate("s", "v2")
            refreshes = cache.stats().refreshes
            clock.advance(0.6 * TTL)  # now inside the refresh-ahead window
            assert _eventually(lambda r=refreshes: cache.stats().refreshes > r)
            clock.advance(0.5 * TTL)  # past the old expiry: still a hit
            cache.get_secret_string("s")
        assert cache.get_secret_string("s") == "v2"
        stats = cache.stats()
        assert stats.misses == 1  # only the cold read
        assert stats.stale_served == 0
        assert stats.rotations == 1


def test_close_stops_the_thread() -> None:
    before = _threads()
    source = InMemorySource({"s": "v1"})
    clock = FakeClock()
    cache = SecretCache(source=source, clock=clock, ttl=TTL, jitter=0, refresh_ahead=True)
    assert _threads() == before + 1
    cache.get_secret_string("s")
    cache.close()  # joins the thread
    assert _threads() == before
    assert cache.get_secret_string("s") == "v1"  # the cache itself is still usable


def test_a_failing_refresh_ahead_leaves_readers_served() -> None:
    source = InMemorySource({"s": "v1"})
    clock = FakeClock()
    with SecretCache(source=source, clock=clock, ttl=TTL, jitter=0, refresh_ahead=True) as cache:
        cache.get_secret_string("s")
        source.fail(SecretsManagerThrottledError("slow", code="ThrottlingException"))
        clock.advance(0.6 * TTL)
        assert _eventually(lambda: cache.stats().errors >= 1)
        assert cache.get_secret_string("s") == "v1"  # still fresh
        clock.advance(0.5 * TTL)
        assert cache.get_secret_string("s") == "v1"  # stale within max_stale
        # The failure is remembered: the thread does not hammer a throttled key.
        assert source.calls["GetSecretValue"] <= 3
