"""Why the cache is calling its source now: context for observers of its API calls.

A source wrapped by an observer (``secretcache.integrations.opentelemetry``'s tracing
source) reads these to say why each call was made. The cache sets them on loads only,
never on a hit, so an uninstrumented cache pays a context-variable write per load (a
fraction of a microsecond beside an API call) and nothing per hit. Only strings and
booleans are kept: no value, no secret, no reference to an entry.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import TYPE_CHECKING, Protocol, TypeVar

from ..exceptions import SecretCacheError
from .rules import keeps_stale

if TYPE_CHECKING:
    from collections.abc import Generator, Iterator

__all__ = ["LOAD", "OCCASION", "during", "load_reason", "occasion", "serves_stale"]

R = TypeVar("R")
A = TypeVar("A")
T = TypeVar("T")

#: Set while the plans of the operations whose loads are not plain reads run
#: (``during``): "rotation_look" (rotation_candidate), "prefetch" (its batches and its
#: single reads); and "refresh_ahead" in the refresh-ahead thread. None inside
#: get_secret() and friends, and refresh().
OCCASION: ContextVar[str | None] = ContextVar("secretcache_occasion", default=None)

#: The load this context is driving: (reason, stale_ready). The cache sets it when it
#: plans a load, before the load's first call; an async load runs in its own task (its
#: own context), a sync one in its caller's thread, where the next load sets it again.
LOAD: ContextVar[tuple[str, bool]] = ContextVar("secretcache_load", default=("load", False))


class _Deadlines(Protocol):
    fresh_until: float
    stale_until: float


@contextlib.contextmanager
def occasion(name: str) -> Iterator[None]:
    """Mark the loads started inside the block as made for ``name``."""
    token = OCCASION.set(name)
    try:
        yield
    finally:
        OCCASION.reset(token)


def during(name: str, plan: Generator[R, A, T]) -> Generator[R, A, T]:
    """Return ``plan`` with the loads it starts marked as made for ``name``.

    The occasion is set in the context of whoever drives the plan (``run`` in the
    caller's thread, ``arun`` in its task) from the plan's first step to its end, so the
    requests it yields, and the loads they start (a task copies its context when it is
    created), carry it; the driver closes an abandoned plan itself, in that context.
    """
    with occasion(name):
        return (yield from plan)


def load_reason(force: bool, entry: _Deadlines | None, now: float) -> tuple[str, bool]:
    """Return (why a load is made, whether an expired value stands ready to be served).

    The reason is the occasion if one is set, else "refresh" (a forced load), else
    "revalidate" (an entry is cached) or "load" (a cold key). A value stands ready when
    the load revalidates an expired entry within its stale window (not forced: a
    refresh never serves stale).
    """
    stale = entry is not None and not force and entry.fresh_until <= now < entry.stale_until
    reason = OCCASION.get()
    if reason is None:
        reason = "refresh" if force else "load" if entry is None else "revalidate"
    return reason, stale


def serves_stale(ready: bool, error: BaseException) -> bool:
    """Return True if a load whose value stood ``ready`` serves it instead of ``error``."""
    return ready and isinstance(error, SecretCacheError) and keeps_stale(error)
