"""Simulate a Lambda fleet: execution environments, each with its own SecretCache.

Run with ``make bench`` (or ``.venv/bin/python bench/fleet.py``); it rewrites its
section of ``bench/out/RESULTS.md``. ``--quick`` runs tiny fleets (a smoke run).

Every environment holds a real ``SecretCache`` on one shared ``FakeClock``; all read one
secret from one shared, counting ``InMemorySource``. Each environment receives requests
as a Poisson process of 2/s from the moment it starts (1,000 environments: 2,000
requests/s in total). Environments start at t = 0 (a deploy), or at moments spread
uniformly over the first 10 minutes (a rolling start). The secret is rotated once, at
minute 30. Each cache draws its jitter from its own ``random.Random`` seeded from the
run's seed and the environment's number, so every run is reproducible.

Method (exact for API calls): the simulation is event-driven. Each environment's next
request time is drawn from the exponential distribution and every such request goes
through the environment's real cache, EXCEPT requests that are certain to be hits: a
value loaded at time t is fresh at least until t + floor, where floor is the bottom of
the contract's range for that load: ttl * (1 - jitter) for a refresh, and
ttl * (1 - max(jitter, cold_jitter)) for a cold load (an environment's first; jitter=0
makes both exactly ttl). So after a load the environment jumps straight to its first
request after t + floor (t + floor + Exp(rate), exact because a Poisson process is
memoryless) and the skipped requests are counted arithmetically, as rate * floor (their
expected number). Every request after that instant goes through the cache, so the
request that finds the value expired is found exactly, whatever the draw was. Hits
never change what a cache will do next, so every API call, its time, and the moment
each environment first serves the new version are exactly those of the
request-by-request simulation.

Busiest / mean 60 s window: API calls are counted in every 60-second window [t, t + 60)
that starts at a call at or after 2 TTLs (t >= 600 s), so the cold-start burst itself
is left out; "busiest" is the most calls in any such window (sliding, not fixed
minutes), "mean" is the calls after 2 TTLs divided by the number of 60-second windows
in that span. Their ratio is 1 for a perfectly even load; synchronized refresh waves
push it up.
"""

from __future__ import annotations

import bisect
import heapq
import inspect
import math
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h
import agent_fleet

from secretcache import FailoverSource, SecretCache, SecretsManagerUnavailableError
from secretcache.testing import FakeClock, InMemorySource

SECRET = "prod/db"
PRICE_PER_CALL = 0.05 / 10_000
QUOTA_GSV = 10_000  # GetSecretValue TPS per account and region
QUOTA_DESCRIBE = 40_000  # DescribeSecret TPS
WINDOW = 60.0  # seconds: the "busiest minute" the quota planning looks at
TARGET_RATIO = 1.5  # busiest 60 s window / mean, after 2 TTLs (issue 18)
TARGET_EXTRA_CALLS = 0.05  # at most 5% more API calls than without the cold spread
DEFAULT_COLD_JITTER: float = inspect.signature(SecretCache).parameters["cold_jitter"].default


class Tap:
    """One environment's SecretSource: forwards to the shared source, logs call times."""

    def __init__(self, shared: InMemorySource, clock: FakeClock, log: list[float]) -> None:
        self.shared = shared
        self.region_name = shared.region_name
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
    rate: float
    seconds: float
    start_over: float
    requests_simulated: int
    requests_total: float
    calls: dict[str, int]
    peak_1s: int
    peak_1s_at: float
    steady_after: float
    busiest_window: int
    busiest_window_at: float
    mean_window: float
    peak_1s_steady: int
    stale_p50: float
    stale_p99: float
    stale_max: float
    stale_reads: float
    never_saw_new: int
    rotate_at: float
    wall: float
    # The regional-outage run: the primary down over [start, end), a replica answering.
    outage: tuple[float, float] | None = None
    replica_calls: dict[str, int] = field(default_factory=dict)
    outage_primary_calls: int = 0
    outage_replica_calls: int = 0
    outage_replica_busiest: int = 0
    errors: int = 0
    # API calls in each minute of the run (the replica's too, in the outage run).
    per_minute: list[int] = field(default_factory=list)
    replica_per_minute: list[int] = field(default_factory=list)

    @property
    def total_calls(self) -> int:
        """Return every API call of every operation."""
        return sum(self.calls.values())

    @property
    def window_ratio(self) -> float:
        """Return the busiest 60 s window after 2 TTLs over the mean one."""
        return self.busiest_window / self.mean_window if self.mean_window else math.inf

    @property
    def steady_rate(self) -> float:
        """Return the mean API calls per second after 2 TTLs."""
        return self.mean_window / WINDOW

    @property
    def monthly_cost(self) -> float:
        """Return the API cost of 30 days at this rate ($0.05 per 10,000 calls)."""
        return self.total_calls * (30 * 86400 / self.seconds) * PRICE_PER_CALL


