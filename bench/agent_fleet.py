"""Hosts of gunicorn-style workers: in-process caches against one shared Secrets Manager Agent.

Part of ``bench/fleet.py``'s section. One host runs 8 worker processes (gunicorn's
``--workers 8``), each with its own ``SecretCache`` at the defaults (ttl 300 s, jitter
0.1, cold_jitter 0.9), all booted at t = 0 and each reading every one of the host's
secrets once a simulated second. Either every worker's cache calls Secrets Manager
itself (an ``InMemorySource`` that counts), or every worker reads through one Agent on
the host: a real ``ExtensionEmulator`` (its own TTL 300 s, as the Agent's default) in
front of the same counting source, reached over HTTP on 127.0.0.1 by each worker's
``ExtensionSource``. One FakeClock drives the caches and the emulator. The first
secret rotates at t = 5,400 s; "sees it after" is the longest any worker served the old
version once the new one was stored. Hit latency: the same ``get_secret_string`` hit
through a cache on either source, timed in this process.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from secretcache import ExtensionSource, SecretCache
from secretcache.testing import ExtensionEmulator, FakeClock, InMemorySource

WORKERS = 8
SECRETS = 5
HOUR = 3600


class Backend:
    """A Secrets Manager client over an InMemorySource (what the emulator calls)."""

    def __init__(self, source: InMemorySource) -> None:
        self.source = source

    def get_secret_value(self, **kwargs: str) -> dict[str, Any]:
        """Answer GetSecretValue as boto3 does."""
        secret = self.source.get_secret_value(
            kwargs["SecretId"],
            version_stage=kwargs.get("VersionStage"),
            version_id=kwargs.get("VersionId"),
        )
        return {
            "ARN": secret.arn,
            "Name": secret.name,
            "VersionId": secret.version_id,
            "SecretString": secret.secret_string,
            "VersionStages": list(secret.version_stages),
            "CreatedDate": secret.created_date,
        }


@dataclass
class HostResult:
    """One host's API calls (to Secrets Manager) per hour, and what the workers saw."""

    label: str
    first_hour: int
    second_hour: int
    agent_requests: int  # HTTP requests the workers made to the Agent (local, free)
    sees_rotation_after: float


def _host(agent: bool, hours: int, seed: int) -> HostResult:
    clock = FakeClock(0.0)
    sm = InMemorySource()
    names = [f"app/secret-{i}" for i in range(SECRETS)]
    for name in names:
        sm.put(name, "v1")
    emulator = ExtensionEmulator(client=Backend(sm), ttl=300.0, clock=clock) if agent else None
    if emulator is not None:
        emulator.start()
    try:
        caches = [
            SecretCache(
                source=ExtensionSource(emulator.endpoint, token=emulator.token, clock=clock)
                if emulator is not None
                else sm,
                clock=clock,
                rng=random.Random(seed * 100 + i),
            )
            for i in range(WORKERS)
        ]
        rotate_at = 1.5 * HOUR
        first_hour = 0
        stored_at: float | None = None
        last_old = 0.0
        for second in range(hours * HOUR):
            if second == HOUR:
                first_hour = sm.calls["GetSecretValue"]
            if second == rotate_at:
                sm.rotate(names[0], "v2")
                stored_at = clock()
            for cache in caches:
                for name in names:
                    value = cache.get_secret_string(name)
                    if stored_at is not None and name == names[0] and value == "v1":
                        last_old = clock()
            clock.advance(1.0)
        total = sm.calls["GetSecretValue"]
        assert stored_at is not None
        return HostResult(
            label="8 workers reading through one Agent"
            if agent
            else "8 workers, each its own in-process cache",
            first_hour=first_hour,
            second_hour=total - first_hour,
            agent_requests=len(emulator.requests) if emulator is not None else 0,
            sees_rotation_after=last_old - stored_at + 1.0,
        )
    finally:
        if emulator is not None:
            emulator.stop()


def _warm(source: Any, clock: FakeClock) -> SecretCache:
    cache = SecretCache(source=source, clock=clock)
    cache.get_secret_string("app/secret-0")
    return cache


def hit_ns(cache: SecretCache, reads: int) -> float:
    """Return nanoseconds per fresh hit of ``cache`` (its source is not asked)."""
    get = cache.get_secret_string
    started = time.perf_counter()
    for _ in range(reads):
        get("app/secret-0")
    return (time.perf_counter() - started) / reads * 1e9


@dataclass
class AgentRuns:
    """The two hosts, and the hit latency on each source."""

    own: HostResult
    agent: HostResult
    hit_own_ns: float
    hit_agent_ns: float


def run(quick: bool = False) -> AgentRuns:
    """Simulate one host each way (2 hours; quick: the same, it takes seconds)."""
    own, agent = _host(False, 2, seed=1), _host(True, 2, seed=1)
    clock = FakeClock(0.0)
    sm = InMemorySource()
    sm.put("app/secret-0", "v1")
    reads = 20_000 if quick else 200_000
    with ExtensionEmulator(client=Backend(sm), clock=clock) as emulator:
        source = ExtensionSource(emulator.endpoint, token=emulator.token, clock=clock)
        own_cache, agent_cache = _warm(sm, clock), _warm(source, clock)
        # Interleaved rounds, best of each: load on the machine falls on both alike.
        own_ns = agent_ns = float("inf")
        for _ in range(15):
            own_ns = min(own_ns, hit_ns(own_cache, reads))
            agent_ns = min(agent_ns, hit_ns(agent_cache, reads))
    return AgentRuns(own, agent, own_ns, agent_ns)


def lines(r: AgentRuns) -> list[str]:
    """Return the subsection of the fleet section: API calls per host per hour."""
    rows = [
        "| host | API calls, first hour (boot included) | API calls per hour after | "
        "requests to the Agent per hour | last worker sees a rotation after |",
        "|---|---|---|---|---|",
    ]
    for h in (r.own, r.agent):
        agent = f"{h.agent_requests / 2:,.0f}" if h.agent_requests else "-"
        rows.append(
            f"| {h.label} | {h.first_hour:,} | {h.second_hour:,} | {agent} | "
            f"{h.sees_rotation_after:,.0f} s |"
        )
    fewer = r.own.second_hour / max(r.agent.second_hour, 1)
    return [
        "### Hosts of 8 workers: in-process caches against one shared Agent",
        "",
        __doc__.split("\n\n", 1)[1].strip().replace("\n", " "),
        "",
        *rows,
        "",
        f"- With the Agent a host asks Secrets Manager {fewer:.1f}x less often "
        f"({r.agent.second_hour:,} calls an hour for {SECRETS} secrets, against "
        f"{r.own.second_hour:,}); a fleet of 100 such hosts: {100 * r.agent.second_hour:,} "
        f"against {100 * r.own.second_hour:,} calls an hour. The price is staleness: the "
        "Agent's own TTL adds to the workers' (up to 300 + 300 s before the last worker "
        "serves a new version, unless `refresh()` or `rotation_candidate()` asks with "
        "`refreshNow=true`).",
        f"- Hit latency is unchanged: a fresh hit never asks its source "
        f"({r.hit_own_ns:,.0f} ns through an in-process source, {r.hit_agent_ns:,.0f} ns "
        f"through the Agent's source: {r.hit_agent_ns / r.hit_own_ns:.2f}x, best of 15 "
        "interleaved rounds).",
    ]
