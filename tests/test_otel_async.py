"""OpenTelemetry spans of an AsyncSecretCache on a moto server through aiobotocore.

The load runs in its own task: its span must still be a child of the reader's span.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.request
from typing import TYPE_CHECKING, Any

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import EndpointConnectionError
from moto.server import ThreadedMotoServer
from opentelemetry.trace import SpanKind, StatusCode
from otel_kit import BOTOCORE, Telemetry

from secretcache import AWSCURRENT, SecretNotFoundError
from secretcache.aio import AsyncSecretCache

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

    import boto3
    from mypy_boto3_secretsmanager import SecretsManagerClient

EAST, WEST = "us-east-1", "us-west-2"
ONE_ATTEMPT = AioConfig(retries={"mode": "standard", "total_max_attempts": 1})


@pytest.fixture(scope="module", name="server")
def server_fixture() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    yield f"http://{host}:{port}"
    moto.stop()


@pytest.fixture(name="endpoint")
def endpoint_fixture(server: str) -> str:
    """The server's URL, its state reset for this test."""
    request = urllib.request.Request(f"{server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
    return server


@pytest.fixture(name="arn")
def arn_fixture(boto_session: boto3.Session, endpoint: str, canary: str) -> str:
    """prod/db in us-east-1 (replicated to us-west-2) holding the canary; its ARN."""
    admin: SecretsManagerClient = boto_session.client("secretsmanager", endpoint_url=endpoint)
    created = admin.create_secret(
        Name="prod/db", SecretString=f"pw-{canary}", AddReplicaRegions=[{"Region": WEST}]
    )
    return created["ARN"]


@pytest.fixture(name="telemetry")
def telemetry_fixture() -> Iterator[Telemetry]:
    kit = Telemetry()
    yield kit
    kit.tracer_provider.shutdown()
    kit.meter_provider.shutdown()


def run(
    endpoint: str,
    telemetry: Telemetry,
    scenario: Callable[[AsyncSecretCache, Any], Awaitable[None]],
    *,
    east_down: bool = False,
    **kwargs: Any,
) -> None:
    """Run ``scenario(cache, east)`` on an instrumented cache over us-east-1 (and us-west-2)."""

    async def main() -> None:
        async with clients(endpoint, east_down) as (east, west):
            if east_down:
                kwargs["fallback_clients"] = (west,)
            async with AsyncSecretCache(client=east, ttl=60.0, jitter=0.0, **kwargs) as cache:
                telemetry.instrument(cache)
                await scenario(cache, east)

    asyncio.run(main())


def clients(endpoint: str, east_down: bool) -> Any:
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def both() -> AsyncIterator[tuple[Any, Any]]:
        session = get_session()
        async with (
            session.create_client(
                "secretsmanager", region_name=EAST, endpoint_url=endpoint, config=ONE_ATTEMPT
            ) as east,
            session.create_client(
                "secretsmanager", region_name=WEST, endpoint_url=endpoint, config=ONE_ATTEMPT
            ) as west,
        ):
            if east_down:
                east.meta.events.register_first("before-send.secrets-manager", _refuse)
            yield east, west

    return both()


def _refuse(request: Any, **kwargs: Any) -> None:
    raise EndpointConnectionError(endpoint_url=request.url)


def test_the_load_task_carries_the_readers_span(
    endpoint: str, arn: str, telemetry: Telemetry, canary: str
) -> None:
    parents: list[int] = []

    async def scenario(cache: AsyncSecretCache, east: Any) -> None:
        with telemetry.tracer.start_as_current_span("handler") as handler:
            parents.append(handler.get_span_context().span_id)
            # Two readers at once: one load, one span, under the caller's span.
            values = await asyncio.gather(
                cache.get_secret_string("prod/db"), cache.get_secret_string("prod/db")
            )
            assert values == [f"pw-{canary}"] * 2

    run(endpoint, telemetry, scenario)
    (span,) = telemetry.spans()
    assert span.name == "SecretsManager.GetSecretValue"
    assert span.kind is SpanKind.CLIENT
    assert span.parent is not None
    assert span.parent.span_id == parents[0]
    attributes = span.attributes or {}
    assert attributes["cloud.region"] == EAST
    assert attributes["aws.request_id"]
    assert attributes["aws.secretsmanager.secret.arn"] == arn
    assert attributes["secretcache.transport"] == "sdk"
    assert attributes["secretcache.version_stage"] == AWSCURRENT
    assert not [t for t in telemetry.texts() if canary in t]


def test_async_reasons_and_errors(endpoint: str, arn: str, telemetry: Telemetry) -> None:
    async def scenario(cache: AsyncSecretCache, east: Any) -> None:
        await cache.prefetch(["prod/db"])
        version = (await cache.get_secret("prod/db")).version_id  # a hit after the batch
        await cache.refresh("prod/db")
        assert await cache.rotation_candidate("prod/db", version) is None
        with pytest.raises(SecretNotFoundError):
            await cache.get_secret("prod/missing")

    run(endpoint, telemetry, scenario)
    seen = [(s.name, (s.attributes or {})["secretcache.reason"]) for s in telemetry.spans()]
    assert seen == [
        ("SecretsManager.BatchGetSecretValue", "prefetch"),
        ("SecretsManager.GetSecretValue", "refresh"),
        ("SecretsManager.GetSecretValue", "rotation_look"),
        ("SecretsManager.GetSecretValue", "rotation_look"),  # AWSPENDING: none
        ("SecretsManager.GetSecretValue", "rotation_look"),  # AWSCURRENT once more
        ("SecretsManager.GetSecretValue", "load"),
    ]
    failed = telemetry.spans()[-1]
    assert failed.status.status_code is StatusCode.ERROR
    assert (failed.attributes or {})["error.type"] == "SecretNotFoundError"
    pending = telemetry.spans()[3]
    assert (pending.attributes or {})["error.type"] == "SecretNotFoundError"


def test_each_region_asked_is_its_own_span(
    endpoint: str, arn: str, telemetry: Telemetry, canary: str
) -> None:
    async def scenario(cache: AsyncSecretCache, east: Any) -> None:
        with telemetry.tracer.start_as_current_span("handler"):
            assert await cache.get_secret_string("prod/db") == f"pw-{canary}"
        assert cache.stats().failovers == 1

    run(endpoint, telemetry, scenario, east_down=True)
    east, west = telemetry.spans()
    assert east.parent == west.parent
    assert east.parent is not None
    assert (east.attributes or {})["cloud.region"] == EAST
    assert (east.attributes or {})["error.type"] == "SecretsManagerUnavailableError"
    assert east.status.status_code is StatusCode.ERROR
    assert (west.attributes or {})["cloud.region"] == WEST
    assert west.status.status_code is StatusCode.UNSET
    west_arn = (west.attributes or {})["aws.secretsmanager.secret.arn"]
    assert west_arn == arn.replace(EAST, WEST)


def test_with_the_aiobotocore_instrumentor_an_async_call_is_traced_once(
    endpoint: str, arn: str, telemetry: Telemetry
) -> None:
    from opentelemetry.instrumentation.botocore import AiobotocoreInstrumentor

    instrumentor = AiobotocoreInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider)
    try:

        async def scenario(cache: AsyncSecretCache, east: Any) -> None:
            await cache.get_secret("prod/db")
            await cache.prefetch(["prod/db"])
            await east.list_secrets()  # the cache's own client, outside the cache

        run(endpoint, telemetry, scenario)
    finally:
        instrumentor.uninstrument()
    assert [s.name for s in telemetry.spans()] == [
        "SecretsManager.GetSecretValue",
        "SecretsManager.BatchGetSecretValue",
    ]
    # Only the call made outside the cache is botocore's to trace.
    assert [s.name.split(".")[-1] for s in telemetry.spans(BOTOCORE)] == ["ListSecrets"]
