"""Fork safety: what a forked child must not share with its parent, reset in one place.

gunicorn ``--preload`` and multiprocessing fork a process that may already hold a
cache: its locks (possibly held, at the fork, by a thread the child does not have),
loads in flight (whose loading thread the child does not have either: waiting for them
would hang), a refresh-ahead thread (gone), and, worst, a pooled keep-alive connection
to Secrets Manager. Two children writing requests into one inherited socket read each
other's answers: each would cache the other's secret.

Objects with such state register here; ``os.register_at_fork`` then calls, in the
child, each one's ``_after_fork_in_child()``. Objects whose state must be consistent at
the moment of the fork (the store's map) also get ``_before_fork()`` and
``_after_fork_in_parent()``, which take and release their lock around the fork.
The registry holds its objects weakly: registering keeps nothing alive.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["ForkSafeLock", "register"]

log = logging.getLogger("secretcache")

_live: weakref.WeakSet[Any] = weakref.WeakSet()
# Held from before a fork to after it, so that no object registers in between: the
# hooks after the fork must work on exactly the objects whose hooks ran before it (a
# lock released after the fork must be one that was taken before it).
_registering = threading.Lock()
_forking: list[Any] = []


def register(obj: object) -> None:
    """Reset ``obj`` in every process forked from this one from now on."""
    with _registering:
        _live.add(obj)


class ForkSafeLock:
    """A lock that a forked child gets anew: never inherited held by a thread it lacks.

    For locks held briefly around bookkeeping (a counter, a lazily built client): a
    thread of the parent may hold one at the moment of the fork, and that thread does
    not exist in the child, so nobody would ever release it there.
    """

    __slots__ = ("__weakref__", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        register(self)

    def __enter__(self) -> ForkSafeLock:
        self._lock.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._lock.release()

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()


def _call_each(method: str) -> None:
    for obj in _forking:
        hook = getattr(obj, method, None)
        if hook is None:
            continue
        try:
            hook()
        except Exception:  # one broken object must not leave the others un-reset
            log.exception("secretcache: %s of %r failed", method, obj)


def _before() -> None:
    _registering.acquire()
    _forking[:] = list(_live)
    _call_each("_before_fork")


def _after_in_parent() -> None:
    try:
        _call_each("_after_fork_in_parent")
    finally:
        _forking.clear()
        _registering.release()


def _after_in_child() -> None:
    global _registering
    _registering = threading.Lock()  # the parent's is held, by the thread that forked
    try:
        _call_each("_after_fork_in_child")
    finally:
        _forking.clear()


if hasattr(os, "register_at_fork"):  # absent on Windows, which has no fork()
    os.register_at_fork(
        before=_before, after_in_parent=_after_in_parent, after_in_child=_after_in_child
    )
