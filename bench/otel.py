"""What OpenTelemetry instrumentation costs a SecretCache: hits, and loads (for compare.py).

Two caches on the same moto client, one instrumented with the SDK's in-memory span
exporter and metric reader (SimpleSpanProcessor: each span is exported as it ends, the
dearest set-up). Their runs are interleaved so a noisy machine shifts both alike:

- hit: median ns per ``get_secret_string`` of a fresh key, and the ratio;
- load: median µs per forced load (``refresh``: one GetSecretValue) on moto, and on an
  in-memory source (no I/O at all: the overhead stands alone, a worst case).
"""

from __future__ import annotations

import timeit
from typing import Any

import _harness as h

from secretcache import SecretCache
from secretcache.testing import InMemorySource

__all__ = ["otel_cost"]


def _providers() -> tuple[Any, Any, Any]:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return tracer_provider, meter_provider, exporter


def _interleaved(
    plain: Any, traced: Any, *, repeat: int, number: int, between: Any = None
) -> tuple[float, float, float]:
    """Return (median s/op plain, median s/op traced, median of per-round ratios)."""
    a: list[float] = []
    b: list[float] = []
    for _ in range(repeat):
        a.append(plain.timeit(number) / number)
        if between is not None:
            between()
        b.append(traced.timeit(number) / number)
        if between is not None:
            between()
    return h.median(a), h.median(b), h.median([y / x for x, y in zip(a, b, strict=True)])


def otel_cost(world: h.World, *, quick: bool = False) -> dict[str, float]:
    """Return hit ns and load µs with and without instrumentation, and their ratios."""
    from secretcache.integrations.opentelemetry import instrument

    tracer_provider, meter_provider, exporter = _providers()
    name = world.new_secret("otel", "x" * 64)
    out: dict[str, float] = {}
    for where in ("moto", "memory"):
        if where == "moto":
            plain = SecretCache(client=world.client)
            traced = SecretCache(client=world.client)
        else:
            source = InMemorySource({name: "x" * 64})
            plain, traced = SecretCache(source=source), SecretCache(source=source)
        instrument(traced, tracer_provider=tracer_provider, meter_provider=meter_provider)
        plain.get_secret_string(name)
        traced.get_secret_string(name)
        if where == "moto":
            hit = [
                timeit.Timer("get(k)", globals={"get": c.get_secret_string, "k": name})
                for c in (plain, traced)
            ]
            number, _ = hit[0].autorange()  # about 0.2 s worth
            # Short rounds, many of them: a neighbour's burst spoils a round, not a side.
            number = max(1, number // (50 if quick else 4))
            a, b, ratio = _interleaved(*hit, repeat=3 if quick else 41, number=number)
            out.update(hit_plain_ns=a * 1e9, hit_traced_ns=b * 1e9, hit_ratio=ratio)
        loads = [
            timeit.Timer("refresh(k)", globals={"refresh": c.refresh, "k": name})
            for c in (plain, traced)
        ]
        a, b, ratio = _interleaved(
            *loads,
            repeat=2 if quick else 9,
            number=5 if quick else (100 if where == "moto" else 2000),
            between=exporter.clear,  # the exporter keeps every span: don't let it grow
        )
        out[f"load_{where}_plain_us"] = a * 1e6
        out[f"load_{where}_traced_us"] = b * 1e6
        out[f"load_{where}_ratio"] = ratio
        plain.close()
        traced.close()
    tracer_provider.shutdown()
    meter_provider.shutdown()
    return out


def render(cost: dict[str, float]) -> str:
    """Return the compare.py section on instrumentation cost."""
    overhead = {
        w: cost[f"load_{w}_traced_us"] - cost[f"load_{w}_plain_us"] for w in ("moto", "memory")
    }
    met = "yes" if cost["hit_ratio"] <= 1.05 else "**no**"
    return "\n".join(
        [
            "### OpenTelemetry instrumentation (`instrument(cache)`, SDK in-memory exporter)",
            "",
            "| measurement | without | with | ratio | target | met? |",
            "|---|---|---|---|---|---|",
            f"| cache hit | {cost['hit_plain_ns']:,.0f} ns | {cost['hit_traced_ns']:,.0f} ns "
            f"| {cost['hit_ratio']:.3f}x | <= 1.05x | {met} |",
            f"| load on moto (refresh: one GetSecretValue) | {cost['load_moto_plain_us']:,.0f} µs "
            f"| {cost['load_moto_traced_us']:,.0f} µs | {cost['load_moto_ratio']:.3f}x "
            f"(+{overhead['moto']:,.0f} µs) | | |",
            f"| load on an in-memory source (no I/O) | {cost['load_memory_plain_us']:,.1f} µs "
            f"| {cost['load_memory_traced_us']:,.1f} µs | {cost['load_memory_ratio']:.2f}x "
            f"(+{overhead['memory']:,.1f} µs) | | |",
            "",
            "Interleaved runs of two caches on one client, medians (hits: 41 rounds of ~50 ms; "
            "loads: 9), ratios the median of per-round ratios. The instrumented cache's spans go "
            "through a SimpleSpanProcessor to an InMemorySpanExporter (the costliest "
            "processor: a BatchSpanProcessor exports off the calling thread).",
        ]
    )
