"""SecretCacheHook: transform what the cache stores and what it hands back."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

__all__ = ["SecretCacheHook"]


class SecretCacheHook(ABC):
    """Transform each response before it is stored (``put``) and after it is read (``get``).

    Given as ``SecretCacheConfig(secret_cache_hook=...)``. ``put`` receives each
    DescribeSecret and GetSecretValue response (a dict) and returns what to keep, e.g.
    the value encrypted under a key held elsewhere; ``get`` receives what ``put``
    returned and gives back the response dict, on every read. ``get`` may be called
    from several threads at once: keep it free of shared mutable state, or lock.
    """

    @abstractmethod
    def put(self, obj: Any) -> Any:
        """Return what to store for the response ``obj``."""

    @abstractmethod
    def get(self, cached_obj: Any) -> Any:
        """Return the response rebuilt from ``cached_obj`` (what ``put`` returned)."""
