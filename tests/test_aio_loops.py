"""One AsyncSecretCache, several event loops: at once, one after another, and aclose().

A module-level cache in a Lambda handler meets a new event loop at every invocation
(one ``asyncio.run`` each); a service may run loops in several threads. The cache keeps
a client per loop, closes each when its loop ends, and never hands a reader a
cancellation it did not ask for.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from test_aio import (
    Harness,
    aio_session_fixture,
    endpoint_fixture,
    harness,
    server_fixture,
    sm_fixture,
)

from secretcache.aio import AsyncSecretCache
from secretcache.testing import AsyncInMemorySource, FakeClock

if TYPE_CHECKING:
    from aiobotocore.session import AioSession
    from mypy_boto3_secretsmanager import SecretsManagerClient

__all__ = ["aio_session_fixture", "endpoint_fixture", "server_fixture", "sm_fixture"]

HERE = Path(__file__).resolve().parent
ROUNDS = 6
JOIN = 60.0  # seconds: a thread still running by then is hung


@pytest.fixture
def default_endpoint(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point clients the cache builds itself at the moto server."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    return endpoint


def test_one_cache_read_from_two_event_loops_at_once(
    sm: SecretsManagerClient, default_endpoint: str
) -> None:
    sm.create_secret(Name="db", SecretString="v1")
    for _ in range(ROUNDS):
        cache = AsyncSecretCache(ttl=0.0)  # every read loads: loads cross loops
        outcomes: list[object] = []
        start = threading.Barrier(2)

        def loop_thread(
            cache: AsyncSecretCache = cache,
            out: list[object] = outcomes,
            start: threading.Barrier = start,
        ) -> None:
            async def main() -> None:
                start.wait(JOIN)
                for _ in range(10):
                    reads = await asyncio.gather(
                        *(cache.get_secret_string("db") for _ in range(4)),
                        return_exceptions=True,
                    )
                    out.extend(reads)
                await cache.aclose()

            asyncio.run(main())

        threads = [threading.Thread(target=loop_thread) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(JOIN)
        assert not any(t.is_alive() for t in threads), "an event loop hung"
        assert outcomes == ["v1"] * 80


def test_a_load_in_another_loop_that_dies_is_taken_over(
    sm: SecretsManagerClient, aio_session: AioSession, endpoint: str
) -> None:
    # Loop A starts a load and is closed before it ends; loop B's reader, waiting on
    # it, must load for itself rather than wait forever.
    sm.create_secret(Name="db", SecretString="v1")
    clock = FakeClock()
    cache = AsyncSecretCache(source=_Stalling(), clock=clock, ttl=60, jitter=0)
    stalled = threading.Event()
    loop_a = asyncio.new_event_loop()

    def run_a() -> None:
        task = loop_a.create_task(cache.get_secret_string("db"))
        loop_a.call_later(0.2, stalled.set)
        loop_a.call_later(0.3, loop_a.stop)
        loop_a.run_forever()
        loop_a.close()  # the load task never ended
        assert not task.done()

    async def read_b() -> str:
        stalled.wait()
        return await cache.get_secret_string("db")

    a = threading.Thread(target=run_a)
    a.start()
    assert asyncio.run(asyncio.wait_for(read_b(), JOIN)) == "answered"
    a.join(JOIN)


class _Stalling:
    """An async source whose first read never returns; later reads answer at once."""

    def __init__(self) -> None:
        self.reads = 0

    async def get_secret_value(self, secret_id: str, **_: Any) -> Any:
        from secretcache.testing import InMemorySource

        self.reads += 1
        if self.reads == 1:
            await asyncio.Event().wait()
        return InMemorySource({secret_id: "answered"}).get_secret_value(secret_id)

    async def describe_secret(self, secret_id: str) -> Any:
        raise NotImplementedError

    async def batch_get_secret_value(self, **_: Any) -> Any:
        raise NotImplementedError


def test_aclose_never_cancels_a_reader_that_was_not_cancelled(
    sm: SecretsManagerClient, aio_session: AioSession, endpoint: str
) -> None:
    sm.create_secret(Name="db", SecretString="v1")

    async def main() -> list[object]:
        async with harness(aio_session, endpoint) as h:
            cache = h.cache()
            h.faults.gate = asyncio.Event()  # the load waits on the wire
            readers = [asyncio.create_task(cache.get_secret_string("db")) for _ in range(5)]
            while h.faults.started == 0:
                await asyncio.sleep(0.01)
            closing = asyncio.create_task(cache.aclose())
            await asyncio.sleep(0.05)
            h.faults.gate.set()
            await closing
            return list(await asyncio.gather(*readers, return_exceptions=True))

    outcomes = asyncio.run(main())
    assert outcomes == ["v1"] * 5  # read again after the close, not CancelledError


def test_a_reader_cancelled_itself_leaves_the_load_to_the_others(
    sm: SecretsManagerClient, aio_session: AioSession, endpoint: str
) -> None:
    sm.create_secret(Name="db", SecretString="v1")

    async def main(h: Harness) -> tuple[bool, str]:
        cache = h.cache()
        h.faults.gate = asyncio.Event()
        first = asyncio.create_task(cache.get_secret_string("db"))
        second = asyncio.create_task(cache.get_secret_string("db"))
        await asyncio.sleep(0.05)
        first.cancel()
        h.faults.gate.set()
        value = await second
        return first.cancelled(), value

    async def go() -> tuple[bool, str]:
        async with harness(aio_session, endpoint) as h:
            return await main(h)

    assert asyncio.run(go()) == (True, "v1")


# -- what a Lambda handler leaves behind: run in a fresh process, stderr inspected ----
_LAMBDA = """
import asyncio, gc, sys, warnings
warnings.simplefilter("always", ResourceWarning)
from secretcache.aio import AsyncSecretCache