def _busiest(times: list[float], width: float, start: float = -math.inf) -> tuple[int, float]:
    """Return the most calls in any window [t, t + width) starting at a call >= start."""
    best, at = 0, 0.0
    first = bisect.bisect_left(times, start)
    hi = first
    for lo in range(first, len(times)):
        while hi < len(times) and times[hi] < times[lo] + width:
            hi += 1
        if hi - lo > best:
            best, at = hi - lo, times[lo]
    return best, at


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def _floors(ttl: float, jitter: float, cold_jitter: float) -> tuple[float, float]:
    """Return the contract's least freshness of a cold load and of a refresh."""
    if jitter == 0.0:
        return ttl, ttl  # jitter=0: no randomness at all, exactly ttl
    return ttl * (1.0 - max(jitter, cold_jitter)), ttl * (1.0 - jitter)


def simulate(
    label: str,
    *,
    envs: int = 1000,
    rate: float = 2.0,
    seconds: float = 7200.0,
    rotate_at: float = 1800.0,
    ttl: float = 300.0,
    jitter: float = 0.1,
    cold_jitter: float | None = None,
    revalidate: str = "get",
    start_over: float = 0.0,
    seed: int = 2024,
    outage: tuple[float, float] | None = None,
) -> FleetResult:
    """Run one fleet (``rate`` requests/s per environment) and return its figures.

    ``cold_jitter=None`` leaves the cache's default; ``start_over`` spreads the
    environments' start uniformly over that many seconds (0: all start at t = 0).
    ``outage``: the primary region fails over [start, end); each cache reads through a
    ``FailoverSource`` with a replica in us-west-2.
    """
    started = time.perf_counter()
    traffic = random.Random(seed)
    clock = FakeClock(0.0)
    shared = InMemorySource({SECRET: "v1"})
    log: list[float] = []
    taps = [Tap(shared, clock, log) for _ in range(envs)]
    options: dict[str, Any] = {"ttl": ttl, "jitter": jitter, "revalidate": revalidate}
    if cold_jitter is not None:
        options["cold_jitter"] = cold_jitter
    replica_log: list[float] = []
    replica = shared.replica("us-west-2")
    spares = [Tap(replica, clock, replica_log) for _ in range(envs)] if outage else []
    caches = []
    for i, tap in enumerate(taps):
        rng = random.Random(f"{seed}/{i}")
        source = FailoverSource(tap, [spares[i]], clock=clock, rng=rng) if outage else tap
        caches.append(SecretCache(source=source, clock=clock, rng=rng, **options))
    down = (math.inf, math.inf) if outage is None else outage
    failing = False
    errors = 0
    cold_floor, warm_floor = _floors(
        ttl, jitter, DEFAULT_COLD_JITTER if cold_jitter is None else cold_jitter
    )
    starts = [traffic.uniform(0.0, start_over) if start_over else 0.0 for _ in range(envs)]
    heap = [(starts[i] + traffic.expovariate(rate), i) for i in range(envs)]
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
        if failing != (down[0] <= t < down[1]):
            failing = not failing
            if failing:
                shared.fail(SecretsManagerUnavailableError("down", code="InternalServiceError"))
            else:
                shared.heal()
        clock.advance(t - clock())
        tap = taps[i]
        before = tap.calls + (spares[i].calls if spares else 0)
        try:
            value = caches[i].get_secret_string(SECRET)
        except SecretsManagerUnavailableError:
            errors += 1  # never with a replica answering (counted to show it)
            value = ""
        simulated += 1
        if rotated and i not in first_new and value == "v2":
            first_new[i] = t - rotate_at
        if tap.calls + (spares[i].calls if spares else 0) != before:
            # Loaded now: every request before t + floor is a hit; skip them, counted.
            resume = t + (cold_floor if before == 0 else warm_floor)
            skipped += rate * (min(resume, seconds) - t)
            following = resume + traffic.expovariate(rate)
        else:
            following = t + traffic.expovariate(rate)
        if following < seconds:
            heapq.heappush(heap, (following, i))
    for cache in caches:
        cache.close()
    peak, peak_at = _busiest(log, 1.0)
    steady_after = 2 * ttl
    busiest, busiest_at = _busiest(log, WINDOW, steady_after)
    peak_steady, _ = _busiest(log, 1.0, steady_after)
    steady_calls = len(log) - bisect.bisect_left(log, steady_after)
    # Environments that never saw v2 before the end count as stale until the end.
    stale = [first_new.get(i, seconds - rotate_at) for i in range(envs)]
    return FleetResult(
        label=label,
        envs=envs,
        rate=rate,
        seconds=seconds,
        start_over=start_over,
        requests_simulated=simulated,
        requests_total=simulated + skipped,
        calls=dict(shared.calls),
        peak_1s=peak,
        peak_1s_at=peak_at,
        steady_after=steady_after,
        busiest_window=busiest,
        busiest_window_at=busiest_at,
        mean_window=steady_calls / ((seconds - steady_after) / WINDOW),
        peak_1s_steady=peak_steady,
        stale_p50=_percentile(stale, 0.50),
        stale_p99=_percentile(stale, 0.99),
        stale_max=max(stale),
        stale_reads=sum(rate * s for s in stale),
        never_saw_new=envs - len(first_new),
        rotate_at=rotate_at,
        wall=time.perf_counter() - started,
        outage=outage,
        replica_calls=dict(replica.calls),
        outage_primary_calls=_between(log, down),
        outage_replica_calls=_between(replica_log, down),
        outage_replica_busiest=_busiest(replica_log, WINDOW)[0],
        errors=errors,
        per_minute=_per_minute(log, seconds),
        replica_per_minute=_per_minute(replica_log, seconds) if outage else [],
    )


