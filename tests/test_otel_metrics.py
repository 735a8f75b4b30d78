"""OpenTelemetry metrics read from stats() at collection; failover, transports, hit cost.

In-memory sources and a fake clock; metrics through the SDK's InMemoryMetricReader.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import StatusCode
from otel_kit import Telemetry, telemetry_fixture

from secretcache import (
    FailoverSource,
    SecretCache,
    SecretsManagerUnavailableError,
)
from secretcache.aio import AsyncSecretCache
from secretcache.integrations.opentelemetry import uninstrument
from secretcache.testing import AsyncInMemorySource, FakeClock, InMemorySource

if TYPE_CHECKING:
    import pytest

    from secretcache import BatchPage, Secret, SecretMetadata

GET = "GetSecretValue"
EAST = {"rpc.method": GET, "cloud.region": "us-east-1"}

__all__ = ["telemetry_fixture"]


def outage() -> SecretsManagerUnavailableError:
    return SecretsManagerUnavailableError("injected outage", code="InternalServiceError")


def test_the_counters_are_the_caches_stats(telemetry: Telemetry, canary: str) -> None:
    clock = FakeClock()
    source = InMemorySource({"db": canary, "api": "k"})
    cache = SecretCache(source=source, clock=clock, ttl=10.0, jitter=0.0)
    telemetry.instrument(cache)
    for _ in range(5):
        cache.get_secret("db")  # one miss, four hits
    cache.get_secret("api")
    clock.advance(11)
    source.fail(outage(), "db")
    cache.get_secret("db")  # the outage: stale served
    source.heal()
    clock.advance(2)  # past the backoff step
    source.rotate("db", f"new-{canary}")
    cache.get_secret("db")  # a rotation
    telemetry.collect()
    stats = cache.stats()
    expected = {
        "secretcache.hits": stats.hits,
        "secretcache.misses": stats.misses,
        "secretcache.stale_served": stats.stale_served,
        "secretcache.rotations": stats.rotations,
        "secretcache.failovers": stats.failovers,
        "secretcache.entries": stats.size,
    }
    assert {name: telemetry.metric(name) for name in expected} == {
        name: {frozenset(): value} for name, value in expected.items()
    }
    assert (stats.hits, stats.misses, stats.stale_served, stats.rotations) == (4, 4, 1, 1)
    assert telemetry.metric("secretcache.api_calls") == {frozenset(EAST.items()): 4}
    assert stats.api_calls == {GET: 4}
    durations = telemetry.metric("secretcache.load.duration")
    assert sum(durations.values()) == 4  # one per API call, none per hit
    failed = [n for k, n in durations.items() if ("error.type", type(outage()).__name__) in k]
    assert failed == [1]
    assert not [t for t in telemetry.texts() if canary in t]


def test_a_hit_does_no_extra_work(telemetry: Telemetry) -> None:
    cache = SecretCache(source=InMemorySource({"db": "x"}), clock=FakeClock())
    hit_path = {name: getattr(SecretCache, name) for name in ("get_secret", "get_secret_string")}
    telemetry.instrument(cache)
    cache.get_secret("db")
    telemetry.collect()
    before = telemetry.total("secretcache.load.duration")
    for _ in range(1000):
        cache.get_secret_string("db")
    # Nothing wraps the read methods: the hit path is the uninstrumented one.
    assert {name: getattr(type(cache), name) for name in hit_path} == hit_path
    assert not set(hit_path) & set(vars(cache))
    assert len(telemetry.spans()) == 1
    telemetry.collect()
    assert telemetry.total("secretcache.load.duration") == before == 1
    assert telemetry.total("secretcache.hits") == 1000  # counted by the cache, read now


def test_each_failover_attempt_is_a_span_and_a_call_in_its_region(telemetry: Telemetry) -> None:
    east = InMemorySource({"db": "x"})
    west = east.replica("us-west-2")
    clock = FakeClock()
    cache = SecretCache(source=FailoverSource(east, [west], clock=clock), clock=clock)
    telemetry.instrument(cache)
    east.fail(outage())
    with telemetry.tracer.start_as_current_span("handler"):
        assert cache.get_secret("db").arn.split(":")[3] == "us-west-2"
    first, second = telemetry.spans()
    assert [(s.attributes or {})["cloud.region"] for s in (first, second)] == [
        "us-east-1",
        "us-west-2",
    ]
    assert first.status.status_code is StatusCode.ERROR
    assert (first.attributes or {})["secretcache.stale_served"] is False  # a cold key
    assert second.status.status_code is StatusCode.UNSET
    assert first.parent == second.parent
    telemetry.collect()
    assert telemetry.metric("secretcache.failovers") == {frozenset(): 1}
    assert telemetry.metric("secretcache.api_calls") == {
        frozenset(EAST.items()): 1,
        frozenset({"rpc.method": GET, "cloud.region": "us-west-2"}.items()): 1,
    }
    assert cache.stats().calls_by_region == {"us-east-1": 1, "us-west-2": 1}
    # Both regions down while the value is past its freshness: the cache serves it stale,
    # and the last region asked says so.
    clock.advance(301)
    west.fail(outage())
    cache.get_secret("db")
    assert cache.stats().stale_served == 1
    served = [(s.attributes or {})["secretcache.stale_served"] for s in telemetry.spans()[2:]]
    assert served == [False, True]
    assert [s.end_time or 0 for s in telemetry.spans()[2:]] == sorted(
        s.end_time or 0 for s in telemetry.spans()[2:]
    )
    uninstrument(cache)  # the regions' sources are given back
    east.heal()
    west.heal()
    clock.advance(5)  # past both regions' backoff steps
    cache.invalidate()
    cache.get_secret("db")
    assert len(telemetry.spans()) == 4
    assert cache.stats().calls_by_region == {"us-east-1": 3, "us-west-2": 2}


class ExtensionLike:
    """A source that says it reads through the Lambda extension, and knows no region."""

    transport = "extension"

    def __init__(self) -> None:
        self._memory = InMemorySource({"db": "x"})

    def get_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        return self._memory.get_secret_value(
            secret_id, version_stage=version_stage, version_id=version_id
        )

    def describe_secret(self, secret_id: str) -> SecretMetadata:
        return self._memory.describe_secret(secret_id)

    def batch_get_secret_value(self, **kwargs: Any) -> BatchPage:
        return self._memory.batch_get_secret_value(**kwargs)


def test_an_extension_source_reports_its_transport_and_the_functions_region(
    telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    cache = SecretCache(source=ExtensionLike(), clock=FakeClock())
    telemetry.instrument(cache)
    cache.get_secret("db")
    (span,) = telemetry.spans()
    attributes = span.attributes or {}
    assert attributes["secretcache.transport"] == "extension"
    assert attributes["cloud.region"] == "eu-west-1"


def test_a_source_that_says_nothing_gets_the_region_of_the_answer(
    telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Anywhere(ExtensionLike):
        transport = None  # type: ignore[assignment]

    monkeypatch.delenv("AWS_REGION", raising=False)
    cache = SecretCache(source=Anywhere(), clock=FakeClock())
    telemetry.instrument(cache)
    cache.get_secret("db")
    attributes = telemetry.spans()[0].attributes or {}
    assert "secretcache.transport" not in attributes  # not known: not guessed
    assert attributes["cloud.region"] == "us-east-1"  # the answering ARN's


def test_caches_on_one_provider_are_told_apart_by_name_or_summed(telemetry: Telemetry) -> None:
    caches = [SecretCache(source=InMemorySource({"db": "x"}), clock=FakeClock()) for _ in "abc"]
    telemetry.instrument(caches[0], cache_name="a")
    telemetry.instrument(caches[1])
    telemetry.instrument(caches[2])
    for cache in caches:
        cache.get_secret("db")
        cache.get_secret("db")
    telemetry.collect()
    assert telemetry.metric("secretcache.hits") == {
        frozenset({"secretcache.cache.name": "a"}.items()): 1,
        frozenset(): 2,
    }
    uninstrument(caches[2])
    telemetry.collect()
    assert telemetry.metric("secretcache.hits")[frozenset()] == 1


def test_an_async_cache_reports_the_same(telemetry: Telemetry) -> None:
    source = AsyncInMemorySource({"db": "x"})

    async def main() -> None:
        cache = AsyncSecretCache(source=source, clock=FakeClock())
        telemetry.instrument(cache)
        with telemetry.tracer.start_as_current_span("handler") as handler:
            await cache.get_secret("db")
            await cache.get_secret("db")
        (span,) = telemetry.spans()
        assert span.parent is not None
        assert span.parent.span_id == handler.get_span_context().span_id
        assert (span.attributes or {})["cloud.region"] == "us-east-1"
        telemetry.collect()
        assert telemetry.metric("secretcache.hits") == {frozenset(): 1}
        assert telemetry.metric("secretcache.api_calls") == {frozenset(EAST.items()): 1}
        await cache.aclose()

    asyncio.run(main())


def test_refresh_ahead_calls_say_so(telemetry: Telemetry) -> None:
    clock = FakeClock()
    with SecretCache(
        source=InMemorySource({"db": "x"}), clock=clock, ttl=1.0, jitter=0.0, refresh_ahead=True
    ) as cache:
        telemetry.instrument(cache)
        cache.get_secret("db")
        clock.advance(0.6)  # inside the refresh-ahead window
        deadline = time.monotonic() + 10.0  # bounded real-time wait for the thread's poll
        while len(telemetry.spans()) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    reasons = [(s.attributes or {})["secretcache.reason"] for s in telemetry.spans()]
    assert reasons[:2] == ["load", "refresh_ahead"]


GLOBAL_PROVIDERS = """
import json
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from secretcache import SecretCache
from secretcache.integrations.opentelemetry import instrument
from secretcache.testing import InMemorySource

early = SecretCache(source=InMemorySource({"s": "v"}))
instrument(early)  # before the application sets its providers: proxies until then
exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
tracer_provider = TracerProvider()
tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(tracer_provider)
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
late = SecretCache(source=InMemorySource({"s": "v"}))
instrument(late, cache_name="late")
for cache in (early, late):
    cache.get_secret("s")
    cache.get_secret("s")
hits = {
    ",".join(f"{k}={v}" for k, v in p.attributes.items()): p.value
    for rm in reader.get_metrics_data().resource_metrics
    for sm in rm.scope_metrics
    for m in sm.metrics
    if m.name == "secretcache.hits"
    for p in m.data.data_points
}
print(json.dumps([len(exporter.get_finished_spans()), sorted(hits.items())]))
"""


def test_the_global_providers_serve_caches_instrumented_before_and_after_they_are_set() -> None:
    done = subprocess.run(
        [sys.executable, "-c", GLOBAL_PROVIDERS], capture_output=True, text=True, check=True
    )
    spans, hits = json.loads(done.stdout)
    assert spans == 2  # one load of each cache
    assert hits == [["", 1], ["secretcache.cache.name=late", 1]]
