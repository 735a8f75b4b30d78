"""A cache's source, built from its arguments: one region's, or failover across regions.

Kept apart from ``failover`` and ``_core.regions`` so that a cache with no fallback regions
(most of them, and every Lambda cold start) never imports the failover machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import random
    from collections.abc import Callable

__all__ = ["build_source"]


def build_source(
    region_source: Callable[..., Any],
    asynchronous: bool,
    client: Any,
    session: Any,
    regions: tuple[str, ...],
    clients: tuple[Any, ...],
    *,
    clock: Callable[[], float],
    rng: random.Random | None,
) -> Any:
    """Return a cache's source: one region's, or failover over several regions'.

    ``region_source`` is BotocoreSource or AioBotocoreSource; with fallbacks, the source
    is a FailoverSource (``asynchronous``: an AsyncFailoverSource) over them.
    """
    fallbacks = [region_source(session=session, region_name=r) for r in regions]
    fallbacks += [region_source(c) for c in clients]
    if not fallbacks:
        return region_source(client, session)
    failover: Callable[..., Any]
    if asynchronous:
        from .aio_failover import AsyncFailoverSource as failover
    else:
        from .failover import FailoverSource as failover
    # A primary built here sends each request once: its fallbacks are its retries.
    primary = region_source(client, session, single_attempt=client is None)
    return failover(primary, fallbacks, clock=clock, rng=rng)
