"""Simulate a Lambda fleet: 1,000 execution environments, each with its own SecretCache.

Run with ``make bench`` (or ``.venv/bin/python bench/fleet.py``); it rewrites its
section of ``bench/RESULTS.md``. ``--quick`` runs a tiny fleet (a smoke run).

Every environment holds a real ``SecretCache`` on one shared ``FakeClock``; all read one
secret from one shared, counting ``InMemorySource``. Requests arrive as a Poisson
process (2,000/s in total, each sent to an environment picked uniformly at random, which
is the same as an independent Poisson process of 2/s per environment). The secret is
rotated once, at minute 30.

Method (exact for API calls): the simulation is event-driven. Each environment's next
request time is drawn from the exponential distribution and every such request goes
through the environment's real cache, EXCEPT requests that are certain to be hits: a
value loaded at time t is fresh at least until t + ttl * (1 - jitter) (the contract's
floor of the jitter range), so after a load the environment jumps straight to its first
request after that instant (t + ttl*(1-jitter) + Exp(rate), exact because a Poisson
process is memoryless) and the skipped requests are counted arithmetically, as
rate * gap (their expected number). Hits never change what a cache will do next, so
every API call, its time, and the moment each environment first serves the new version
are exactly those of the request-by-request simulation.
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h

from secretcache import SecretCache
from secretcache.testing import FakeClock, InMemorySource

SECRET = "prod/db"
PRICE_PER_CALL = 0.05 / 10_000
QUOTA_GSV = 10_000  # GetSecretValue TPS per account and region
QUOTA_DESCRIBE = 40_000  # DescribeSecret TPS


class Tap:
    """One environment's SecretSource: forwards to the shared source, logs call times."""

    def __init__(self, shared: InMemorySource, clock: FakeClock, log: list[float]) -> None:
        self.shared = shared
        self.clock = clock
        self.log = log
        self.calls = 0

    def _note(self) -> None:
        self.calls += 1
        self.log.append(self.clock())

    def get_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Any:
        """Forward GetSecretValue."""
        self._note()
        return self.shared.get_secret_value(
            secret_id, version_stage=version_stage, version_id=version_id
        )

    def describe_secret(self, secret_id: str) -> Any:
        """Forward DescribeSecret."""
        self._note()
        return self.shared.describe_secret(secret_id)

    def batch_get_secret_value(self, **kwargs: Any) -> Any:
        """Forward BatchGetSecretValue (unused here)."""
        self._note()
        return self.shared.batch_get_secret_value(**kwargs)


@dataclass
class FleetResult:
    """What one fleet run produced."""

    label: str
    envs: int
    seconds: float
    requests_simulated: int
    requests_total: float
    calls: dict[str, int]
    peak_1s: int
    peak_1s_at: float
    peak_steady: int
    steady_rate: float
    stale_p50: float
    stale_p99: float
    stale_max: float
    stale_reads: float
    never_saw_new: int
    rotate_at: float
    wall: float

    @property
    def total_calls(self) -> int:
        """Return every API call of every operation."""
        return sum(self.calls.values())

    @property
    def monthly_cost(self) -> float:
        """Return the API cost of 30 days at this rate ($0.05 per 10,000 calls)."""
        return self.total_calls * (30 * 86400 / self.seconds) * PRICE_PER_CALL


