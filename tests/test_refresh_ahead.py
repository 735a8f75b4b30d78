"""Refresh-ahead: a daemon thread revalidates entries before they expire; stops on close().

The thread polls in real time but decides by the injected clock: each test moves the
FakeClock, then waits (bounded, in real time) for stats().refreshes to grow.
"""

from __future__ import annotations

import gc
import threading
import time
import weakref
from collections import Counter
from typing import TYPE_CHECKING, Any

from secretcache import SecretCache, SecretsManagerThrottledError
from secretcache.testing import FakeClock, InMemorySource

if TYPE_CHECKING:
    from collections.abc import Callable

    from secretcache import Secret

TTL = 1.0  # keeps the thread's real-time poll short (ttl/20, at least 50 ms)
WAIT = 60.0  # a hang guard, not a speed limit
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
    assert cache.get_secret_string("s") == "v1"  # the cache itself is still usable...
    assert _threads() == before + 1  # ...with the refresh-ahead it was built with
    refreshes = cache.stats().refreshes
    clock.advance(0.6 * TTL)
    assert _eventually(lambda: cache.stats().refreshes > refreshes)
    cache.close()
    assert _threads() == before


def test_a_cache_dropped_without_close_stops_its_thread() -> None:
    before = _threads()
    cache = SecretCache(source=InMemorySource({"s": "v"}), clock=FakeClock(), refresh_ahead=True)
    cache.get_secret_string("s")
    ref = weakref.ref(cache)
    del cache
    gc.collect()
    assert ref() is None  # the thread does not keep the cache alive...
    assert _eventually(lambda: _threads() == before)  # ...and ends without it


class KeyCountingSource(InMemorySource):
    """Count GetSecretValue calls per secret id."""

    def __init__(self, secrets: dict[str, str]) -> None:
        super().__init__(secrets)
        self.reads: Counter[str] = Counter()

    def get_secret_value(self, secret_id: str, **kwargs: Any) -> Secret:
        self.reads[secret_id] += 1
        return super().get_secret_value(secret_id, **kwargs)


def test_only_stage_entries_in_use_are_refreshed() -> None:
    source = KeyCountingSource({"cold": "c", "pinned": "p", "hot": "h"})
    pinned_version = source.get_secret_value("pinned").version_id
    source.reads.clear()
    clock = FakeClock()
    with SecretCache(source=source, clock=clock, ttl=TTL, jitter=0, refresh_ahead=True) as cache:
        # Loaded in this order, so each pass of the thread looks at "hot" last.
        cache.get_secret_string("cold")
        cache.get_secret_string("pinned", version_id=pinned_version)
        cache.get_secret_string("hot")
        for round_ in range(1, 4):
            clock.advance(0.6 * TTL)  # everything loaded last round is due now
            assert _eventually(lambda r=round_: source.reads["hot"] > r)
            cache.get_secret_string("hot")  # only "hot" is read between refreshes
        # "cold" was refreshed once (a reader had loaded it), then left to expire;
        # a VersionId's value never changes, so it is never refreshed.
        assert source.reads == {"cold": 2, "pinned": 1, "hot": 4}


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
