"""A cache's source, built from its arguments: one region's, or failover across regions.

Kept apart from ``_failover`` and ``_regions`` so that a cache with no fallback regions
(most of them, and every Lambda cold start) never imports the failover machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import random
    from collections.abc import Callable

__all__ = ["build_source", "check_fallbacks"]


def check_fallbacks(
    fallback_regions: Any, fallback_clients: Any, *, client: Any, source: Any
) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """Check a cache's fallback arguments; return them as tuples (TypeError/ValueError)."""
    regions = _sequence("fallback_regions", fallback_regions)
    clients = _sequence("fallback_clients", fallback_clients)
    for region in regions:
        if not isinstance(region, str):
            raise TypeError(f"a fallback region must be a str, not {type(region).__name__}")
        if not region.strip() or region != region.strip():
            raise ValueError(f"{region!r} is not a region name")
    if len(set(regions)) != len(regions):
        raise ValueError(f"fallback_regions names a region twice: {regions!r}")
    if regions and clients:
        raise TypeError("pass fallback_regions or fallback_clients, not both")
    if source is not None and (regions or clients):
        raise TypeError(
            "a source= reads where it reads: compose failover with FailoverSource instead"
        )
    if client is not None and regions:
        raise TypeError(
            "fallback_regions builds clients from session= (or the default credentials), "
            "not from a client=: pass ready clients as fallback_clients"
        )
    return regions, clients


def _sequence(name: str, value: Any) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a sequence, e.g. ({value!r},), not a single string")
    try:
        return tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be a sequence, not {type(value).__name__}") from None


def build_source(
    region_source: Callable[..., Any],
    client: Any,
    session: Any,
    regions: tuple[str, ...],
    clients: tuple[Any, ...],
    *,
    asynchronous: bool,
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
