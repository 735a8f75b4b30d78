"""Simulate a one-hour outage of the primary region, with and without a fallback region.

Run with ``make bench`` (or ``.venv/bin/python bench/outage.py``); it rewrites its section
of ``bench/out/RESULTS.md``. ``--quick`` shortens the outage to 10 minutes (a smoke run).

Method. One in-process moto backend holds a secret in us-east-1, replicated to
us-west-2 (``AddReplicaRegions``). A ``SecretCache`` built the way a user builds it
(``SecretCache(session=..., ttl=300)``, and with ``fallback_regions=("us-west-2",)``:
the clients are secretcache's own, with their retries and timeouts) reads the secret
100 times a second on a ``FakeClock``, for one minute, then through the outage, then
for ten minutes after it. During the outage every HTTP attempt to us-east-1 ends in a
connect timeout: a botocore ``before-send`` handler on the session moves the clock on
by the client's connect timeout (``CLIENT_SETTINGS``, 2 s) and raises
``ConnectTimeoutError``; botocore's retry sleeps move the clock instead of sleeping.
One thread reads: a read that takes virtual time delays the reads queued behind it,
as in a Lambda environment (a threaded service would serve the others stale). Calls are
counted by region from the request URL: logical calls (``before-call``) and HTTP
attempts (``before-send``). Two keys are read cold during the outage: one a second
after it starts (no failure seen yet) and one half-way through.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h

from secretcache import CacheStats, SecretCache, SecretCacheError
from secretcache._sources.botocore import CLIENT_SETTINGS
from secretcache.testing import FakeClock

EAST, WEST = "us-east-1", "us-west-2"
HOT, COLD_EARLY, COLD_LATE = "prod/db", "prod/api-key", "prod/stripe"
RATE = 100  # gets per second
TTL = 300.0
BEFORE = 60.0  # seconds read before the outage starts
AFTER = 600.0  # seconds read after it ends
CONNECT_TIMEOUT = float(CLIENT_SETTINGS["connect_timeout"])
TARGET_SERVED = 1.0
TARGET_PRIMARY_CALLS = 70  # per key per outage hour
TARGET_COLD = CONNECT_TIMEOUT  # one connect timeout at most


class _SleepOnClock:
    """Stands in for ``time`` in botocore.endpoint: a retry sleep moves the clock."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock

    def sleep(self, seconds: float) -> None:
        self._clock.advance(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@dataclass
class Network:
    """Where requests go: counts per region and phase; us-east-1 times out while down."""

    clock: FakeClock
    down: bool = False
    phase: str = "before"
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    attempts: Counter[tuple[str, str]] = field(default_factory=Counter)
    hot_primary_calls: int = 0
    primary_back_at: float | None = None

    @staticmethod
    def _region(url: str) -> str:
        return WEST if f".{WEST}." in url else EAST

    def before_call(self, params: Any, **kwargs: Any) -> None:
        region = self._region(params["url"])
        self.calls[region, self.phase] += 1
        outage = region == EAST and self.phase == "outage"
        if outage and json.loads(params["body"]).get("SecretId") == HOT:
            self.hot_primary_calls += 1

    def before_send(self, request: Any, **kwargs: Any) -> None:
        from botocore.exceptions import ConnectTimeoutError

        region = self._region(request.url)
        self.attempts[region, self.phase] += 1
        if region != EAST:
            return
        if self.down:
            self.clock.advance(CONNECT_TIMEOUT)
            raise ConnectTimeoutError(endpoint_url=request.url)
        if self.phase == "after" and self.primary_back_at is None:
            self.primary_back_at = self.clock()


@dataclass
class ColdRead:
    """One read of a key never read before, during the outage."""

    at: float  # seconds into the outage
    took: float  # virtual seconds the read took
    served: bool
    error: str = ""


@dataclass
class OutageRun:
    """What one run observed."""

    label: str
    fallback: bool
    outage: float
    reads: int = 0
    served: int = 0
    errors: int = 0
    stale: int = 0
    slowest: float = 0.0
    cold: list[ColdRead] = field(default_factory=list)
    network: Network | None = None
    stats: CacheStats | None = None
    outage_start: float = 0.0
    wall: float = 0.0
    # Reads of the hot key in each minute of the run: fresh, served stale, raised.
    minutes: list[dict[str, int]] = field(default_factory=list)

    @property
    def served_share(self) -> float:
        """Return the share of the outage's reads that got a value."""
        return self.served / self.reads if self.reads else 0.0

    def calls(self, region: str) -> int:
        """Return logical calls to ``region`` during the outage."""
        assert self.network is not None
        return self.network.calls[region, "outage"]

    def attempts(self, region: str) -> int:
        """Return HTTP attempts to ``region`` during the outage."""
        assert self.network is not None
        return self.network.attempts[region, "outage"]

    @property
    def primary_calls_per_key_hour(self) -> float:
        """Return the hot key's logical calls to the primary, per outage hour."""
        assert self.network is not None
        return self.network.hot_primary_calls * 3600.0 / self.outage

    @property
    def recovered_after(self) -> float | None:
        """Return seconds from the outage's end to the primary's first answer."""
        assert self.network is not None
        back = self.network.primary_back_at
        return None if back is None else back - (self.outage_start + self.outage)


def simulate(label: str, *, fallback: bool, outage: float = 3600.0, seed: int = 13) -> OutageRun:
    """Run one outage; return its figures."""
    import boto3
    import botocore.endpoint
    from moto import mock_aws

    started = time.perf_counter()
    run = OutageRun(label, fallback, outage, outage_start=BEFORE)
    clock = FakeClock(0.0)
    net = Network(clock)
    run.network = net
    with mock_aws(), mock.patch.object(botocore.endpoint, "time", _SleepOnClock(clock)):
        session = boto3.Session(region_name=EAST)
        admin = session.client("secretsmanager")  # built before the hooks: not counted
        for name in (HOT, COLD_EARLY, COLD_LATE):
            admin.create_secret(Name=name, SecretString="v1", AddReplicaRegions=[{"Region": WEST}])
        session.events.register_first("before-send.secrets-manager", net.before_send)
        session.events.register("before-call.secrets-manager", net.before_call)
        options: dict[str, Any] = {"fallback_regions": (WEST,)} if fallback else {}
        cache = SecretCache(
            session=session, ttl=TTL, clock=clock, rng=random.Random(seed), **options
        )
        end = BEFORE + outage
        colds = [(BEFORE + 1.0, COLD_EARLY), (BEFORE + outage / 2, COLD_LATE)]
        stale_before = 0
        stale_seen = 0
        for i in range(int((end + AFTER) * RATE)):
            due = i / RATE
            if clock() < due:
                clock.advance(due - clock())
            now = clock()
            while len(run.minutes) <= int(now // 60):
                stale_now = cache.stats().stale_served
                if run.minutes:
                    run.minutes[-1]["stale"] = stale_now - stale_seen
                    run.minutes[-1]["fresh"] -= run.minutes[-1]["stale"]
                stale_seen = stale_now
                run.minutes.append({"fresh": 0, "stale": 0, "raised": 0})
            phase = "before" if now < BEFORE else "outage" if now < end else "after"
            if phase != net.phase:
                if phase == "outage":
                    stale_before = cache.stats().stale_served
                else:
                    run.stale = cache.stats().stale_served - stale_before
                net.phase, net.down = phase, phase == "outage"
            if colds and phase == "outage" and now >= colds[0][0]:
                _, name = colds.pop(0)
                run.cold.append(_cold_read(cache, clock, name, now - BEFORE))
            try:
                cache.get_secret_string(HOT)
                ok = True
            except SecretCacheError:
                ok = False
            run.minutes[-1]["fresh" if ok else "raised"] += 1
            if phase == "outage":
                run.reads += 1
                run.served += ok
                run.errors += not ok
                run.slowest = max(run.slowest, clock() - now)
        run.minutes[-1]["stale"] = cache.stats().stale_served - stale_seen
        run.minutes[-1]["fresh"] -= run.minutes[-1]["stale"]
        run.stats = cache.stats()
        cache.close()
    run.wall = time.perf_counter() - started
    return run


def _cold_read(cache: SecretCache, clock: FakeClock, name: str, at: float) -> ColdRead:
    before = clock()
    try:
        cache.get_secret_string(name)
    except SecretCacheError as exc:
        return ColdRead(at, clock() - before, False, f"{type(exc).__name__} [{exc.code}]")
    return ColdRead(at, clock() - before, True)


def run(quick: bool = False) -> list[OutageRun]:
    """Run the outage without and with a fallback region."""
    outage = 600.0 if quick else 3600.0
    return [
        simulate("one region (no fallback)", fallback=False, outage=outage),
        simulate('`fallback_regions=("us-west-2",)`', fallback=True, outage=outage),
    ]


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _cold_cell(reads: list[ColdRead]) -> str:
    cells = []
    for cold in reads:
        what = "value" if cold.served else f"raises {cold.error}"
        cells.append(f"{cold.took:.1f} s ({what}, {cold.at / 60:.0f} min in)")
    return "; ".join(cells)


def render(runs: list[OutageRun], info: dict[str, str]) -> str:
    """Return the outage section of RESULTS.md."""
    one, two = runs
    lines = [
        "## Regional outage (`bench/outage.py`)",
        "",
        f"- date: {info['date']}; machine: {info['nproc']} cores, {info['cpu']}; {info['python']}",
        f"- command: `{info['command']}` (via `make bench`)",
        f"- one key read {RATE} times a second (one thread), `ttl={TTL:g}`, other settings "
        f"default (`max_stale=900`); us-east-1 down for {one.outage / 60:g} minutes, every "
        f"HTTP attempt a {CONNECT_TIMEOUT:g} s connect timeout on the virtual clock; "
        f"the secret replicated to us-west-2. See Method.",
        "",
        "| run | outage reads served | errors raised | served stale | us-east-1 calls "
        "(HTTP attempts) | us-west-2 calls | primary calls for the key, per outage hour "
        "| slowest read | cold key: time to its first value | primary answers again after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        back = r.recovered_after
        lines.append(
            f"| {r.label} | {r.served:,} of {r.reads:,} ({r.served_share:.1%}) | {r.errors:,} "
            f"| {r.stale:,} | {r.calls(EAST):,} ({r.attempts(EAST):,}) | {r.calls(WEST):,} "
            f"| {r.primary_calls_per_key_hour:,.0f} | {r.slowest:.1f} s | {_cold_cell(r.cold)} "
            f"| {'-' if back is None else f'{back:,.0f} s'} |"
        )
    cold_worst = max(c.took for c in two.cold)
    lines += [
        "",
        "Targets (issue 13), with the fallback region:",
        "",
        "| measurement | one region | with fallback | target | met? |",
        "|---|---|---|---|---|",
        f"| reads served during the outage | {one.served_share:.1%} | {two.served_share:.1%} "
        f"| 100% | {_met(two.served_share >= TARGET_SERVED)} |",
        f"| primary calls per key per outage hour | {one.primary_calls_per_key_hour:,.0f} "
        f"| {two.primary_calls_per_key_hour:,.0f} | <= {TARGET_PRIMARY_CALLS} "
        f"| {_met(two.primary_calls_per_key_hour <= TARGET_PRIMARY_CALLS)} |",
        f"| a cold key's first read (worst of two) | "
        f"{max(c.took for c in one.cold):.1f} s, then raises | {cold_worst:.1f} s "
        f"| <= {TARGET_COLD:g} s (one connect timeout) | {_met(cold_worst <= TARGET_COLD)} |",
        "",
        f"Without a fallback the key is served stale for `max_stale` after its freshness "
        f"ends, then every read raises until the outage is over ({one.errors:,} errors in "
        f"{one.outage / 60:g} minutes); each of its calls makes "
        f"{CLIENT_SETTINGS['retries']['total_max_attempts']} HTTP attempts (botocore's "
        f"standard retries), each a connect timeout. With the fallback every load is "
        f"answered by us-west-2 and fresh: one call to us-west-2 per TTL, and one probe of "
        f"us-east-1 before it (the primary's backoff step, at most 60 s, has run out by "
        f"the next load), so the reader that loads waits one connect timeout "
        f"({CONNECT_TIMEOUT:g} s) per TTL. A client secretcache builds for the primary "
        f"makes one HTTP attempt per call when fallbacks are set.",
        "",
        "### Method",
        "",
        __doc__.split("Method. ", 1)[1].strip() if __doc__ else "",
        f"Wall time of the runs: {one.wall:.0f} s and {two.wall:.0f} s.",
    ]
    return "\n".join(lines)


def series(runs: list[OutageRun]) -> dict[str, Any]:
    """Return each run's reads minute by minute (bench/results/outage.json, for the plots)."""
    return {
        "rate": RATE,
        "outage_start": runs[0].outage_start,
        "outage_end": runs[0].outage_start + runs[0].outage,
        "max_stale": 900,
        "runs": [{"label": r.label, "reads_per_minute": r.minutes} for r in runs],
    }


def main(argv: list[str] | None = None) -> int:
    """Simulate, print and record."""
    return h.script_main(
        "outage", __doc__, "a 10-minute outage; don't write", run, render, argv, data=series
    )


if __name__ == "__main__":
    sys.exit(main())
