"""A cache's source, built from its arguments: one region's, or failover across regions.

Kept apart from ``failover`` and ``_core.regions`` so that a cache with no fallback regions
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

__all__ = ["build_source", "default_primary"]

_told: set[str] = set()  # the choices logged already: once per process each
_NAMES = {"sdk": "SDK (botocore)", "extension": "Lambda extension (HTTP on localhost)"}


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