def _peak(times: list[float], start: float = -math.inf) -> tuple[int, float]:
    """Return the most calls in any 1 s window [t, t + 1) starting at a call >= start."""
    best, at = 0, 0.0
    first = bisect.bisect_left(times, start)
    hi = first
    for lo in range(first, len(times)):
        while hi < len(times) and times[hi] < times[lo] + 1.0:
            hi += 1
        if hi - lo > best:
            best, at = hi - lo, times[lo]
    return best, at


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def simulate(
    label: str,
    *,
    envs: int = 1000,
    total_rate: float = 2000.0,
    seconds: float = 7200.0,
    rotate_at: float = 1800.0,
    ttl: float = 300.0,
    jitter: float = 0.1,
    revalidate: str = "get",
    steady_after: float = 600.0,
    seed: int = 2024,
) -> FleetResult:
    """Run one fleet and return its figures."""
    started = time.perf_counter()
    rng = random.Random(seed)
    rate = total_rate / envs
    clock = FakeClock(0.0)
    shared = InMemorySource({SECRET: "v1"})
    log: list[float] = []
    taps = [Tap(shared, clock, log) for _ in range(envs)]
    caches = [
        SecretCache(source=tap, ttl=ttl, jitter=jitter, revalidate=revalidate, clock=clock)
        for tap in taps
    ]
    safe = ttl * (1.0 - jitter)  # the contract's floor on an entry's freshness
    heap = [(rng.expovariate(rate), i) for i in range(envs)]
    heapq.heapify(heap)
    simulated = 0
    skipped = 0.0
    rotated = False
    first_new: dict[int, float] = {}
    while heap:
        t, i = heapq.heappop(heap)
        if t >= seconds:
            break
        if not rotated and t >= rotate_at:
            clock.advance(rotate_at - clock())
            shared.rotate(SECRET, "v2")
            rotated = True
        clock.advance(t - clock())
        tap = taps[i]
        before = tap.calls
        value = caches[i].get_secret_string(SECRET)
        simulated += 1
        if rotated and i not in first_new and value == "v2":
            first_new[i] = t - rotate_at
        if tap.calls != before:
            # Loaded now: every request before t + safe is a hit; skip them, counted.
            resume = t + safe
            skipped += rate * (min(resume, seconds) - t)
            following = resume + rng.expovariate(rate)
        else:
            following = t + rng.expovariate(rate)
        if following < seconds:
            heapq.heappush(heap, (following, i))
    for cache in caches:
        cache.close()
    peak, peak_at = _peak(log)
    peak_steady, _ = _peak(log, steady_after)
    steady_calls = len(log) - bisect.bisect_left(log, steady_after)
    # Environments that never saw v2 before the end count as stale until the end.
    stale = [first_new.get(i, seconds - rotate_at) for i in range(envs)]
    return FleetResult(
        label=label,
        envs=envs,
        seconds=seconds,
        requests_simulated=simulated,
        requests_total=simulated + skipped,
        calls=dict(shared.calls),
        peak_1s=peak,
        peak_1s_at=peak_at,
        peak_steady=peak_steady,
        steady_rate=steady_calls / (seconds - steady_after),
        stale_p50=_percentile(stale, 0.50),
        stale_p99=_percentile(stale, 0.99),
        stale_max=max(stale),
        stale_reads=sum(rate * s for s in stale),
        never_saw_new=envs - len(first_new),
        rotate_at=rotate_at,
        wall=time.perf_counter() - started,
    )


def run(quick: bool = False) -> list[FleetResult]:
    """Run the three fleets: defaults, jitter=0, revalidate="describe"."""
    kwargs: dict[str, Any] = {}
    if quick:
        kwargs = {"envs": 20, "total_rate": 40.0, "seconds": 900.0, "rotate_at": 300.0}
    return [
        simulate("defaults (ttl 300 s, jitter 0.1, revalidate get)", **kwargs),
        simulate("jitter=0", jitter=0.0, **kwargs),
        simulate('revalidate="describe"', revalidate="describe", **kwargs),
    ]


