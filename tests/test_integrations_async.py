"""The psycopg integration's asyncio side with an ``AsyncSecretCache`` (aiobotocore).

aiobotocore does not work under in-process moto, so the secret lives on a moto server on
127.0.0.1; the database is the real throwaway cluster.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

import pytest
from aiobotocore.session import get_session
from moto.server import ThreadedMotoServer

from secretcache.aio import AsyncSecretCache
from secretcache.integrations.psycopg import aconnect
from secretcache.testing import FakeClock, finish_rotation, start_rotation

if TYPE_CHECKING:
    from collections.abc import Iterator

    import boto3
    import psycopg
    from fixtures_postgres import PostgresCluster

pytestmark = pytest.mark.postgres

SECRET_ID = "prod/app/postgres"


@pytest.fixture
def endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_aconnect_with_an_async_cache_recovers_in_the_window(
    endpoint: str, boto_session: boto3.Session, postgres: PostgresCluster
) -> None:
    sm = boto_session.client("secretsmanager", endpoint_url=endpoint)
    sm.create_secret(Name=SECRET_ID, SecretString=json.dumps(postgres.secret("p1")))

    async def password(cache: AsyncSecretCache) -> str:
        conn: psycopg.AsyncConnection[Any]
        async with await aconnect(SECRET_ID, cache=cache) as conn:
            cursor = await conn.execute("SELECT current_user")
            assert await cursor.fetchone() == ("app",)
            return str(conn.info.password)

    async def main() -> list[str]:
        async with get_session().create_client("secretsmanager", endpoint_url=endpoint) as client:
            cache = AsyncSecretCache(client=client, ttl=300.0, jitter=0.0, clock=FakeClock())
            seen = [await password(cache)]
            new = start_rotation(sm, SECRET_ID, json.dumps(postgres.secret("p2")))
            postgres.set_password("p2")
            seen += [await password(cache), await password(cache)]
            finish_rotation(sm, SECRET_ID, new)
            seen.append(await password(cache))
            return seen

    refused = postgres.failed_logins()
    assert asyncio.run(main()) == ["p1", "p2", "p2", "p2"]
    assert postgres.failed_logins() - refused == 1
