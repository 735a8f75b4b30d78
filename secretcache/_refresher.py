"""Refresh-ahead: one daemon thread that revalidates entries shortly before they expire.

For long-running services only. Lambda freezes an environment's threads between
invocations, so there the thread would only wake, late, during a request.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from .exceptions import SecretCacheError

if TYPE_CHECKING:
    from ._cache import SecretCache

__all__ = ["RefreshAhead"]

log = logging.getLogger("secretcache")


class RefreshAhead:
    """Revalidate every entry whose freshness ends within ``lead`` seconds."""

    def __init__(
        self, cache: SecretCache, *, lead: float | None = None, poll: float | None = None
    ) -> None:
        ttl = cache._ttl
        # Start early enough that a slow call still lands before expiry, and poll (in
        # real time: the injected clock may be a test's FakeClock) often enough.
        self.lead = lead if lead is not None else min(30.0, max(0.5, ttl * 0.2))
        self.poll = poll if poll is not None else min(1.0, max(0.05, ttl / 20))
        self._cache = cache
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="secretcache-refresh-ahead", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        store = self._cache._store
        while not self._stop.wait(self.poll):
            for key in store.due(self.lead):
                if self._stop.is_set():
                    return
                try:
                    self._cache._get(key, force=True)
                except SecretCacheError as exc:
                    # Readers see the typed error (or the stale value) themselves.
                    log.debug("refresh-ahead of %s failed: %s", key[0], type(exc).__name__)
                except Exception:
                    log.exception("refresh-ahead of %s failed unexpectedly", key[0])

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and wait for it to end."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """Return True while the thread runs."""
        return self._thread.is_alive()