def render(results: list[FleetResult], info: dict[str, str]) -> str:
    """Return the fleet section of RESULTS.md."""
    first = results[0]
    lines = [
        "## Lambda fleet simulation (`bench/fleet.py`)",
        "",
        f"- date: {info['date']}; machine: {info['nproc']} cores, {info['cpu']}; {info['python']}",
        f"- command: `{info['command']}` (via `make bench`)",
        f"- {first.envs:,} execution environments, each its own `SecretCache` (one secret), "
        f"Poisson traffic of {first.requests_total / first.seconds:,.0f} requests/s in total "
        f"for {first.seconds / 3600:g} simulated hours; the secret rotates at "
        f"t = {first.rotate_at:,.0f} s; "
        "every environment cold-starts at t = 0.",
        "",
        "| run | API calls (by operation) | peak calls in any 1 s | peak after minute 10 "
        "| mean calls/s after minute 10 | staleness p50 / p99 / max | old-value reads "
        "after rotation | monthly API cost | sim wall time |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ops = ", ".join(f"{k} {v:,}" for k, v in sorted(r.calls.items()))
        lines.append(
            f"| {r.label} | {r.total_calls:,} ({ops}) | {r.peak_1s:,} (at t={r.peak_1s_at:,.0f} s)"
            f" | {r.peak_steady:,} | {r.steady_rate:.2f} | {r.stale_p50:,.0f} / "
            f"{r.stale_p99:,.0f} / {r.stale_max:,.0f} s | {r.stale_reads:,.0f} | "
            f"${r.monthly_cost:,.2f} | {r.wall:.0f} s |"
        )
    d, j, s = results
    lines += [
        "",
        f"Requests: {first.requests_total:,.0f} in total per run, of which "
        f"{first.requests_simulated:,} went through a cache one by one (defaults run); the "
        "rest are certain hits counted arithmetically (see method). Staleness = time from "
        "the rotation until an environment first serves the new version (the very request "
        "that refreshes it); old-value reads = requests served the old version after the "
        "rotation (rate x staleness, summed). Monthly cost = API calls x 360 (30 days / 2 h) "
        "x $0.05 / 10,000; uncached, the same traffic would cost "
        f"${first.requests_total * 360 * PRICE_PER_CALL:,.0f} a month.",
        "",
        "### What this means for sizing",
        "",
        f"- Steady state, a fleet costs about one call per environment per secret per "
        f"~{d.envs / max(d.steady_rate, 1e-9):,.0f} s "
        f"(≈ ttl x (1 - jitter/2) plus the wait for the next request): "
        f"{d.steady_rate:.1f} calls/s for {d.envs:,} environments, "
        f"{d.steady_rate / d.envs * 1000:.1f} per 1,000 environment-secrets. Against "
        f"GetSecretValue's {QUOTA_GSV:,} TPS account quota that is room for about "
        f"{QUOTA_GSV / (d.steady_rate / d.envs) / 1e6:.1f} million concurrently warm "
        "environment-secrets (environments x secrets each reads) in one account and region.",
        f"- Bursts, not the average, hit the quota. A cold start makes one call per secret "
        f"at once: here {d.peak_1s:,} calls in the worst second, all in the first seconds. "
        f"So {QUOTA_GSV:,} environments cold-starting within a second (a deploy, a traffic "
        f"spike) with one secret each reach the quota on their own; with N secrets per "
        f"environment, {QUOTA_GSV:,} / N. Use `prefetch()` (BatchGetSecretValue, 20 "
        "secrets per call, its own 100 TPS quota) or fewer, JSON-bundled secrets.",
        f"- Without jitter (`jitter=0`) environments that started together stay together: "
        f"every TTL they refresh in one wave. Peak after minute 10: {j.peak_steady:,} "
        f"calls/s versus {d.peak_steady:,} with the default jitter 0.1 (same average, "
        f"{j.steady_rate:.1f} vs {d.steady_rate:.1f} calls/s). The default jitter spreads "
        "each environment's refresh over the last 10% of the TTL, so waves flatten within "
        "a few TTLs.",
        f'- `revalidate="describe"` makes as many revalidations as the defaults run '
        f"({s.calls.get('DescribeSecret', 0):,}) but they are DescribeSecret, which has its own "
        f"{QUOTA_DESCRIBE:,} TPS quota and skips KMS; GetSecretValue is called once per "
        f"environment at start and once after the rotation "
        f"({s.calls.get('GetSecretValue', 0):,} in all). The bill is about the same (both "
        "are billed calls; one more GetSecretValue per environment per rotation); "
        "GetSecretValue quota headroom grows by a factor of "
        f"{d.calls.get('GetSecretValue', 0) / max(1, s.calls.get('GetSecretValue', 0)):,.0f}.",
        f"- Rotation is visible everywhere within one TTL: p99 {d.stale_p99:,.0f} s, max "
        f"{d.stale_max:,.0f} s. (With `jitter=0` the rotation at t = 1,800 s = 6 TTLs "
        "happened to land just before the synchronized wave, hence its tiny staleness: luck "
        "of the phase, not a property.) During a rotation the old password must keep working "
        "for at least the TTL (Secrets Manager's rotation keeps AWSPREVIOUS valid), or "
        "use `rotation_candidate()` / `inject_secret(refresh_on=...)` on login failures.",
        "",
        "### Method",
        "",
        "Exact for API calls: t" + __doc__.split("Method (exact for API calls): t", 1)[1].strip(),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Simulate, print and record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny fleet; don't write")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    results = run(quick=args.quick)
    text = render(results, h.machine())
    print(text)
    if not (args.quick or args.no_write):
        h.write_section("fleet", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
