"""Home of ``secretcache.compat.cache.secret_cache_hook``, as in the official package.

aws-secretsmanager-caching's ``cache`` package also holds its internals
(``SecretCacheItem``, ``SecretCacheVersion``, ``SecretCacheObject``, ``LRUCache``), which
it documents as subject to change; secretcache's engine replaces them, so they have no
counterpart here.
"""

from .secret_cache_hook import SecretCacheHook

__all__ = ["SecretCacheHook"]
