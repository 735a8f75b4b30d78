"""OpenTelemetry's SDK in memory for the telemetry tests: spans and metrics as plain data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from secretcache.integrations.opentelemetry import instrument

if TYPE_CHECKING:
    from collections.abc import Iterator

OURS = "secretcache.integrations.opentelemetry"
BOTOCORE = "opentelemetry.instrumentation.botocore"


class Telemetry:
    """A tracer provider and a meter provider that keep everything in memory."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.tracer = self.tracer_provider.get_tracer("tests")
        self._points: dict[str, list[Any]] = {}

    def instrument(self, cache: Any, **kwargs: Any) -> Any:
        """Instrument ``cache`` with these providers; return it."""
        instrument(
            cache,
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            **kwargs,
        )
        return cache

    def spans(self, scope: str = OURS) -> list[ReadableSpan]:
        """Return the finished spans of one scope (or the scopes under it), by start time."""
        found = [
            s
            for s in self.exporter.get_finished_spans()
            if s.instrumentation_scope is not None
            and (s.instrumentation_scope.name + ".").startswith(scope + ".")
        ]
        return sorted(found, key=lambda s: s.start_time or 0)

    def collect(self) -> None:
        """Collect the metrics once (observable instruments are read now)."""
        self._points = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    self._points[metric.name] = list(metric.data.data_points)

    def metric(self, name: str) -> dict[frozenset[tuple[str, Any]], Any]:
        """Return a collected metric's points: attributes -> value (a histogram's count)."""
        return {
            frozenset((p.attributes or {}).items()): getattr(p, "value", None)
            if not hasattr(p, "bucket_counts")
            else p.count
            for p in self._points.get(name, [])
        }

    def total(self, name: str) -> Any:
        """Return a collected metric's points summed over attributes."""
        return sum(self.metric(name).values())

    def texts(self) -> Iterator[str]:
        """Yield every string a backend would receive: names, attributes, events, metrics."""
        for span in self.exporter.get_finished_spans():
            yield span.name
            yield str(span.status.description)
            yield from _strings(span.attributes)
            for event in span.events:
                yield event.name
                yield from _strings(event.attributes)
        self.collect()
        for name, points in self._points.items():
            yield name
            for point in points:
                yield from _strings(point.attributes)


def _strings(attributes: Any) -> Iterator[str]:
    for key, value in (attributes or {}).items():
        yield key
        yield str(value)


@pytest.fixture(name="telemetry")
def telemetry_fixture() -> Iterator[Telemetry]:
    """In-memory tracer and meter providers for one test."""
    kit = Telemetry()
    yield kit
    kit.tracer_provider.shutdown()
    kit.meter_provider.shutdown()
