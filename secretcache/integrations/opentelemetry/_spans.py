"""One CLIENT span per API call, by the AWS SDK span conventions; written once for both caches.

``Calls`` holds what an instrumented cache's calls share (its tracer, histogram,
counters and settings); ``Calls.span`` is the context manager each tracing source
(``_sources``) wraps one call in, sync or awaited alike: it never awaits.

Inside the span, OpenTelemetry's suppress-instrumentation context key is set: an
active opentelemetry-instrumentation-botocore (and any HTTP instrumentation under
it) then skips the same call, so a call is traced once, by the span that knows why
the cache made it. A call made while instrumentation is already suppressed gets no
span of ours either.
"""

from __future__ import annotations

import contextlib
import os
import time
import traceback
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from opentelemetry import context, trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.trace import SpanKind, Status, StatusCode

from secretcache._core.forksafe import ForkSafeLock
from secretcache._core.observe import LOAD, OCCASION, serves_stale
from secretcache.exceptions import SecretCacheError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from opentelemetry.metrics import Histogram
    from opentelemetry.trace import Span, Tracer

__all__ = ["BATCH", "Call", "Calls", "Site"]

BATCH = "BatchGetSecretValue"
_REDACTED = "<secret id>"

#: Our span while one of our calls is out: botocore's after-call hook reads it.
ACTIVE: ContextVar[Span | None] = ContextVar("secretcache_otel_span", default=None)
#: Under failover, the spans (and end times) of the regions that failed the request in
#: progress: whether the cache then served its stale value is known once no region is left.
PENDING: ContextVar[list[tuple[Span, int]] | None] = ContextVar(
    "secretcache_otel_pending", default=None
)


class Site:
    """What a span says about the source a call goes to: its transport and region."""

    __slots__ = ("region", "source", "transport")

    def __init__(self, source: object, transport: str | None) -> None:
        self.source = source
        self.transport = transport
        self.region: str | None = None  # learnt once, then kept

    def region_name(self) -> str | None:
        """Return the source's region, or the environment's for an extension."""
        region = self.region
        if region is not None:
            return region
        try:
            found = getattr(self.source, "region_name", None)
        except SecretCacheError:  # its client cannot be built yet: the call will say why
            found = None
        if not (isinstance(found, str) and found) and self.transport == "extension":
            # The extension reads in the function's own region.
            found = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if isinstance(found, str) and found:
            self.region = found
            return found
        return None


class Call:
    """The span of one call in progress: what the answer adds to it."""

    __slots__ = ("_ids", "region", "span")

    def __init__(self, span: Span, record_ids: bool) -> None:
        self.span = span
        self._ids = record_ids
        self.region: str | None = None  # the answering ARN's region

    def arn(self, arn: str | None) -> None:
        """Note the ARN of the secret that answered (when secret ids are recorded)."""
        if not arn:
            return
        if self._ids:
            self.span.set_attribute("aws.secretsmanager.secret.arn", arn)
        parts = arn.split(":", 4)
        if len(parts) == 5 and parts[3]:
            self.region = parts[3]

    def batch(self, secrets: int, errors: int) -> None:
        """Note how many values and per-id errors a batch page held."""
        self.span.set_attribute("secretcache.batch.secrets", secrets)
        self.span.set_attribute("secretcache.batch.errors", errors)


