"""Refresh-ahead: one daemon thread that revalidates entries shortly before they expire.

For long-running services only. Lambda freezes an environment's threads between
invocations, so there the thread would only wake, late, during a request.

What it refreshes: stage entries that someone read since they were last loaded. A
VersionId's value never changes, so refreshing it would only spend API calls; and an
entry the thread loaded itself that nobody has read since is left to expire, or a
secret read once would be fetched every TTL for as long as the process lives.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import TYPE_CHECKING, Protocol

from ._core.observe import OCCASION
from .exceptions import SecretCacheError

if TYPE_CHECKING:
    from ._core.models import Key, Secret
    from ._core.store import Entry, Store

__all__ = ["RefreshAhead", "Refreshed"]

log = logging.getLogger("secretcache")


class Refreshed(Protocol):
    """What refresh-ahead reads and drives of the cache it keeps fresh (a SecretCache)."""

    _ttl: float
    _store: Store[Key, Secret]

    def _get(self, key: Key, *, force: bool = False) -> Entry[Secret]: ...


class RefreshAhead:
    """Revalidate the entries in use whose freshness ends within ``lead`` seconds."""

    def __init__(
        self, cache: Refreshed, *, lead: float | None = None, poll: float | None = None
    ) -> None:
        ttl = cache._ttl
        # Start early enough that a slow call still lands before expiry, and poll (in
        # real time: the injected clock may be a test's FakeClock) often enough.
        self.lead = lead if lead is not None else min(30.0, max(0.5, ttl * 0.2))
        self.poll = poll if poll is not None else min(1.0, max(0.05, ttl / 20))
        self._stop = threading.Event()
        # The thread holds the cache weakly: a cache dropped without close() is
        # collected, and its thread ends at its next poll.
        self._thread = threading.Thread(
            target=_run,
            args=(weakref.ref(cache), self._stop, self.lead, self.poll),
            name="secretcache-refresh-ahead",
            daemon=True,
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and wait for it to end."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def stopped(self) -> bool:
        """Return True once ``stop()`` was called."""
        return self._stop.is_set()

    @property
    def alive(self) -> bool:
        """Return True while the thread runs."""
        return self._thread.is_alive()


def _run(
    ref: weakref.ReferenceType[Refreshed], stop: threading.Event, lead: float, poll: float
) -> None:
    # The entry this thread last loaded per key: while it is still the cached one and
    # nobody read it (its CLOCK bit is clear), nobody needs it kept fresh.
    loaded: dict[Key, Entry[Secret]] = {}
    OCCASION.set("refresh_ahead")  # this thread's own context: its loads say why
    while not stop.wait(poll):
        cache = ref()
        if cache is None:
            return
        store = cache._store
        for key in store.due(lead):
            if stop.is_set():
                return
            entry = store.data.get(key)
            if key[1] is None or entry is None:
                continue
            if loaded.get(key) is entry and not entry.referenced:
                continue
            try:
                loaded[key] = cache._get(key, force=True)
            except SecretCacheError as exc:
                # Readers see the typed error (or the stale value) themselves.
                log.debug("refresh-ahead of %s failed: %s", key[0], type(exc).__name__)
            except Exception:
                log.exception("refresh-ahead of %s failed unexpectedly", key[0])
        for key in [k for k, e in loaded.items() if store.data.get(k) is not e]:
            del loaded[key]
        del cache, store  # hold no strong reference while waiting
