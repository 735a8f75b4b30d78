"""Lambda SnapStart: after a snapshot is restored, revalidate every cache's entries."""

from __future__ import annotations

import importlib
import sys
import weakref
from typing import TYPE_CHECKING, Any

from .forksafe import ForkSafeLock

if TYPE_CHECKING:
    from .store import Store

__all__ = ["register_snapstart"]

# One restore hook for every cache of the process (the runtime keeps each hook
# registered for good: one per cache would grow with every cache built).
_stores: weakref.WeakSet[Store[Any, Any]] = weakref.WeakSet()
_lock = ForkSafeLock()
_module: object = None  # the runtime module our hook is registered with
_missing = False  # the import failed once: do not search the path again


def register_snapstart(store: Store[Any, Any]) -> None:
    """Mark every entry of ``store`` stale after a SnapStart restore, if the runtime has hooks."""
    global _module, _missing
    module: Any = sys.modules.get("snapshot_restore_py")
    if module is None:
        if _missing:
            return
        try:
            module = importlib.import_module("snapshot_restore_py")
        except ImportError:
            _missing = True
            return
    with _lock:
        _stores.add(store)
        if _module is not module:
            module.register_after_restore(_after_restore)
            _module = module


def _after_restore() -> None:
    for store in list(_stores):
        # A snapshot may be restored long after it was taken: don't serve its values,
        # not even stale, before they are revalidated.
        store.expire(servable=False)
        store.diverge()  # copies of one snapshot: same deadlines, same RNG state
