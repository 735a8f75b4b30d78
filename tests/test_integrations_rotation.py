"""Two real password rotations under traffic, through every database integration.

Eight threads query PostgreSQL through SQLAlchemy (NullPool: a new login per query; a
QueuePool recycling its connections), Django (a new connection per request), a
psycopg_pool.ConnectionPool, and bare ``connect()`` calls, while role ``app``'s password
is rotated twice, a few seconds apart, as a Secrets Manager rotation function does it.
The cache has a 300 s TTL on a FakeClock that never moves: nothing expires, so only a
refused login can make the integrations look for the new password. No query may fail;
the server's own log counts the logins it refused in each rotation.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from db_setups import SECRET_ID, SETUPS
from pg_traffic import WORKERS, Traffic, rotate

if TYPE_CHECKING:
    from fixtures_postgres import PostgresCluster
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache import SecretCache

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

APART = 2.0  # real seconds of traffic between the two rotations


@pytest.mark.parametrize("setup", sorted(SETUPS))
def test_two_rotations_under_traffic_fail_no_query(
    setup: str, sm: SecretsManagerClient, postgres: PostgresCluster, db_cache: SecretCache
) -> None:
    cache = db_cache
    with SETUPS[setup](cache, SECRET_ID) as query, Traffic(query) as traffic:
        traffic.wait_for(10)
        assert cache.stats().api_calls["GetSecretValue"] == 1
        first = rotate(sm, postgres, traffic, SECRET_ID, "p2")
        time.sleep(APART)
        calls = [cache.stats().api_calls["GetSecretValue"]]
        second = rotate(sm, postgres, traffic, SECRET_ID, "p3")
        calls.append(cache.stats().api_calls["GetSecretValue"])
        # Long enough for the pools to replace every connection opened before setSecret.
        with traffic.step(traffic.phase + 1):
            time.sleep(APART)
        traffic.wait_for(10)
    refused = [first.failed_logins, second.failed_logins]
    print(
        f"\n{setup}: {traffic.queries} queries, {len(traffic.failures)} failed,"
        f" failed logins per rotation {refused}"
    )

    assert traffic.failures == []
    # Each rotation's window was crossed with logins that recovered to the new password.
    assert traffic.used(first.window)["p2"] > 0
    assert traffic.used(second.window)["p3"] > 0
    assert set(traffic.used(traffic.phase)) == {"p3"}
    # Refused logins are those already on their way when setSecret ran: at most one per
    # thread (each then knows the new version), never one per query.
    assert all(count <= WORKERS for count in refused)
    # Per rotation, one look (AWSCURRENT, AWSPENDING) however many logins failed; in the
    # second, AWSPENDING's move also makes the cached AWSCURRENT due for one re-read.
    assert calls[0] <= 1 + 2
    assert calls[1] - calls[0] <= 3
