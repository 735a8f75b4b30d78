"""OpenTelemetry for a cache: a span per API call, metrics read from ``stats()``.

    from secretcache.integrations.opentelemetry import instrument
    instrument(cache)                       # the global tracer and meter providers
    instrument(cache, tracer_provider=tp, meter_provider=mp, record_secret_ids=False)

Spans follow the AWS SDK client-span conventions (``SecretsManager.GetSecretValue``,
kind CLIENT, ``rpc.*``, ``cloud.region``, ``aws.request_id``,
``aws.secretsmanager.secret.arn``) plus ``secretcache.*`` attributes saying why the
cache made the call; a failover asks each region in its own span. The cache's source
(or each region's source) is wrapped: the hit path is not touched at all. Metrics are
observable instruments, read at collection. Needs the ``otel`` extra
(``opentelemetry-api``); ``import secretcache`` never imports it. See docs/telemetry.md.
"""

from __future__ import annotations

import sys
import weakref
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace

# Locks a forked child gets anew (a reader thread may hold one at the fork).
from secretcache._core.forksafe import ForkSafeLock
from secretcache._version import __version__

from ._metrics import SCOPE, Member, Meters, meters_for
from ._sources import (
    AsyncFailoverTracing,
    AsyncTracingSource,
    FailoverTracing,
    Hooks,
    TracingSource,
)
from ._spans import Calls

if TYPE_CHECKING:
    from collections.abc import Callable

    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

__all__ = ["instrument", "instrumented", "uninstrument"]


class _Instrumentation:
    """What instrument() changed on one cache, and how to change it back."""

    def __init__(self, restore: Callable[[], None], meters: Meters, member: Member, hooks: Hooks):
        self.restore = restore
        self.meters = meters
        self.member = member
        self.hooks = hooks

    def undo(self) -> None:
        self.restore()
        self.meters.discard(self.member)
        self.hooks.remove_all()


_done: weakref.WeakKeyDictionary[Any, _Instrumentation] = weakref.WeakKeyDictionary()
_lock = ForkSafeLock()
_global_meters: Meters | None = None  # for the global provider, whichever it is by then


def _is_async(cache: object) -> bool:
    """Return True for an AsyncSecretCache, False for a SecretCache; TypeError otherwise."""
    from secretcache import SecretCache

    if isinstance(cache, SecretCache):
        return False
    aio = sys.modules.get("secretcache.aio")  # an AsyncSecretCache exists only if imported
    if aio is not None and isinstance(cache, aio.AsyncSecretCache):
        return True
    raise TypeError(
        f"instrument() takes a SecretCache or an AsyncSecretCache, not {type(cache).__name__}"
    )


def _meters(meter_provider: MeterProvider | None) -> Meters:
    global _global_meters
    if meter_provider is not None:
        return meters_for(meter_provider)
    with _lock:
        if _global_meters is None:
            # The global provider's meter: a proxy until one is set, which then takes over.
            _global_meters = Meters(metrics.get_meter(SCOPE, __version__))
        return _global_meters


def instrument(
    cache: Any,
    *,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    record_secret_ids: bool = True,
    cache_name: str | None = None,
) -> None:
    """Trace every API call ``cache`` makes and report its counters as metrics.

    Args:
        cache: a ``SecretCache`` or an ``AsyncSecretCache``.
        tracer_provider: where spans go; ``None``: the global tracer provider.
        meter_provider: where metrics go; ``None``: the global meter provider.
        record_secret_ids: ``False`` leaves secret names and ARNs out of every span
            (and out of recorded error messages), for those who consider them sensitive.
        cache_name: an attribute (``secretcache.cache.name``) telling this cache's spans
            and metrics apart from other caches'.

    Instrumenting a cache again replaces its instrumentation; ``uninstrument`` ends it.
    """
    asynchronous = _is_async(cache)
    if not isinstance(record_secret_ids, bool):
        raise TypeError("record_secret_ids must be a bool")
    if cache_name is not None and (not isinstance(cache_name, str) or not cache_name):
        raise TypeError("cache_name must be a non-empty str or None")
    meters = _meters(meter_provider)
    tracer = trace.get_tracer(SCOPE, __version__, tracer_provider=tracer_provider)
    calls = Calls(
        tracer, meters.histogram, record_secret_ids=record_secret_ids, cache_name=cache_name
    )
    hooks = Hooks()
    wrap = AsyncTracingSource if asynchronous else TracingSource
    with _lock:
        previous = _done.pop(cache, None)
        if previous is not None:
            previous.undo()
        source = cache._source
        if getattr(type(source), "spans_regions", False):
            # Failover: each region asked is its own call, so each region's source is traced.
            # Around them, the request: its failed regions' spans end once it is settled.
            regions = source.sources
            source.sources = tuple(wrap(s, calls, hooks) for s in regions)
            settle = AsyncFailoverTracing if asynchronous else FailoverTracing
            cache._source = settle(source, calls, hooks)

            def restore() -> None:
                source.sources = regions
                cache._source = source
        else:
            cache._source = wrap(source, calls, hooks)

            def restore() -> None:
                cache._source = source

        member = Member(cache, calls)
        meters.add(member)
        _done[cache] = _Instrumentation(restore, meters, member, hooks)


def uninstrument(cache: Any) -> None:
    """Stop tracing ``cache``'s calls and reporting its metrics (no-op if not instrumented)."""
    _is_async(cache)
    with _lock:
        done = _done.pop(cache, None)
    if done is not None:
        done.undo()


def instrumented(cache: Any) -> bool:
    """Return True if ``cache`` is instrumented."""
    return cache in _done
