"""AsyncSecretCache's regional failover on aiobotocore, against a moto server on 127.0.0.1.

The secret is replicated from us-east-1 to us-west-2; the primary's client fails at the
HTTP level (a ``before-send`` handler on it alone), the replica's answers.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest
from aiobotocore.awsrequest import AioAWSResponse
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore.awsrequest import HTTPHeaders
from botocore.exceptions import EndpointConnectionError

# The moto-server harness lives with the AsyncSecretCache tests (one server per module).
from test_aio import _Body, endpoint_fixture, server_fixture

from secretcache import SecretAccessDeniedError, SecretCacheError
from secretcache.aio import AsyncSecretCache

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache.testing import FakeClock

EAST, WEST = "us-east-1", "us-west-2"
ONE_ATTEMPT = AioConfig(retries={"mode": "standard", "total_max_attempts": 1})
_SIGNED_REGION = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/")

__all__ = ["endpoint_fixture", "server_fixture"]


@pytest.fixture(name="arn")
def arn_fixture(boto_session: boto3.Session, endpoint: str, canary: str) -> str:
    """prod/db in us-east-1, replicated to us-west-2; returns its primary ARN."""
    admin: SecretsManagerClient = boto_session.client("secretsmanager", endpoint_url=endpoint)
    created = admin.create_secret(
        Name="prod/db", SecretString=f"v1-{canary}", AddReplicaRegions=[{"Region": WEST}]
    )
    return created["ARN"]


class Outage:
    """A before-send handler: requests signed for ``region`` fail; every one is counted."""

    def __init__(self, region: str = EAST, code: str | None = None) -> None:
        self.region = region
        self.code = code  # None: connection refused
        self.attempts: Counter[str] = Counter()
        self.on = True

    def __call__(self, request: Any, **kwargs: Any) -> Any:
        found = _SIGNED_REGION.search(request.headers["Authorization"].decode())
        region = found.group(1) if found else "?"
        self.attempts[region] += 1
        if not self.on or region != self.region:
            return None
        if self.code is None:
            raise EndpointConnectionError(endpoint_url=request.url)
        body = json.dumps({"__type": self.code, "message": "injected"}).encode()
        headers = HTTPHeaders()
        headers["content-type"] = "application/x-amz-json-1.1"
        return AioAWSResponse(request.url, 400, headers, _Body(body))


Scenario = Callable[[AsyncSecretCache], Awaitable[None]]


def with_clients(endpoint: str, outage: Outage, scenario: Scenario, **kwargs: Any) -> None:
    """Run ``scenario`` on a cache over ready us-east-1 and us-west-2 clients."""

    async def main() -> None:
        session = get_session()
        async with (
            session.create_client(
                "secretsmanager", region_name=EAST, endpoint_url=endpoint, config=ONE_ATTEMPT
            ) as east,
            session.create_client(
                "secretsmanager", region_name=WEST, endpoint_url=endpoint, config=ONE_ATTEMPT
            ) as west,
        ):
            for client in (east, west):
                client.meta.events.register_first("before-send.secrets-manager", outage)
            async with AsyncSecretCache(client=east, fallback_clients=(west,), **kwargs) as cache:
                await scenario(cache)

    asyncio.run(main())


def test_a_cold_read_fails_over_to_the_replica(
    endpoint: str, arn: str, canary: str, clock: FakeClock
) -> None:
    outage = Outage()

    async def scenario(cache: AsyncSecretCache) -> None:
        by_name, by_arn = await asyncio.gather(cache.get_secret("prod/db"), cache.get_secret(arn))
        assert by_name.secret_string == by_arn.secret_string == f"v1-{canary}"
        assert (by_name.secret_id, by_arn.secret_id) == ("prod/db", arn)
        assert by_name.arn == by_arn.arn == arn.replace(EAST, WEST)
        stats = cache.stats()
        assert stats.failovers == 2
        assert stats.calls_by_region[WEST] == 2

    with_clients(endpoint, outage, scenario, clock=clock)
    assert outage.attempts[WEST] == 2


def test_a_warm_key_stays_fresh_through_an_hour_long_outage_and_recovers(
    endpoint: str, arn: str, canary: str, clock: FakeClock
) -> None:
    outage = Outage()
    outage.on = False

    async def scenario(cache: AsyncSecretCache) -> None:
        assert (await cache.get_secret("prod/db")).arn == arn
        outage.on = True
        for _ in range(3600):
            assert await cache.get_secret_string("prod/db") == f"v1-{canary}"
            clock.advance(1.0)
        stats = cache.stats()
        assert stats.stale_served == stats.errors == 0
        # A load every TTL (jitter 0), each from the replica after one probe of the
        # primary: 11 in the hour, plus the warm-up read.
        assert stats.failovers == 11
        assert outage.attempts == {EAST: 12, WEST: 11}
        outage.on = False
        clock.advance(300.0)
        assert (await cache.get_secret("prod/db")).arn == arn  # the primary again

    with_clients(endpoint, outage, scenario, clock=clock, ttl=300.0, jitter=0.0)


def test_describe_mode_revalidates_through_the_replica(
    endpoint: str, arn: str, canary: str, clock: FakeClock
) -> None:
    outage = Outage()
    outage.on = False

    async def scenario(cache: AsyncSecretCache) -> None:
        first = await cache.get_secret("prod/db")
        outage.on = True
        clock.advance(300.0)
        again = await cache.get_secret("prod/db")
        assert again is first  # DescribeSecret in us-west-2 confirmed the version
        assert cache.stats().api_calls == {"GetSecretValue": 1, "DescribeSecret": 1}
        assert cache.stats().failovers == 1

    with_clients(
        endpoint, outage, scenario, clock=clock, ttl=300.0, jitter=0.0, revalidate="describe"
    )
    assert outage.attempts == {EAST: 2, WEST: 1}


def test_a_denial_in_the_primary_is_never_failed_over(endpoint: str, arn: str) -> None:
    outage = Outage(code="AccessDeniedException")

    async def scenario(cache: AsyncSecretCache) -> None:
        with pytest.raises(SecretAccessDeniedError):
            await cache.get_secret("prod/db")
        found = await cache.prefetch(["prod/db"])
        assert isinstance(found["prod/db"], SecretCacheError)
        assert cache.stats().failovers == 0

    with_clients(endpoint, outage, scenario)
    assert outage.attempts[WEST] == 0


def test_prefetch_fails_over_as_one_batch(endpoint: str, arn: str, canary: str) -> None:
    outage = Outage()

    async def scenario(cache: AsyncSecretCache) -> None:
        found = await cache.prefetch(["prod/db"])
        secret = found["prod/db"]
        assert not isinstance(secret, SecretCacheError)
        assert secret.arn == arn.replace(EAST, WEST)
        assert await cache.get_secret_string("prod/db") == f"v1-{canary}"
        assert cache.stats().api_calls == {"BatchGetSecretValue": 1}

    with_clients(endpoint, outage, scenario)


def test_fallback_regions_build_a_client_per_region_and_loop(
    endpoint: str, arn: str, canary: str, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint)
    outage = Outage()
    session = AioSession()  # its own: the handler below stays in this test
    session.set_config_variable("region", EAST)
    session.register("before-send.secrets-manager", outage)
    cache = AsyncSecretCache(session=session, fallback_regions=(WEST,), clock=clock)

    async def read() -> str:
        try:
            return (await cache.get_secret("prod/db")).arn
        finally:
            await cache.aclose()  # every region's client built in this loop

    for _ in range(2):  # two event loops, one after another
        cache.invalidate()
        assert asyncio.run(read()) == arn.replace(EAST, WEST)
        clock.advance(5.0)  # the primary's backoff step runs out: probed again
    # The built primary sends each request once: its fallback is its retry.
    assert outage.attempts == {EAST: 2, WEST: 2}
    assert cache.stats().calls_by_region == {EAST: 2, WEST: 2}
    assert canary not in repr(cache.stats())
