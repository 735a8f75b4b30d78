"""Fork safety: what a forked child must not share with its parent, reset in one place.

gunicorn ``--preload`` and multiprocessing fork a process that may already hold a
cache: its locks (possibly held, at the fork, by a thread the child does not have),
loads in flight (whose loading thread the child does not have either: waiting for them
would hang), a refresh-ahead thread (gone), and, worst, a pooled keep-alive connection
to Secrets Manager. Two children writing requests into one inherited socket read each
other's answers: each would cache the other's secret.

Objects with such state register here; in a child each one's ``_after_fork_in_child()``
is called once, before anything in the child can wait on what it holds. The child
resets at the first of: secretcache's ``after_in_child`` hook, or the first lock taken
or object registered in the child. That matters because other code's fork hooks run
first when they were registered before ``import secretcache`` (gunicorn, celery and
multiprocessing users register them): such a hook may read or build a cache in the
child before secretcache's own hook has run.

No lock is held across a fork, so a fork hook of other code may also read or build a
cache in the parent (its ``before`` hook runs after ours when registered first): the
parent cannot hang on our account. What the child inherits is consistent without one:
the GIL makes each change of a map atomic, and a thread the fork stopped half-way
through a bookkeeping step leaves what a fork a moment earlier or later would have.
The registry holds its objects weakly: registering keeps nothing alive.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

from .logs import log

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["ForkSafeLock", "catch_up", "register"]


_live: weakref.WeakSet[Any] = weakref.WeakSet()
# The process whose state the registered objects hold (a child not yet reset differs).
_owner = os.getpid()
# Forks under way, from our ``before`` hook to our ``after_in_parent``: a child inherits
# a count above zero, so that locks check the pid (a system call) only while it is.
_forks = 0
_forks_lock = threading.Lock()  # held for an increment only, never across the fork
# Made anew before each fork and never taken in the parent: a child inherits it free.
_reset_lock = threading.Lock()


def register(obj: object) -> None:
    """Reset ``obj`` in every process forked from this one from now on."""
    catch_up()  # built in another fork hook, in a child not yet reset: reset it first
    _live.add(obj)


def catch_up() -> None:
    """Reset what this process inherited, if it is a child that has not yet done so."""
    if os.getpid() != _owner:
        with _reset_lock:
            if os.getpid() != _owner:
                _reset()


class ForkSafeLock:
    """A lock that a forked child gets anew: never inherited held by a thread it lacks.

    For locks held briefly around bookkeeping (a store's maps, a counter, a lazily
    built client): a thread of the parent may hold one at the moment of the fork, and
    that thread does not exist in the child, so nobody would ever release it there.
    Taking one in a child that has not yet reset resets it first.
    """

    __slots__ = ("__weakref__", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        register(self)

    def __enter__(self) -> ForkSafeLock:
        if _forks:
            catch_up()
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


def _reset() -> None:
    """Reset every registered object once in this child (locks first: the rest take them)."""
    global _owner, _forks, _forks_lock
    _owner = os.getpid()
    _forks = 0
    _forks_lock = threading.Lock()  # another thread of the parent may have held it
    objects = list(_live)
    objects.sort(key=lambda obj: not isinstance(obj, ForkSafeLock))
    for obj in objects:
        hook = getattr(obj, "_after_fork_in_child", None)
        if hook is None:
            continue
        try:
            hook()
        except Exception:  # one broken object must not leave the others un-reset
            log.exception("secretcache: resetting %r after a fork failed", obj)


def _before() -> None:
    global _forks, _reset_lock
    catch_up()  # a fork from a child not yet reset (in another fork hook) inherits its locks
    with _forks_lock:
        _forks += 1
    _reset_lock = threading.Lock()


def _after_in_parent() -> None:
    global _forks
    with _forks_lock:
        _forks -= 1


if hasattr(os, "register_at_fork"):  # absent on Windows, which has no fork()
    os.register_at_fork(before=_before, after_in_parent=_after_in_parent, after_in_child=catch_up)
