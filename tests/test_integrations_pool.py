"""psycopg_pool through secretcache.integrations.psycopg_pool, on the real PostgreSQL.

A refused login must reach the caller of ``pool.connection()`` at once, as an
OperationalError caused by the driver's authentication error, not as a PoolTimeout
after the pool's whole timeout (the pools here wait 600 s: a test that got a timeout
instead would hang, not pass). The pool logs in with the secret and recovers from a
rotation like every integration.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from db_setups import SECRET_ID

from secretcache.integrations._login import is_auth_failure
from secretcache.integrations.psycopg_pool import AsyncConnectionPool, ConnectionPool
from secretcache.testing import start_rotation

if TYPE_CHECKING:
    from fixtures_postgres import PostgresCluster
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache import SecretCache

pytestmark = pytest.mark.postgres

LONG = 600.0  # the pool's timeout: never reached by a passing test


def _refused_by_the_server(error: BaseException) -> None:
    assert isinstance(error, psycopg.OperationalError)
    assert not isinstance(error, psycopg.errors.Error) or is_auth_failure(error)
    assert error.__cause__ is not None
    assert is_auth_failure(error.__cause__)


def test_a_refused_login_reaches_the_caller_not_a_pool_timeout(
    postgres: PostgresCluster, db_cache: SecretCache
) -> None:
    postgres.set_password("changed-by-hand")  # nobody updated the secret
    pool = ConnectionPool(SECRET_ID, cache=db_cache, min_size=1, timeout=LONG, open=True)
    try:
        for _ in range(3):  # the callers waiting, then the callers after the refusal
            with pytest.raises(psycopg.OperationalError) as refused, pool.connection():
                pass
            _refused_by_the_server(refused.value)
        postgres.set_password("p1")  # put right: the pool's next attempt logs in
        pool.wait(timeout=LONG)
        with pool.connection() as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("app",)
    finally:
        pool.close()


def test_the_pool_logs_in_with_the_secret_and_recovers_in_the_window(
    sm: SecretsManagerClient, postgres: PostgresCluster, db_cache: SecretCache
) -> None:
    with ConnectionPool(
        SECRET_ID, cache=db_cache, min_size=1, max_size=2, timeout=LONG, kwargs={"autocommit": True}
    ) as pool:
        with pool.connection() as conn:
            assert conn.info.password == "p1"
        start_rotation(sm, SECRET_ID, json.dumps(postgres.secret("p2")))
        postgres.set_password("p2")
        postgres.terminate_sessions()
        pool.check()  # the pool replaces its dead connection: p1 refused, then AWSPENDING
        with pool.connection() as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("app",)
            assert conn.info.password == "p2"


def test_the_async_pool_hands_the_refusal_over_too(
    postgres: PostgresCluster, db_cache: SecretCache
) -> None:
    postgres.set_password("changed-by-hand")

    async def main() -> BaseException:
        pool = AsyncConnectionPool(SECRET_ID, cache=db_cache, min_size=1, timeout=LONG, open=False)
        async with pool:
            with pytest.raises(psycopg.OperationalError) as refused:
                async with pool.connection():
                    pass
            return refused.value

    _refused_by_the_server(asyncio.run(main()))


def test_the_connection_class_is_the_secret_s(db_cache: SecretCache) -> None:
    kwargs: dict[str, Any] = {"connection_class": psycopg.Connection}
    with pytest.raises(TypeError, match="connection_class"):
        ConnectionPool(SECRET_ID, cache=db_cache, open=False, **kwargs)