cache = AsyncSecretCache()  # module level: one per execution environment

async def handler(n):
    value = await cache.get_secret_string("db")
    if n == 2:
        await cache.aclose()  # closed, then used again in the same invocation
        value = await cache.get_secret_string("db")
    return value

for n in range(5):  # five invocations, each its own event loop
    assert asyncio.run(handler(n)) == "v1"
gc.collect()
print("ok")
"""


def test_the_lambda_pattern_leaves_no_unclosed_client(
    sm: SecretsManagerClient, default_endpoint: str
) -> None:
    sm.create_secret(Name="db", SecretString="v1")
    done = subprocess.run(
        [sys.executable, "-X", "tracemalloc", "-c", _LAMBDA],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    assert "Unclosed" not in done.stderr, done.stderr
    assert "ResourceWarning" not in done.stderr, done.stderr


def test_aclose_closes_only_this_loops_client(
    sm: SecretsManagerClient, default_endpoint: str
) -> None:
    sm.create_secret(Name="db", SecretString=json.dumps({"pw": "v1"}))
    cache = AsyncSecretCache(ttl=0.0)
    both_read = threading.Barrier(2)
    closed = threading.Event()
    results: list[object] = []

    def closer() -> None:
        async def main() -> None:
            await cache.get_secret_field("db", "pw")
            both_read.wait(JOIN)
            await cache.aclose()
            closed.set()

        asyncio.run(main())

    def reader() -> None:
        async def main() -> None:
            await cache.get_secret_field("db", "pw")
            both_read.wait(JOIN)
            closed.wait(JOIN)
            results.append(await cache.get_secret_field("db", "pw"))  # its client still open
            await cache.aclose()

        asyncio.run(main())

    threads = [threading.Thread(target=closer), threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN)
    assert not any(t.is_alive() for t in threads)
    assert results == ["v1"]


def test_a_load_cancelled_before_it_starts_breaks_nothing() -> None:
    source = AsyncInMemorySource({"db": "v1"})
    cache = AsyncSecretCache(source=source, clock=FakeClock())

    async def close_while_reading() -> list[object]:
        return list(await asyncio.gather(cache.get_secret_string("db"), cache.aclose()))

    assert asyncio.run(close_while_reading()) == ["v1", None]

    async def cancel_everything_else() -> tuple[str, str]:
        reader = asyncio.create_task(cache.get_secret_string("db"))
        await asyncio.sleep(0)  # the reader planned the load and created its task
        for task in asyncio.all_tasks():
            if task not in (asyncio.current_task(), reader):
                task.cancel()  # a TaskGroup or a shutdown cancelling around it
        first = await asyncio.wait_for(reader, JOIN)
        return first, await asyncio.wait_for(cache.get_secret_string("db"), JOIN)

    cache.invalidate()
    assert asyncio.run(cancel_everything_else()) == ("v1", "v1")
    # Another event loop is not left waiting for a load that never ran.
    assert asyncio.run(asyncio.wait_for(cache.get_secret_string("db"), JOIN)) == "v1"
