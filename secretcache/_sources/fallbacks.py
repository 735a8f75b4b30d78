"""A cache's source, built from its arguments: one region's, or failover across regions.

Kept apart from ``_failover`` and ``_regions`` so that a cache with no fallback regions
(most of them, and every Lambda cold start) never imports the failover machinery.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .._core.extension_env import choose_source
from .._core.logs import log, logging_loaded

if TYPE_CHECKING:
    import random
    from collections.abc import Callable

__all__ = ["build_source", "check_fallbacks", "default_primary"]

_told: set[str] = set()  # the choices logged already: once per process each


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
    if source is not None and (regions or clients) and not _fails_over(source):
        raise TypeError(
            "a source= reads where it reads: compose failover with FailoverSource instead"
        )
    if client is not None and regions:
        raise TypeError(
            "fallback_regions builds clients from session= (or the default credentials), "
            "not from a client=: pass ready clients as fallback_clients"
        )
    return regions, clients


def _fails_over(source: Any) -> bool:
    """Return True for a source whose fallback regions go through the SDK (the extension)."""
    return bool(getattr(type(source), "fails_over_by_sdk", False))


def default_primary(*, asynchronous: bool) -> Any:
    """Return the source a cache given no client, session or source reads through.

    The Lambda extension where ``choose_source`` says so (its source built here), else
    None: the SDK's source, built by ``build_source``. The choice is logged at DEBUG,
    once per process.
    """
    kind, why = choose_source(os.environ)
    # Once per process; not before logging is set up (no handler could show it then, and
    # importing logging would cost the cold start it is there to shorten).
    if kind not in _told and logging_loaded():
        _told.add(kind)
        log.debug("secretcache: reading through the %s (%s)", _NAMES[kind], why)
    if kind == "sdk":
        return None
    if asynchronous:
        from .aio_extension import AsyncExtensionSource

        return AsyncExtensionSource()
    from .extension import ExtensionSource

    return ExtensionSource()


_NAMES = {"sdk": "SDK (botocore)", "extension": "Lambda extension (HTTP on localhost)"}


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
    primary: Any = None,
) -> Any:
    """Return a cache's source: one region's, or failover over several regions'.

    ``region_source`` is BotocoreSource or AioBotocoreSource; with fallbacks, the source
    is a FailoverSource (``asynchronous``: an AsyncFailoverSource) over them. A
    ``primary`` given (the Lambda extension's source) is the primary region's source;
    the fallbacks' clients are still built only when one is first asked.
    """
    fallbacks = [region_source(session=session, region_name=r) for r in regions]
    fallbacks += [region_source(c) for c in clients]
    if not fallbacks:
        return primary if primary is not None else region_source(client, session)
    failover: Callable[..., Any]
    if asynchronous:
        from .aio_failover import AsyncFailoverSource as failover
    else:
        from .failover import FailoverSource as failover
    # A primary built here sends each request once: its fallbacks are its retries.
    if primary is None:
        primary = region_source(client, session, single_attempt=client is None)
    return failover(primary, fallbacks, clock=clock, rng=rng)