def _per_minute(times: list[float], seconds: float) -> list[int]:
    """Return how many of ``times`` fall in each minute [60 k, 60 (k + 1)) of the run."""
    counts = [0] * math.ceil(seconds / WINDOW)
    for t in times:
        counts[min(int(t // WINDOW), len(counts) - 1)] += 1
    return counts


def _between(times: list[float], span: tuple[float, float]) -> int:
    """Return how many of the sorted ``times`` fall in [start, end)."""
    return bisect.bisect_left(times, span[1]) - bisect.bisect_left(times, span[0])


@dataclass
class Runs:
    """The runs of one ``make bench``, by role."""

    defaults: FleetResult
    before: FleetResult  # cold_jitter=0: the first freshness drawn like every later one
    no_jitter: FleetResult
    deploy: FleetResult
    deploy_before: FleetResult
    rolling: FleetResult
    describe: FleetResult
    outage: FleetResult  # the primary region down for half the run, a replica answering
    hosts: agent_fleet.AgentRuns | None = None  # gunicorn hosts: own caches or one Agent

    def all(self) -> list[FleetResult]:
        """Return every run, in table order."""
        return [
            self.defaults,
            self.before,
            self.no_jitter,
            self.deploy,
            self.deploy_before,
            self.rolling,
            self.describe,
        ]


def run(quick: bool = False) -> Runs:
    """Run the fleets: defaults (with and without the cold spread), jitter=0, etc."""
    base: dict[str, Any] = {}
    envs, big = 1000, 10_000
    if quick:
        envs, big = 20, 60
        base = {"seconds": 900.0, "rotate_at": 300.0}
    return Runs(
        defaults=simulate("defaults", envs=envs, **base),
        before=simulate("`cold_jitter=0` (no cold spread)", envs=envs, cold_jitter=0.0, **base),
        no_jitter=simulate("`jitter=0`", envs=envs, jitter=0.0, **base),
        deploy=simulate(f"deploy of {big:,} environments", envs=big, **base),
        deploy_before=simulate(
            f"deploy of {big:,} environments, `cold_jitter=0`", envs=big, cold_jitter=0.0, **base
        ),
        rolling=simulate("rolling start over 10 minutes", envs=envs, start_over=600.0, **base),
        describe=simulate('`revalidate="describe"`', envs=envs, revalidate="describe", **base),
        outage=simulate(
            "regional outage, `fallback_regions`", envs=envs, outage=_outage_span(base), **base
        ),
        hosts=agent_fleet.run(quick),
    )


def _outage_span(base: dict[str, Any]) -> tuple[float, float]:
    """Return the outage of the regional-outage run: from 1/6 of the run, for half of it."""
    seconds = float(base.get("seconds", inspect.signature(simulate).parameters["seconds"].default))
    return seconds / 6, seconds / 6 + seconds / 2


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def render(runs: Runs, info: dict[str, str]) -> str:
    """Return the fleet section of RESULTS.md."""
    d, b, j, s = runs.defaults, runs.before, runs.no_jitter, runs.describe
    lines = [
        "## Lambda fleet simulation (`bench/fleet.py`)",
        "",
        f"- date: {info['date']}; machine: {info['nproc']} cores, {info['cpu']}; {info['python']}",
        f"- command: `{info['command']}` (via `make bench`)",
        f"- {d.envs:,} execution environments (unless the run says otherwise), each its own "
        f"`SecretCache` (one secret, ttl 300 s, jitter 0.1, cold_jitter "
        f"{DEFAULT_COLD_JITTER:g}: the defaults), each with Poisson traffic of "
        f"{d.rate:g} requests/s, for "
        f"{d.seconds / 3600:g} simulated hours; the secret rotates at "
        f"t = {d.rotate_at:,.0f} s. Every environment cold-starts at t = 0 (a deploy), "
        f"except in the rolling start, where they start uniformly over the first "
        f"{runs.rolling.start_over / 60:g} minutes.",
        f"- Windows: API calls in every 60 s window starting at or after 2 TTLs "
        f"(t >= {d.steady_after:,.0f} s), see Method.",
        "",
        "| run | API calls (by operation) | busiest 60 s after 2 TTLs | mean 60 s after 2 TTLs "
        "| busiest / mean | peak calls in any 1 s | peak 1 s after 2 TTLs "
        "| staleness p50 / p99 / max | old-value reads after rotation | monthly API cost "
        "| sim wall time |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs.all():
        ops = ", ".join(f"{k} {v:,}" for k, v in sorted(r.calls.items()))
        lines.append(
            f"| {r.label} | {r.total_calls:,} ({ops}) | {r.busiest_window:,} "
            f"(at t={r.busiest_window_at:,.0f} s) | {r.mean_window:,.1f} | "
            f"{r.window_ratio:.2f}x | {r.peak_1s:,} (at t={r.peak_1s_at:,.0f} s) | "
            f"{r.peak_1s_steady:,} | "
            f"{r.stale_p50:,.0f} / {r.stale_p99:,.0f} / {r.stale_max:,.0f} s | "
            f"{r.stale_reads:,.0f} | ${r.monthly_cost:,.2f} | {r.wall:.0f} s |"
        )
    extra = d.total_calls / b.total_calls - 1.0
    lines += [
        "",
        "Target (issue 18), defaults run: busiest 60 s window after 2 TTLs <= "
        f"{TARGET_RATIO:g}x the mean, at most {TARGET_EXTRA_CALLS:.0%} more API calls than "
        "without the cold spread (`cold_jitter=0`, the behaviour before it), staleness p99 "
        "<= ttl.",
        "",
        "| measurement | defaults | `cold_jitter=0` | target | met? |",
        "|---|---|---|---|---|",
        f"| busiest / mean 60 s window after 2 TTLs | {d.window_ratio:.2f}x | "
        f"{b.window_ratio:.2f}x | <= {TARGET_RATIO:g}x | "
        f"{_met(d.window_ratio <= TARGET_RATIO)} |",
        f"| API calls in {d.seconds / 3600:g} h | {d.total_calls:,} ({extra:+.1%}) | "
        f"{b.total_calls:,} | <= +{TARGET_EXTRA_CALLS:.0%} | "
        f"{_met(extra <= TARGET_EXTRA_CALLS)} |",
        f"| staleness p99 | {d.stale_p99:,.0f} s | {b.stale_p99:,.0f} s | <= 300 s | "
        f"{_met(d.stale_p99 <= 300)} |",
        "",
        f"Requests: {d.requests_total:,.0f} in total in the defaults run, of which "
        f"{d.requests_simulated:,} went through a cache one by one; the rest are certain "
        "hits counted arithmetically (see method). Staleness = time from the rotation "
        "until an environment first serves the new version (the very request that "
        "refreshes it); old-value reads = requests served the old version after the "
        "rotation (rate x staleness, summed). Monthly cost = API calls x 360 (30 days / 2 h) "
        "x $0.05 / 10,000; uncached, the defaults run's traffic would cost "
        f"${d.requests_total * 360 * PRICE_PER_CALL:,.0f} a month.",
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
        "environment-secrets (environments x secrets each reads) in one account and region, "
        "provided their refreshes are spread evenly.",
        f"- A deploy makes one call per environment and secret at once: here {d.peak_1s:,} "
        f"calls in the worst second ({runs.deploy.peak_1s:,} for {runs.deploy.envs:,} "
        f"environments), all in the first seconds. So {QUOTA_GSV:,} environments "
        f"cold-starting within a second with one secret each reach the quota on their own; "
        f"with N secrets per environment, {QUOTA_GSV:,} / N. Use `prefetch()` "
        "(BatchGetSecretValue, 20 secrets per call, its own 100 TPS quota) or fewer, "
        "JSON-bundled secrets.",
        f"- After a deploy, the cold spread (`cold_jitter`) breaks the fleet's wave up within "
        f"one TTL: from 2 TTLs on, the busiest minute is {d.window_ratio:.2f}x the mean "
        f"({d.busiest_window:,} vs {d.mean_window:,.1f} calls; busiest second "
        f"{d.peak_1s_steady:,}), against {b.window_ratio:.2f}x ({b.busiest_window:,} vs "
        f"{b.mean_window:,.1f}; busiest second {b.peak_1s_steady:,}) when the first "
        f"freshness is drawn like later ones. With {runs.deploy.envs:,} environments: "
        f"{runs.deploy.window_ratio:.2f}x (busiest second {runs.deploy.peak_1s_steady:,}) "
        f"against {runs.deploy_before.window_ratio:.2f}x (busiest second "
        f"{runs.deploy_before.peak_1s_steady:,}): without the spread, the quota sees every "
        "deploy again every TTL. The spread costs "
        f"{extra:+.1%} API calls over {d.seconds / 3600:g} hours (each environment's first "
        "freshness averages ttl x (1 - cold_jitter/2) instead of ttl x (1 - jitter/2): "
        "about 0.4 calls more per cold start). A rolling start is spread already: "
        f"{runs.rolling.window_ratio:.2f}x.",
        f"- Without jitter (`jitter=0`, which also turns the cold spread off) environments "
        f"that started together stay together: every TTL they refresh in one wave, "
        f"{j.busiest_window:,} calls in the busiest minute ({j.window_ratio:.2f}x the mean of "
        f"{j.mean_window:,.1f}; {j.peak_1s_steady:,} in one second).",
        f'- `revalidate="describe"` makes about as many revalidations as the defaults run '
        f"({s.calls.get('DescribeSecret', 0):,}) but they are DescribeSecret, which has its own "
        f"{QUOTA_DESCRIBE:,} TPS quota and skips KMS; GetSecretValue is called once per "
        f"environment at start, once after the rotation, and once every `max_stale` "
        f"(900 s) to read the value itself (a revoked grant must be noticed) "
        f"({s.calls.get('GetSecretValue', 0):,} in all). The bill is about the same (both "
        "are billed calls); "
        "GetSecretValue quota headroom grows by a factor of "
        f"{d.calls.get('GetSecretValue', 0) / max(1, s.calls.get('GetSecretValue', 0)):,.0f}. "
        f"Its busiest minute ({s.window_ratio:.2f}x the mean) falls in the TTL after the "
        "rotation, when every revalidation is a DescribeSecret and a GetSecretValue.",
        f"- Rotation is visible everywhere within one TTL: p99 {d.stale_p99:,.0f} s, max "
        f"{d.stale_max:,.0f} s. A fleet spread evenly over the refresh interval sees the "
        "rotation at evenly spread moments, so its staleness fills that interval (p99 near "
        "the TTL). Without the spread it depends on where the rotation falls in the "
        f"fleet's wave ({b.stale_p99:,.0f} s with `cold_jitter=0`, {j.stale_p99:,.0f} s "
        "with `jitter=0` here): luck of the phase, not a property. During a "
        "rotation the old password must keep working for at least the TTL (Secrets "
        "Manager's rotation keeps AWSPREVIOUS valid), or use `rotation_candidate()` / "
        "`inject_secret(refresh_on=...)` on login failures.",
        "",
        *_outage_lines(runs.outage, d),
        "",
        *(agent_fleet.lines(runs.hosts) if runs.hosts is not None else []),
        "",
        "### Method",
        "",
        "Exact for API calls: t" + __doc__.split("Method (exact for API calls): t", 1)[1].strip(),
    ]
    return "\n".join(lines)


def _outage_lines(o: FleetResult, d: FleetResult) -> list[str]:
    """Return the regional-outage subsection: what the fleet asks of each region."""
    assert o.outage is not None
    start, end = o.outage
    minutes = (end - start) / 60
    mean = o.outage_replica_calls / ((end - start) / WINDOW)
    raised = "No read raised" if o.errors == 0 else f"**{o.errors:,} reads raised**"
    return [
        "### A regional outage (`fallback_regions`)",
        "",
        f"The same {o.envs:,} environments with the defaults, each cache reading through a "
        f"`FailoverSource` (the primary region, then a replica in us-west-2); the primary "
        f"fails every call from t = {start:,.0f} s to t = {end:,.0f} s ({minutes:g} minutes; the "
        f"rotation at t = {o.rotate_at:,.0f} s falls inside it and replicates at once).",
        "",
        "| region | calls during the outage | busiest 60 s | mean 60 s | reads that raised |",
        "|---|---|---|---|---|",
        f"| primary (failing) | {o.outage_primary_calls:,} | - | "
        f"{o.outage_primary_calls / ((end - start) / WINDOW):,.1f} | {o.errors:,} |",
        f"| replica (us-west-2) | {o.outage_replica_calls:,} | {o.outage_replica_busiest:,} | "
        f"{mean:,.1f} | |",
        "",
        f"- {raised}. The replica takes the fleet's refreshes at the rate the primary "
        f"had ({mean:,.1f} calls a minute against {d.mean_window:,.1f} in the defaults run), "
        "spread as before: plan the replica region's GetSecretValue quota like the "
        "primary's. Each refresh also probes the primary once (its backoff step has run "
        f"out by the next refresh): {o.outage_primary_calls:,} calls in the outage, one per "
        "environment per TTL, each a connect timeout for the one request that refreshes.",
        f"- Staleness after the rotation is unchanged (p99 {o.stale_p99:,.0f} s): the replica "
        "carries the new version as soon as the primary does.",
    ]


def series(runs: Runs) -> dict[str, Any]:
    """Return the runs' API calls per minute (bench/results/fleet.json, for the plots)."""
    d, o = runs.defaults, runs.outage
    assert o.outage is not None
    return {
        "envs": d.envs,
        "seconds": d.seconds,
        "rotate_at": d.rotate_at,
        "ttl": 300,
        "window": WINDOW,
        "runs": [
            {"label": r.label, "calls_per_minute": r.per_minute}
            for r in (runs.defaults, runs.before, runs.no_jitter)
        ],
        "outage": {
            "start": o.outage[0],
            "end": o.outage[1],
            "primary_calls_per_minute": o.per_minute,
            "replica_calls_per_minute": o.replica_per_minute,
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Simulate, print and record."""
    return h.script_main(
        "fleet", __doc__, "tiny fleets; don't write", run, render, argv, data=series
    )


if __name__ == "__main__":
    sys.exit(main())
