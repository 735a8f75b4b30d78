"""Refused logins per rotation through the database integrations, on a real PostgreSQL.

For each rotation order (tests/rotation_orders.py: AWS single user, AWS alternating
users, by hand secret first, by hand database first) and each setup (tests/db_setups.py:
``connect()`` per query, SQLAlchemy NullPool and QueuePool, Django with CONN_MAX_AGE 0
and > 0, psycopg_pool), eight threads query a throwaway PostgreSQL cluster while the
password is rotated three times. Reported: refused logins per rotation from the
server's own log (``log_connections = on``) and from secretcache's INFO line per
refusal, failed queries, GetSecretValue calls per rotation, and the time from the
database change to the first query on the new password. Then queries per second with
no rotation, with the login gate (at most 2 logins per secret in flight) and without
it (``_gate.LIMIT = None``), alternated. Writes its own section of ``bench/out/RESULTS.md``;
``--quick`` runs one order and two setups and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import _harness as h

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from db_setups import SETUPS
from fixtures_postgres import ALT_USER, APP_PASSWORD, APP_USER, PostgresCluster, running_cluster
from pg_traffic import WORKERS, Traffic
from rotation_orders import ORDERS, Refusals, Rotated, Rotator

from secretcache import SecretCache
from secretcache.integrations import _gate

TARGET = 2  # refused logins per rotation per process
ROTATIONS = 3  # per order and setup
THROUGHPUT_ROUNDS = 6  # gated / ungated alternations per setup (the machine is shared)
WINDOW = 2.0  # seconds of queries counted per throughput round (after 0.5 s warm-up)
RATIO_TARGET = 0.95  # gated / ungated queries per second


@dataclass
class Figures:
    """One order and setup: its rotations, queries and failed queries."""

    rotations: list[Rotated] = field(default_factory=list)
    queries: int = 0
    failed_queries: int = 0


def _fresh(pg: PostgresCluster) -> None:
    for user in (APP_USER, ALT_USER):
        pg.set_password(APP_PASSWORD, user)
        pg.terminate_sessions(user)


def run_once(world: h.World, pg: PostgresCluster, order: str, setup: str, run: int) -> Figures:
    """Rotate ROTATIONS times in ``order`` under traffic through ``setup``."""
    secret_id = f"bench/db-{order}-{setup}-{run}"
    _fresh(pg)
    world.admin.create_secret(Name=secret_id, SecretString=json.dumps(pg.secret(APP_PASSWORD)))
    figures = Figures()
    with (
        SecretCache(client=world.client, ttl=300.0, jitter=0.0) as cache,
        Refusals() as refusals,
        SETUPS[setup](cache, secret_id) as query,
        Traffic(query) as traffic,
    ):
        traffic.wait_for(3)
        rotator = Rotator(world.admin, pg, traffic, cache, secret_id, refusals)
        figures.rotations = [rotator.rotate(order) for _ in range(ROTATIONS)]
    figures.queries = traffic.queries
    figures.failed_queries = len(traffic.failures)
    return figures


def throughput(world: h.World, pg: PostgresCluster, setup: str, gated: bool) -> float:
    """Return queries per second through ``setup`` with no rotation, gated or not."""
    secret_id = f"bench/db-qps-{setup}-{'gated' if gated else 'ungated'}-{time.monotonic_ns()}"
    _fresh(pg)
    world.admin.create_secret(Name=secret_id, SecretString=json.dumps(pg.secret(APP_PASSWORD)))
    saved = _gate.LIMIT
    _gate.LIMIT = saved if gated else None
    try:
        with (
            SecretCache(client=world.client, ttl=300.0, jitter=0.0) as cache,
            SETUPS[setup](cache, secret_id) as query,
            Traffic(query) as traffic,
        ):
            time.sleep(0.5)
            start, before = time.perf_counter(), traffic.queries
            time.sleep(WINDOW)
            done, elapsed = traffic.queries - before, time.perf_counter() - start
    finally:
        _gate.LIMIT = saved
    return done / elapsed


def measure(*, quick: bool = False) -> tuple[dict[tuple[str, str], Figures], dict[str, tuple]]:
    """Return each (order, setup)'s figures and each setup's (gated, ungated) q/s."""
    orders = ORDERS[:1] if quick else ORDERS
    setups = ["psycopg-connect", "psycopg-pool"] if quick else list(SETUPS)
    results: dict[tuple[str, str], Figures] = {}
    rates: dict[str, tuple] = {}
    with h.moto_world() as world, running_cluster() as pg:
        for order in orders:
            for setup in setups:
                results[order, setup] = run_once(world, pg, order, setup, 0)
        for setup in setups:
            gated, ungated = [], []
            for n in range(1 if quick else THROUGHPUT_ROUNDS):
                first = n % 2 == 0  # each goes first in half the rounds: drift cancels
                for is_gated in (first, not first):
                    rate = throughput(world, pg, setup, is_gated)
                    (gated if is_gated else ungated).append(rate)
            rates[setup] = (statistics.median(gated), statistics.median(ungated))
    return results, rates


LABELS = {
    "sqlalchemy-nullpool": "SQLAlchemy `NullPool`",
    "sqlalchemy-queuepool": "SQLAlchemy QueuePool (recycle 0.3 s)",
    "django": "Django `CONN_MAX_AGE = 0`",
    "django-persistent": "Django `CONN_MAX_AGE = 0.3`",
    "psycopg-pool": "psycopg_pool (`max_lifetime` 0.3 s)",
    "psycopg-connect": "`connect()` per query",
}


def _each(values: list[int]) -> str:
    return ", ".join(map(str, values))


def summary(results: dict[tuple[str, str], Figures]) -> str:
    """Return the rotation table: per order and setup, refusals, calls, recovery."""
    rows = [
        f"| order | setup ({WORKERS} threads) | refused logins per rotation: server log "
        "| in-process | failed queries | GetSecretValue per rotation "
        f"| time to recover, median | target <= {TARGET} met? |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (order, setup), f in results.items():
        server = [r.refused_server for r in f.rotations]
        here = [r.refused_here for r in f.rotations]
        times = [r.recovered for r in f.rotations if r.recovered is not None]
        recover = f"{statistics.median(times):.2f} s" if times else "nothing to recover"
        met = "yes" if max(server + here) <= TARGET and f.failed_queries == 0 else "**no**"
        rows.append(
            f"| {order} | {LABELS[setup]} | {_each(server)} | {_each(here)} "
            f"| {f.failed_queries} | {_each([r.api_calls for r in f.rotations])} "
            f"| {recover} | {met} |"
        )
    return "\n".join(rows)


def rate_table(rates: dict[str, tuple]) -> str:
    """Return queries per second with and without the gate, and their ratio."""
    rows = [
        f"| setup ({WORKERS} threads, no rotation) | queries/s gated | queries/s ungated "
        f"| gated / ungated | target >= {RATIO_TARGET} met? |",
        "|---|---|---|---|---|",
    ]
    for setup, (gated, ungated) in rates.items():
        ratio = gated / ungated
        met = "yes" if ratio >= RATIO_TARGET else "**no**"
        rows.append(f"| {LABELS[setup]} | {gated:.0f} | {ungated:.0f} | {ratio:.2f} | {met} |")
    return "\n".join(rows)


METHOD = f"""### Method

