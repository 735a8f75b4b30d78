"""What ``SecretCache._get_cached_secret(secret_id)`` returns: the official package's seam.

aws-secretsmanager-caching keeps one ``SecretCacheItem`` per secret, and users reach
it through the private ``_get_cached_secret`` to force a refresh after a failed login
(its issue #16: ``cache._get_cached_secret(secret_id).refresh_secret_now()``), since
1.1 also offered as ``cache.refresh_secret_now(secret_id)``. compat has no such item:
this handle is a view of the secret in the cache that made it, offering what callers
of the seam use. It holds no value, so there is nothing to redact in it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

__all__ = ["CachedSecret"]


class _Cache(Protocol):
    """What the handle asks of the compat ``SecretCache`` that made it."""

    def refresh_secret_now(self, secret_id: str) -> bool: ...

    def _refresh_due(self, secret_id: str) -> tuple[datetime, float]: ...


class CachedSecret:
    """One secret of a compat ``SecretCache``, as ``_get_cached_secret`` hands it out."""

    __slots__ = ("_cache", "_secret_id")

    def __init__(self, cache: _Cache, secret_id: str) -> None:
        self._cache = cache
        self._secret_id = secret_id

    def refresh_secret_now(self) -> bool:
        """Ask DescribeSecret now, as ``cache.refresh_secret_now(secret_id)`` does."""
        return self._cache.refresh_secret_now(self._secret_id)

    @property
    def _next_refresh_time(self) -> datetime:
        """Return when the stage map is asked again (UTC; in the past: at the next read).

        The official item's attribute of that name. Before the first DescribeSecret it
        is the moment the cache was built: due now, as the official item starts.
        """
        built_at, seconds = self._cache._refresh_due(self._secret_id)
        return built_at + timedelta(seconds=seconds)

    def __repr__(self) -> str:
        return f"<secretcache.compat cached secret {self._secret_id!r}>"
