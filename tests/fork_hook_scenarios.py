"""Fork hooks of other code that use or create caches, run by tests/test_fork_hooks.py.

gunicorn, celery and multiprocessing users register ``os.register_at_fork`` hooks of
their own. One registered *before* ``import secretcache`` runs after secretcache's
``before`` hook and before its ``after_in_*`` hooks; one registered after runs on the
other side of them. Usage::

    python tests/fork_hook_scenarios.py before-import|after-import \
        before|after_in_parent|after_in_child use|create

The hook reads with (``use``) or builds and reads with (``create``) a SecretCache and an
AsyncSecretCache; then the master forks once, and both processes read again. It prints
one JSON document: what the hook saw, what the child read, what the parent read after.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
from pathlib import Path
from typing import Any

ORDER, KIND, ACTION = sys.argv[1:4]
_seen: dict[str, Any] = {}  # what the hook saw, in the process it ran in
_made: list[Any] = []  # caches the hook built
_keys = itertools.count()


def _hook() -> None:
    try:
        _seen.update(_exercise())
    except BaseException as exc:  # reported, not raised: a fork hook's errors are swallowed
        _seen["error"] = f"{type(exc).__name__}: {exc}"


if ORDER == "before-import":
    os.register_at_fork(**{KIND: _hook})

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Imported only now, on purpose: the hook above must be registered before secretcache.
from fork_scenarios import _collect, _fork  # noqa: E402

from secretcache import SecretCache  # noqa: E402
from secretcache.aio import AsyncSecretCache  # noqa: E402
from secretcache.testing import AsyncInMemorySource, InMemorySource  # noqa: E402

if ORDER == "after-import":
    os.register_at_fork(**{KIND: _hook})

SECRETS = {f"k{n}": f"v{n}" for n in range(10)}
sync_cache = SecretCache(source=InMemorySource(SECRETS), ttl=60)
async_cache = AsyncSecretCache(source=AsyncInMemorySource(SECRETS), ttl=60)


def _read(cache: Any) -> str:
    """Read a key this cache has not read yet (a miss: the store's lock, a load)."""
    key = f"k{next(_keys)}"
    if isinstance(cache, AsyncSecretCache):
        return str(asyncio.run(cache.get_secret_string(key)))
    return cache.get_secret_string(key)


def _exercise() -> dict[str, Any]:
    if ACTION == "create":
        _made[:] = [
            SecretCache(source=InMemorySource(SECRETS), ttl=60),
            AsyncSecretCache(source=AsyncInMemorySource(SECRETS), ttl=60),
        ]
        return {"sync": _read(_made[0]), "async": _read(_made[1])}
    # A forced refresh of a cached key too: a read of a key that is not fresh.
    refreshed = sync_cache.refresh("k9")
    return {"sync": _read(sync_cache), "async": _read(async_cache), "refreshed": refreshed}


def _reads() -> dict[str, Any]:
    """Read a new key with each cache there is: the master's and the hook's."""
    return {
        "sync": _read(sync_cache),
        "async": _read(async_cache),
        "made": [_read(cache) for cache in _made],
    }


def main() -> int:
    """Warm the master's caches, fork once, report."""
    sync_cache.get_secret_string("k9")
    asyncio.run(async_cache.get_secret_string("k9"))

    def child() -> dict[str, Any]:
        return {"hook": dict(_seen), "reads": _reads()}

    report = _collect(*_fork(child))
    print(json.dumps({"child": report, "hook": _seen, "parent": _reads()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
