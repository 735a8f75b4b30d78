"""AsyncSecretCache through the Lambda extension (AsyncExtensionSource, asyncio streams).

The emulator runs in its own threads in front of in-process moto; coroutines run with
``asyncio.run`` inside plain tests.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import TYPE_CHECKING, Any

import pytest

from secretcache import (
    BotocoreSource,
    RotationEvent,
    SecretCredentialsError,
    SecretNotFoundError,
    SecretsManagerThrottledError,
    SecretsManagerUnavailableError,
)
from secretcache.aio import AsyncExtensionSource, AsyncSecretCache
from secretcache.testing import ExtensionEmulator

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache import Secret
    from secretcache.testing import FakeClock


def create(sm: SecretsManagerClient, name: str = "prod/db", password: str = "pw1") -> str:
    sm.create_secret(Name=name, SecretString=json.dumps({"password": password}))
    return name


def put(sm: SecretsManagerClient, name: str, password: str) -> str:
    return sm.put_secret_value(SecretId=name, SecretString=json.dumps({"password": password}))[
        "VersionId"
    ]


@pytest.fixture
def make(emulator: ExtensionEmulator, clock: FakeClock) -> Callable[..., AsyncSecretCache]:
    def build(**kwargs: Any) -> AsyncSecretCache:
        source = kwargs.pop("source", None) or AsyncExtensionSource(
            emulator.endpoint,
            token=kwargs.pop("token", emulator.token),
            ready_timeout=kwargs.pop("ready_timeout", 0.2),
            clock=clock,
        )
        return AsyncSecretCache(source=source, clock=clock, ttl=60.0, jitter=0.0, **kwargs)

    return build


def test_reads_errors_and_stale_as_on_the_sync_path(
    sm: SecretsManagerClient, emulator: ExtensionEmulator, make: Any, clock: FakeClock
) -> None:
    name = create(sm, "app/db+1=@x")

    async def main() -> None:
        cache = make()
        assert await cache.get_secret_field(name, "password") == "pw1"
        with pytest.raises(SecretNotFoundError):
            await cache.get_secret("missing")
        with pytest.raises(SecretCredentialsError):
            await make(token="wrong").get_secret(name)
        clock.advance(61)
        emulator.fail(400, "ThrottlingException", "slow down")
        assert await cache.get_secret_field(name, "password") == "pw1"  # stale
        clock.advance(2000)
        with pytest.raises(SecretsManagerThrottledError):
            await cache.get_secret(name)
        await cache.aclose()

    asyncio.run(main())


def test_tasks_missing_one_key_share_one_request_and_the_loop_keeps_running(
    sm: SecretsManagerClient, clock: FakeClock
) -> None:
    name = create(sm)
    release = threading.Event()

    class Slow:
        def get_secret_value(self, **kwargs: Any) -> Any:
            release.wait(10)
            return sm.get_secret_value(**kwargs)

    with ExtensionEmulator(client=Slow()) as emu:

        async def main() -> None:
            source = AsyncExtensionSource(emu.endpoint, token=emu.token)
            cache = AsyncSecretCache(source=source, clock=clock)
            reads = [asyncio.ensure_future(cache.get_secret_field(name, "password"))]
            reads += [asyncio.ensure_future(cache.get_secret_field(name, "password"))]
            ticks = 0
            while not emu.requests or ticks < 20:  # the loop runs while the read waits
                await asyncio.sleep(0.005)
                ticks += 1
            release.set()
            assert await asyncio.gather(*reads) == ["pw1", "pw1"]
            assert len(emu.requests) == 1

        asyncio.run(main())


def test_rotation_and_refresh_now(
    sm: SecretsManagerClient, emulator: ExtensionEmulator, make: Any, clock: FakeClock
) -> None:
    name = create(sm)
    events: list[RotationEvent] = []

    async def main() -> None:
        cache = make(on_rotation=events.append)
        old = (await cache.get_secret(name)).version_id
        new = put(sm, name, "pw2")
        assert await cache.refresh(name) is True
        assert emulator.requests[-1].query.get("refreshNow") == "true"
        assert await cache.get_secret_field(name, "password") == "pw2"
        assert [(e.old_version_id, e.new_version_id) for e in events] == [(old, new)]
        candidate = await cache.rotation_candidate(name, old)
        assert candidate is not None
        assert candidate.version_id == new

    asyncio.run(main())


class AsyncDirect:
    """An AsyncSecretSource over a sync one: Secrets Manager read directly, in tests."""

    def __init__(self, source: BotocoreSource) -> None:
        self.source = source

    async def get_secret_value(self, secret_id: str, **kwargs: Any) -> Secret:
        return self.source.get_secret_value(secret_id, **kwargs)


def test_without_refresh_now_refresh_reads_the_direct_source(
    sm: SecretsManagerClient, clock: FakeClock
) -> None:
    name = create(sm)
    with ExtensionEmulator(client=sm, refresh_now="ignore", clock=clock) as classic:

        async def main() -> None:
            source = AsyncExtensionSource(
                classic.endpoint,
                token=classic.token,
                refresh_now=False,
                direct=AsyncDirect(BotocoreSource(sm)),
                clock=clock,
            )
            cache = AsyncSecretCache(source=source, clock=clock, ttl=60.0, jitter=0.0)
            await cache.get_secret(name)
            put(sm, name, "pw2")
            assert await cache.refresh(name) is True
            clock.advance(61)  # the extension still answers pw1: not moved back
            assert await cache.get_secret_field(name, "password") == "pw2"
            assert len(classic.requests) == 2

        asyncio.run(main())


@pytest.mark.parametrize("mode", ["503", "init", "reset"])
def test_not_ready_is_retried_then_a_typed_outage(
    sm: SecretsManagerClient, emulator: ExtensionEmulator, make: Any, mode: str
) -> None:
    name = create(sm)

    async def main() -> None:
        emulator.not_ready(mode, count=2)  # type: ignore[arg-type]
        assert await make(ready_timeout=5.0).get_secret_field(name, "password") == "pw1"
        emulator.not_ready(mode)  # type: ignore[arg-type]
        cache = make()
        with pytest.raises(SecretsManagerUnavailableError) as caught:
            await cache.get_secret(name)
        assert caught.value.code == "ExtensionNotReady"
        emulator.ready()
        assert await cache.get_secret_field(name, "password") == "pw1"  # asked again

    asyncio.run(main())


def test_one_cache_serves_several_event_loops_and_prefetches_id_by_id(
    sm: SecretsManagerClient, emulator: ExtensionEmulator, make: Any
) -> None:
    names = [create(sm, f"app/{i}") for i in range(3)]
    cache = make()

    async def warm() -> None:
        got = await cache.prefetch(names)
        assert all(not isinstance(v, Exception) for v in got.values())

    asyncio.run(warm())
    assert cache.stats().api_calls == {"GetSecretValue": 3}

    async def read() -> str:
        return str(await cache.get_secret_field(names[0], "password"))

    assert asyncio.run(read()) == "pw1"
    assert len(emulator.requests) == 3  # the second loop read from memory
