"""Misuse that looks like an outage is named as misuse, at construction or the first read.

- An aiobotocore client belongs to the event loop it was used in: read from another
  loop, every request fails ("Event loop is closed", "attached to a different loop"),
  which a cache would take for an outage and answer with stale values. It is raised
  as the misuse it is, cached value or not, and nothing stale is served for it.
- AsyncSecretCache builds its clients with aiobotocore (the ``aio`` extra): without
  it, the constructor says how to install it instead of the first await failing.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any

import pytest
from aiobotocore.config import AioConfig
from test_aio import aio_session_fixture, endpoint_fixture, server_fixture, sm_fixture

from secretcache.aio import AsyncSecretCache
from secretcache.testing import AsyncInMemorySource, FakeClock

if TYPE_CHECKING:
    from aiobotocore.session import AioSession
    from mypy_boto3_secretsmanager import SecretsManagerClient

__all__ = ["aio_session_fixture", "endpoint_fixture", "server_fixture", "sm_fixture"]

TTL = 60.0


def test_a_client_of_another_event_loop_is_misuse_not_an_outage(
    sm: SecretsManagerClient, endpoint: str, aio_session: AioSession
) -> None:
    sm.create_secret(Name="db", SecretString="v1")
    clock = FakeClock()
    home = asyncio.new_event_loop()  # the loop the caller made the client in
    made: dict[str, Any] = {}

    async def make_and_read() -> None:
        config = AioConfig(retries={"total_max_attempts": 1})
        made["context"] = aio_session.create_client(
            "secretsmanager", endpoint_url=endpoint, config=config
        )
        client = await made["context"].__aenter__()
        made["cache"] = cache = AsyncSecretCache(client, clock=clock, ttl=TTL, jitter=0.0)
        assert await cache.get_secret_string("db") == "v1"

    async def read_elsewhere() -> None:
        cache: AsyncSecretCache = made["cache"]
        for _ in range(3):  # every read says so: nothing stale is served instead
            with pytest.raises(RuntimeError, match="another event loop"):
                await cache.get_secret_string("db")

    try:
        home.run_until_complete(make_and_read())
        clock.advance(TTL + 1.0)  # expired: a read loads (a stale value is cached)
        asyncio.run(read_elsewhere())
        assert made["cache"].stats().stale_served == 0
        # At home the client still works.
        assert home.run_until_complete(made["cache"].get_secret_string("db")) == "v1"
    finally:
        home.run_until_complete(made["context"].__aexit__(None, None, None))
        home.close()


def test_without_aiobotocore_the_constructor_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "aiobotocore", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"pip install 'secretcache\[aio\]'"):
        AsyncSecretCache()
    # A source of one's own needs no aiobotocore.
    cache = AsyncSecretCache(source=AsyncInMemorySource({"db": "v1"}))
    assert asyncio.run(cache.get_secret_string("db")) == "v1"