- A throwaway PostgreSQL cluster (tests/fixtures_postgres.py; scram-sha-256 on
  127.0.0.1, `log_connections = on`) and an in-process moto backend. One `SecretCache`
  per run, `ttl=300` on the real clock: nothing expires during a run by itself.
- {WORKERS} threads query `SELECT current_user` in a loop through the setup while the
  password is rotated {ROTATIONS} times in the order named (tests/rotation_orders.py),
  with traffic after each step; after each rotation the cache reads AWSCURRENT (its TTL
  ends: rotations are days apart). `hand-secret-first` also makes the cache read the new
  AWSCURRENT between put-secret-value and `ALTER ROLE`; `hand-database-first` leaves
  0.2 s between `ALTER ROLE` and put-secret-value.
- Refused logins: the server log's `password authentication failed` lines during each
  rotation, and secretcache's INFO line for each refused login (in-process).
- Time to recover: from the database change to the first query on the new password.
- Throughput: no rotation; {THROUGHPUT_ROUNDS} rounds per setup, each {WINDOW:g} s gated
  (at most 2 logins per secret in flight) and {WINDOW:g} s ungated, each first in half of
  them; medians. The 2 cores are shared with other work: differences of ~10% either way
  are within this noise.
"""


def render(
    results: dict[tuple[str, str], Figures], rates: dict[str, tuple], info: dict[str, str]
) -> str:
    """Return the rotation section of RESULTS.md."""
    head = (
        "## Database logins during rotations (`bench/rotation_logins.py`)\n\n"
        f"- date: {info['date']}\n- machine: {info['nproc']} cores, {info['cpu']}\n"
        f"- Python: {info['python']}\n- command: `{info['command']}` (via `make bench`)\n\n"
    )
    return head + summary(results) + "\n\n" + rate_table(rates) + "\n\n" + METHOD


def main(argv: list[str] | None = None) -> int:
    """Measure, print and record."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a subset; don't write")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results, rates = measure(quick=args.quick)
    text = render(results, rates, h.machine())
    print(text)
    print(f"\n(rotation_logins.py took {time.perf_counter() - started:.0f} s)")
    if not args.quick:
        h.write_section("rotation", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
