"""OpenTelemetry spans of an AsyncSecretCache on a moto server through aiobotocore.

The load runs in its own task: its span must still be a child of the reader's span.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from aiobotocore.session import get_session
from opentelemetry.trace import SpanKind, StatusCode
from otel_kit import BOTOCORE, Telemetry, telemetry_fixture
from test_aio import endpoint_fixture, server_fixture
from test_aio_failover import Outage, arn_fixture, with_clients

from secretcache import AWSCURRENT, AWSPENDING, AWSPREVIOUS, SecretNotFoundError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from secretcache.aio import AsyncSecretCache


__all__ = ["arn_fixture", "endpoint_fixture", "server_fixture", "telemetry_fixture"]

EAST, WEST = "us-east-1", "us-west-2"


def run(
    endpoint: str,
    telemetry: Telemetry,
    scenario: Callable[[AsyncSecretCache], Awaitable[None]],
    *,
    east_down: bool = False,
) -> None:
    """Run ``scenario`` on an instrumented cache over us-east-1, failing over to us-west-2."""
    outage = Outage(EAST)  # connections to us-east-1 refused...
    outage.on = east_down  # ...if asked

    async def instrumented(cache: AsyncSecretCache) -> None:
        telemetry.instrument(cache)
        await scenario(cache)

    with_clients(endpoint, outage, instrumented, ttl=60.0, jitter=0.0)


def test_the_load_task_carries_the_readers_span(
    endpoint: str, arn: str, telemetry: Telemetry, canary: str
) -> None:
    parents: list[int] = []

    async def scenario(cache: AsyncSecretCache) -> None:
        with telemetry.tracer.start_as_current_span("handler") as handler:
            parents.append(handler.get_span_context().span_id)
            # Two readers at once: one load, one span, under the caller's span.
            values = await asyncio.gather(
                cache.get_secret_string("prod/db"), cache.get_secret_string("prod/db")
            )
            assert values == [f"v1-{canary}"] * 2

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
    async def scenario(cache: AsyncSecretCache) -> None:
        await cache.prefetch(["prod/db"])
        version = (await cache.get_secret("prod/db")).version_id  # a hit after the batch
        await cache.refresh("prod/db")
        assert await cache.rotation_candidate("prod/db", version) is None
        with pytest.raises(SecretNotFoundError):
            await cache.get_secret("prod/missing")

    run(endpoint, telemetry, scenario)
    seen = [
        (
            s.name,
            (s.attributes or {})["secretcache.reason"],
            (s.attributes or {}).get("secretcache.version_stage"),
        )
        for s in telemetry.spans()
    ]
    assert seen == [
        ("SecretsManager.BatchGetSecretValue", "prefetch", None),
        ("SecretsManager.GetSecretValue", "refresh", AWSCURRENT),
        ("SecretsManager.GetSecretValue", "rotation_look", AWSCURRENT),
        ("SecretsManager.GetSecretValue", "rotation_look", AWSPENDING),  # none
        ("SecretsManager.GetSecretValue", "rotation_look", AWSCURRENT),  # once more
        # the refused version is AWSCURRENT and nothing is newer: the look also asks
        # for AWSPREVIOUS (a hand rotation that moved the secret before the database)
        ("SecretsManager.GetSecretValue", "rotation_look", AWSPREVIOUS),
        ("SecretsManager.GetSecretValue", "load", AWSCURRENT),
    ]
    failed = telemetry.spans()[-1]
    assert failed.status.status_code is StatusCode.ERROR
    assert (failed.attributes or {})["error.type"] == "SecretNotFoundError"
    pending = telemetry.spans()[3]
    assert (pending.attributes or {})["error.type"] == "SecretNotFoundError"


def test_each_region_asked_is_its_own_span(
    endpoint: str, arn: str, telemetry: Telemetry, canary: str
) -> None:
    async def scenario(cache: AsyncSecretCache) -> None:
        with telemetry.tracer.start_as_current_span("handler"):
            assert await cache.get_secret_string("prod/db") == f"v1-{canary}"
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

        async def scenario(cache: AsyncSecretCache) -> None:
            await cache.get_secret("prod/db")
            await cache.prefetch(["prod/db"])
            async with get_session().create_client(
                "secretsmanager", region_name=EAST, endpoint_url=endpoint
            ) as own:
                await own.list_secrets()  # a call of the application's, not the cache's

        run(endpoint, telemetry, scenario)
    finally:
        instrumentor.uninstrument()
    assert [s.name for s in telemetry.spans()] == [
        "SecretsManager.GetSecretValue",
        "SecretsManager.BatchGetSecretValue",
    ]
    # Only the call made outside the cache is botocore's to trace.
    assert [s.name.split(".")[-1] for s in telemetry.spans(BOTOCORE)] == ["ListSecrets"]