class Calls:
    """Tracer, histogram, counters and settings shared by one cache's tracing sources."""

    def __init__(
        self,
        tracer: Tracer,
        histogram: Histogram,
        *,
        record_secret_ids: bool,
        cache_name: str | None,
    ) -> None:
        self.tracer = tracer
        self.histogram = histogram
        self.record_ids = record_secret_ids
        self.cache_name = cache_name
        self._lock = ForkSafeLock()
        #: (operation, region or "") -> calls made: what ``secretcache.api_calls`` reports.
        self.counts: dict[tuple[str, str], int] = {}

    def count(self, operation: str, region: str | None) -> None:
        """Count one call made in ``region``."""
        key = (operation, region or "")
        with self._lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def snapshot(self) -> dict[tuple[str, str], int]:
        """Return the call counts (a copy)."""
        with self._lock:
            return dict(self.counts)

    @contextlib.contextmanager
    def span(
        self,
        site: Site,
        operation: str,
        secret_id: str | None = None,
        version_stage: str | None = None,
        version_id: str | None = None,
        batch_size: int | None = None,
    ) -> Iterator[Call | None]:
        """Trace one call to ``site`` inside the block (None: instrumentation suppressed)."""
        if context.get_value(_SUPPRESS_INSTRUMENTATION_KEY):
            yield None
            return
        if operation == BATCH:
            reason, ready = OCCASION.get() or "prefetch", False
        else:
            reason, ready = LOAD.get()
        region = site.region_name()
        attributes = self._attributes(site, operation, reason, region)
        # The histogram's: what a dashboard groups by, not the constants (each attribute
        # costs the SDK a hash per record).
        metric_attributes = {
            k: v for k, v in attributes.items() if k not in ("rpc.system", "rpc.service")
        }
        attributes["secretcache.stale_served"] = False
        if version_id is not None:
            attributes["secretcache.version_id"] = version_id
        elif version_stage is not None:
            attributes["secretcache.version_stage"] = version_stage
        if batch_size is not None:
            attributes["secretcache.batch.size"] = batch_size
        if self.record_ids and secret_id is not None:
            attributes["secretcache.secret_id"] = secret_id
            if secret_id.startswith("arn:"):
                attributes["aws.secretsmanager.secret.arn"] = secret_id
        span = self.tracer.start_span(
            f"SecretsManager.{operation}", kind=SpanKind.CLIENT, attributes=attributes
        )
        inner = context.set_value(
            _SUPPRESS_INSTRUMENTATION_KEY, True, trace.set_span_in_context(span)
        )
        token = context.attach(inner)
        active = ACTIVE.set(span)
        started = time.perf_counter()
        call = Call(span, self.record_ids)
        pending = PENDING.get()
        held = False
        try:
            yield call
        except BaseException as exc:
            metric_attributes["error.type"] = type(exc).__name__
            self._failed(span, exc, secret_id)
            if pending is None:
                # The cache answers with the expired value it holds instead of this error.
                span.set_attribute("secretcache.stale_served", serves_stale(ready, exc))
            else:  # another region may answer: ``failover`` ends the span
                pending.append((span, time.time_ns()))
                held = True
            raise
        finally:
            elapsed = time.perf_counter() - started
            ACTIVE.reset(active)
            context.detach(token)
            if region is None:  # an async client's is known once built; else the ARN's
                region = site.region_name() or call.region
                if region is not None:
                    span.set_attribute("cloud.region", region)
                    metric_attributes["cloud.region"] = region
            self.count(operation, region)
            self.histogram.record(elapsed, metric_attributes)
            if not held:
                span.end()

    @contextlib.contextmanager
    def failover(self, operation: str) -> Iterator[None]:
        """Hold the failed regions' spans of one request until it ends, then end them.

        If no region answered and the cache serves its stale value instead, the last
        region's span says so. Each span keeps the time its own call ended.
        """
        pending: list[tuple[Span, int]] = []
        token = PENDING.set(pending)
        ready = operation != BATCH and LOAD.get()[1]
        stale = False
        try:
            yield
        except BaseException as exc:
            stale = serves_stale(ready, exc)
            raise
        finally:
            PENDING.reset(token)
            for number, (span, ended) in enumerate(pending, start=1):
                if stale and number == len(pending):
                    span.set_attribute("secretcache.stale_served", True)
                span.end(end_time=ended)

    def _attributes(
        self, site: Site, operation: str, reason: str, region: str | None
    ) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "rpc.system": "aws-api",
            "rpc.service": "SecretsManager",
            "rpc.method": operation,
            "secretcache.reason": reason,
        }
        if region is not None:
            attributes["cloud.region"] = region
        if site.transport is not None:
            attributes["secretcache.transport"] = site.transport
        if self.cache_name is not None:
            attributes["secretcache.cache.name"] = self.cache_name
        return attributes

    def _failed(self, span: Span, exc: BaseException, secret_id: str | None) -> None:
        """Mark the span failed: the error's class and code, and its message without ids."""
        kind = type(exc)
        span.set_attribute("error.type", kind.__name__)
        event: dict[str, str] = {"exception.type": f"{kind.__module__}.{kind.__qualname__}"}
        if isinstance(exc, SecretCacheError):
            # Our own message: never any part of a value (DESIGN.md, Errors). The ids
            # in str(exc) are left out; the span carries them as attributes, if asked.
            message = self._scrub(exc.message, secret_id)
            event["exception.message"] = message
            if exc.code:
                span.set_attribute("secretcache.error.code", exc.code)
            if exc.request_id:
                span.set_attribute("aws.request_id", exc.request_id)
            span.set_status(Status(StatusCode.ERROR, message))
        else:
            # Not ours (a bug, a cancellation): its message is nobody's promise.
            span.set_status(Status(StatusCode.ERROR, kind.__name__))
        # Where it was raised, without the message or any frame's locals.
        event["exception.stacktrace"] = "".join(traceback.format_tb(exc.__traceback__))
        span.add_event("exception", event)

    def _scrub(self, message: str, secret_id: str | None) -> str:
        if self.record_ids or not secret_id:
            return message
        return message.replace(secret_id, _REDACTED)


def note_request_id(parsed: Mapping[str, Any] | None = None, **_: Any) -> None:
    """Record the RequestId of botocore's answer on our span (botocore's after-call hook)."""
    span = ACTIVE.get()
    if span is None or not isinstance(parsed, dict):
        return
    request_id = parsed.get("ResponseMetadata", {}).get("RequestId")
    if isinstance(request_id, str) and request_id:
        span.set_attribute("aws.request_id", request_id)
