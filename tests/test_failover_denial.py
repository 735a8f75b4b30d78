"""A replica that refuses while the primary is down: chained into the error, and logged.

A replica policy generated without its region (AccessDenied in the fallback) is found
only during an outage: the outage error raised then carries the refusal as its cause,
and a warning names the region, so the broken policy is found the first time.
"""

from __future__ import annotations

import asyncio
import logging
import random

import pytest

from secretcache import (
    FailoverSource,
    SecretAccessDeniedError,
    SecretCache,
    SecretsManagerUnavailableError,
)
from secretcache.aio import AsyncFailoverSource, AsyncSecretCache
from secretcache.testing import AsyncInMemorySource, FakeClock, InMemorySource

EAST, WEST = "us-east-1", "us-west-2"


def down() -> SecretsManagerUnavailableError:
    return SecretsManagerUnavailableError("connection refused", code="EndpointConnectionError")


def denied() -> SecretAccessDeniedError:
    return SecretAccessDeniedError("not authorized in this region", code="AccessDeniedException")


def test_a_denying_replica_is_the_cause_of_the_outage_error_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    primary = InMemorySource({"db": "v1"}, region=EAST)
    replica = primary.replica(WEST)
    primary.fail(down())
    replica.fail(denied())
    source = FailoverSource(primary, [replica], clock=clock, rng=random.Random(1))
    cache = SecretCache(source=source, clock=clock)
    with (
        caplog.at_level(logging.WARNING, logger="secretcache"),
        pytest.raises(SecretsManagerUnavailableError) as raised,
    ):
        cache.get_secret_string("db")
    assert raised.value.code == "EndpointConnectionError"  # the primary's outage
    assert isinstance(raised.value.__cause__, SecretAccessDeniedError)  # the replica's refusal
    assert raised.value.retryable
    assert "refused" in raised.value.message
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(WEST in w and "AccessDeniedException" in w for w in warnings), warnings


def test_a_denying_replica_is_chained_for_the_async_cache_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    primary = AsyncInMemorySource({"db": "v1"}, region=EAST)
    replica = AsyncInMemorySource({"db": "v1"}, region=WEST)
    primary.fail(down())
    replica.fail(denied())
    source = AsyncFailoverSource(primary, [replica], clock=clock, rng=random.Random(1))
    cache = AsyncSecretCache(source=source, clock=clock)

    async def read() -> None:
        await cache.get_secret_string("db")

    with (
        caplog.at_level(logging.WARNING, logger="secretcache"),
        pytest.raises(SecretsManagerUnavailableError) as raised,
    ):
        asyncio.run(read())
    assert isinstance(raised.value.__cause__, SecretAccessDeniedError)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("fallback" in w and "AccessDeniedException" in w for w in warnings), warnings


def test_a_replica_that_is_merely_down_too_leaves_the_primarys_error_as_it_was() -> None:
    clock = FakeClock()
    primary = InMemorySource({"db": "v1"}, region=EAST)
    replica = primary.replica(WEST)
    outage = down()
    primary.fail(outage)
    replica.fail(down())
    source = FailoverSource(primary, [replica], clock=clock, rng=random.Random(1))
    cache = SecretCache(source=source, clock=clock)
    with pytest.raises(SecretsManagerUnavailableError) as raised:
        cache.get_secret_string("db")
    assert not isinstance(raised.value.__cause__, SecretAccessDeniedError)
    assert raised.value.code == "EndpointConnectionError"
