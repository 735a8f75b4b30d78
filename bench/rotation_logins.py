"""Failed logins per rotation through the database integrations, on a real PostgreSQL.

For each integration (SQLAlchemy NullPool and QueuePool, Django with a new connection
per request, psycopg_pool, bare ``connect()``), eight threads query a throwaway
PostgreSQL cluster while role ``app``'s password is rotated twice as a Secrets Manager
rotation function does it (tests/pg_traffic.py; the setups are tests/db_setups.py).
The cache has a 300 s TTL on a clock that never moves, so only a refused login can find
the new password. Refused logins are counted from the server's own log. Writes its own
section of ``bench/out/RESULTS.md``; ``--quick`` runs one round and writes nothing.
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
from fixtures_postgres import APP_PASSWORD, PostgresCluster, running_cluster
from pg_traffic import WORKERS, Traffic, rotate

from secretcache import SecretCache
from secretcache.testing import FakeClock

TARGET = 2  # failed logins per rotation per process
APART = 1.0  # real seconds of traffic between the two rotations
ROUNDS = 3  # runs per setup (two rotations each)


@dataclass
class Figures:
    """One setup's runs: queries, failed queries, refused logins per rotation."""

    queries: int = 0
    failed_queries: int = 0
    refused: list[int] = field(default_factory=list)
    api_calls: list[int] = field(default_factory=list)  # GetSecretValue per run


def run_once(world: h.World, pg: PostgresCluster, setup: str, run: int) -> Figures:
    """Run two rotations under traffic through ``setup``; return what happened."""
    secret_id = f"bench/db-{setup}-{run}"
    pg.set_password(APP_PASSWORD)
    pg.terminate_sessions()
    world.admin.create_secret(Name=secret_id, SecretString=json.dumps(pg.secret(APP_PASSWORD)))
    figures = Figures()
    with SecretCache(client=world.client, ttl=300.0, jitter=0.0, clock=FakeClock()) as cache:
        with SETUPS[setup](cache, secret_id) as query, Traffic(query) as traffic:
            traffic.wait_for(10)
            first = rotate(world.admin, pg, traffic, secret_id, "r2")
            time.sleep(APART)
            second = rotate(world.admin, pg, traffic, secret_id, "r3")
        figures.api_calls.append(cache.stats().api_calls.get("GetSecretValue", 0))
    figures.queries = traffic.queries
    figures.failed_queries = len(traffic.failures)
    figures.refused = [first.failed_logins, second.failed_logins]
    return figures


def measure(*, quick: bool = False) -> dict[str, Figures]:
    """Return each setup's figures over its rounds."""
    results = {name: Figures() for name in SETUPS}
    with h.moto_world() as world, running_cluster() as pg:
        for run in range(1 if quick else ROUNDS):
            for name in SETUPS:
                once = run_once(world, pg, name, run)
                total = results[name]
                total.queries += once.queries
                total.failed_queries += once.failed_queries
                total.refused += once.refused
                total.api_calls += once.api_calls
    return results


LABELS = {
    "sqlalchemy-nullpool": "SQLAlchemy, `NullPool` (a new login per query)",
    "sqlalchemy-queuepool": "SQLAlchemy, QueuePool (4 + 4 overflow, recycled every 0.3 s)",
    "django": "Django, `CONN_MAX_AGE = 0` (a new connection per request)",
    "psycopg-pool": "psycopg_pool (4 to 8 connections, `max_lifetime` 0.3 s)",
    "psycopg-connect": "`secretcache.integrations.psycopg.connect()` per query",
}


def summary(results: dict[str, Figures]) -> str:
    """Return the table: per setup, queries, failures and refused logins per rotation."""
    rows = [
        "| integration (8 threads) | queries | failed queries "
        "| failed logins per rotation: median / max (each) | GetSecretValue per run "
        f"| target <= {TARGET} met? |",
        "|---|---|---|---|---|---|",
    ]
    for name, f in results.items():
        median = statistics.median(f.refused)
        met = "yes" if max(f.refused) <= TARGET else "**no**"
        rows.append(
            f"| {LABELS[name]} | {f.queries:,} | {f.failed_queries} "
            f"| {median:g} / {max(f.refused)} ({', '.join(map(str, f.refused))}) "
            f"| {', '.join(map(str, f.api_calls))} | {met} |"
        )
    return "\n".join(rows)


METHOD = f"""### Method

- A throwaway PostgreSQL cluster (tests/fixtures_postgres.py; scram-sha-256 on
  127.0.0.1) and an in-process moto backend. One `SecretCache` per run, `ttl=300`, on a
  `FakeClock` that never moves: only a refused login makes the integrations look again.
- {WORKERS} threads query `SELECT current_user` in a loop through the integration; each
  rotation is createSecret (AWSPENDING), setSecret (`ALTER ROLE`), testSecret (a login
  with AWSPENDING), finishSecret (AWSCURRENT moves), with traffic after each step; the
  second rotation follows {APART:g} s later. {ROUNDS} runs per integration.
- Failed logins are the server log's `password authentication failed` lines during each
  rotation: what the server refused, not what the client reports.
- The floor is the logins already on their way when setSecret commits: each thread's
  login in flight then is refused once; every login that starts after the first refusal
  is recorded goes straight to the new version, or waits for the one login finding it.
  After finishSecret no login is refused. Pools log in rarely, so they see fewer.
"""


def render(results: dict[str, Figures], info: dict[str, str]) -> str:
    """Return the rotation section of RESULTS.md."""
    head = (
        "## Database logins during rotations (`bench/rotation_logins.py`)\n\n"
        f"- date: {info['date']}\n- machine: {info['nproc']} cores, {info['cpu']}\n"
        f"- Python: {info['python']}\n- command: `{info['command']}` (via `make bench`)\n\n"
    )
    return head + summary(results) + "\n\n" + METHOD


def main(argv: list[str] | None = None) -> int:
    """Measure, print and record."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one round; don't write")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = measure(quick=args.quick)
    text = render(results, h.machine())
    print(text)
    print(f"\n(rotation_logins.py took {time.perf_counter() - started:.0f} s)")
    if not args.quick:
        h.write_section("rotation", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
