"""A cache takes only a source of its own kind; the test kit's async in-memory source."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest

from secretcache import (
    AWSCURRENT,
    AWSPENDING,
    SecretCache,
    SecretDeletedError,
    SecretsManagerThrottledError,
)
from secretcache.aio import AsyncSecretCache
from secretcache.testing import AsyncInMemorySource, FakeClock, InMemorySource

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable


# -- the wrong kind of source is refused when the cache is built ------------------------


def test_the_sync_cache_refuses_an_async_source() -> None:
    source = AsyncInMemorySource({"db": "v"})
    with pytest.raises(TypeError, match=r"coroutine function.*AsyncSecretCache"):
        SecretCache(source=source)  # type: ignore[arg-type]
    assert source.calls == {}


def test_the_async_cache_refuses_a_sync_source() -> None:
    source = InMemorySource({"db": "v"})
    with pytest.raises(TypeError, match=r"not a coroutine function.*AsyncInMemorySource"):
        AsyncSecretCache(source=source)  # type: ignore[arg-type]
    assert source.calls == {}


class _SyncDescribeOnly:
    """An async reader whose describe_secret was left sync: half a source is refused too."""

    async def get_secret_value(self, secret_id: str, **kwargs: Any) -> Any:
        raise AssertionError("never called")

    def describe_secret(self, secret_id: str) -> Any:
        raise AssertionError("never called")


@pytest.mark.parametrize(
    ("build", "source", "says"),
    [
        (SecretCache, object(), "SecretSource with get_secret_value"),
        (AsyncSecretCache, object(), "SecretSource with get_secret_value"),
        (AsyncSecretCache, _SyncDescribeOnly(), r"_SyncDescribeOnly\.describe_secret"),
    ],
    ids=["sync-object", "async-object", "async-half-sync"],
)
def test_what_is_not_a_source_of_the_right_kind_is_refused(
    build: Callable[..., object], source: object, says: str
) -> None:
    with pytest.raises(TypeError, match=says):
        build(source=source)


# -- AsyncInMemorySource ----------------------------------------------------------------


def _run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


def test_async_in_memory_source_reads_rotates_and_counts() -> None:
    source = AsyncInMemorySource({"db": json.dumps({"password": "p1"})})
    clock = FakeClock()

    async def scenario() -> None:
        async with AsyncSecretCache(source=source, clock=clock, ttl=60, jitter=0) as cache:
            assert await cache.get_secret_field("db", "password") == "p1"
            assert await cache.get_secret_field("db", "password") == "p1"
            assert source.calls == {"GetSecretValue": 1}
            source.rotate("db", json.dumps({"password": "p2"}))
            clock.advance(61)
            assert await cache.get_secret_field("db", "password") == "p2"
            pending = source.put("db", json.dumps({"password": "p3"}), stages=[AWSPENDING])
            assert (await cache.get_secret("db", AWSPENDING)).version_id == pending
            source.move_stage("db", AWSCURRENT, pending)
            assert await cache.refresh("db")
        assert source.calls == {"GetSecretValue": 4}

    _run(scenario)


def test_async_in_memory_source_awaits_its_latency_and_loads_once() -> None:
    source = AsyncInMemorySource({"db": "v"}, latency=30)

    async def scenario() -> None:
        async with AsyncSecretCache(source=source) as cache:
            readers = [asyncio.ensure_future(cache.get_secret_string("db")) for _ in range(20)]
            for _ in range(10):
                await asyncio.sleep(0)  # the loop runs on: nothing blocks on the latency
            assert source.calls == {"GetSecretValue": 1}
            assert not any(reader.done() for reader in readers)
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)

    _run(scenario)


def test_async_in_memory_source_fails_heals_and_deletes() -> None:
    source = AsyncInMemorySource({"db": "v"})
    clock = FakeClock()

    async def scenario() -> None:
        cache = AsyncSecretCache(source=source, clock=clock, ttl=60, jitter=0, max_stale=0)
        source.fail(SecretsManagerThrottledError("slow down", code="ThrottlingException"))
        with pytest.raises(SecretsManagerThrottledError):
            await cache.get_secret_string("db")
        source.heal()
        clock.advance(2)  # past the failure's backoff step
        assert await cache.get_secret_string("db") == "v"
        source.delete("db")
        clock.advance(61)
        with pytest.raises(SecretDeletedError):
            await cache.get_secret_string("db")
        await cache.aclose()

    _run(scenario)


def test_async_in_memory_source_describes_and_batches() -> None:
    source = AsyncInMemorySource({"a": "1", "b": "2"})
    clock = FakeClock()

    async def scenario() -> None:
        cache = AsyncSecretCache(source=source, clock=clock, ttl=60, jitter=0)
        found = await cache.prefetch(["a", "b"])
        assert sorted(found) == ["a", "b"]
        assert await cache.get_secret_string("a") == "1"
        assert source.calls == {"BatchGetSecretValue": 1}
        describing = AsyncSecretCache(source=source, clock=clock, revalidate="describe", ttl=60)
        assert await describing.get_secret_string("b") == "2"
        clock.advance(61)
        assert await describing.get_secret_string("b") == "2"  # same version: no new get
        assert source.calls == {"BatchGetSecretValue": 1, "GetSecretValue": 1, "DescribeSecret": 1}
        source.set_next_rotation("b", 30.0)
        assert (await source.describe_secret("b")).rotates_in == 30.0
        await cache.aclose()
        await describing.aclose()

    _run(scenario)
