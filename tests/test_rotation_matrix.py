"""Every rotation order through every database setup: no failed query, <= 2 refusals.

For each order (tests/rotation_orders.py: AWS single user, AWS alternating users, by
hand secret first, by hand database first) and each setup (tests/db_setups.py:
``connect()`` per query, SQLAlchemy NullPool and QueuePool, Django with CONN_MAX_AGE 0
and > 0, psycopg_pool), eight threads query a real PostgreSQL while the password is
rotated three times. No query may fail; each rotation may cost at most two refused
logins in this process, counted by the server (its log, ``log_connections = on``) and
by secretcache (its INFO line per refusal); the alternating-users order costs none.

The cache runs on the real monotonic clock with a 300 s TTL: nothing expires during a
test by itself (each order says when its cache reads AWSCURRENT), while
rotation_candidate's looks last their real second.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import pytest
from db_setups import SECRET_ID, SETUPS
from pg_traffic import Traffic
from rotation_orders import ORDERS, Refusals, Rotator

if TYPE_CHECKING:
    from collections.abc import Callable

    from fixtures_postgres import PostgresCluster
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache import SecretCache

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROTATIONS = 3
TARGET = 2  # refused logins per rotation per process


@pytest.mark.parametrize("setup", sorted(SETUPS))
@pytest.mark.parametrize("order", ORDERS)
def test_three_rotations_fail_no_query(
    order: str,
    setup: str,
    sm: SecretsManagerClient,
    postgres: PostgresCluster,
    make_cache: Callable[..., SecretCache],
) -> None:
    sm.create_secret(Name=SECRET_ID, SecretString=json.dumps(postgres.secret("p1")))
    cache = make_cache(ttl=300.0, clock=time.monotonic)
    with (
        Refusals() as refusals,
        SETUPS[setup](cache, SECRET_ID) as query,
        Traffic(query) as traffic,
    ):
        traffic.wait_for(3)
        rotator = Rotator(sm, postgres, traffic, cache, SECRET_ID, refusals)
        rotations = [rotator.rotate(order) for _ in range(ROTATIONS)]
    print(
        f"\n{order} / {setup}: {traffic.queries} queries, {len(traffic.failures)} failed;"
        f" refused per rotation (server, in-process): "
        f"{[(r.refused_server, r.refused_here) for r in rotations]}"
    )

    assert traffic.failures == []
    for rotation in rotations:
        assert rotation.refused_server <= TARGET
        assert rotation.refused_here <= TARGET
        if order == "aws-alternating-users":
            assert rotation.refused_server == rotation.refused_here == 0
    # After the last rotation new logins use its password (pooled sessions opened
    # before may still run on the previous one: the server keeps them).
    assert traffic.used(rotator.phase)[f"r{ROTATIONS}-{order}"] >= 3
    assert json.loads(cache.get_secret_string(SECRET_ID))["password"] == f"r{ROTATIONS}-{order}"
