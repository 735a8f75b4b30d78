"""AsyncSecretCache on aiobotocore, against a moto server on 127.0.0.1.

aiobotocore does not run under in-process ``mock_aws()``, so a module-scoped
``ThreadedMotoServer`` serves every test and is reset before each. Coroutines run with
``asyncio.run`` inside plain tests (no pytest-asyncio needed).
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import pytest
from aiobotocore.awsrequest import AioAWSResponse
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore.awsrequest import HTTPHeaders
from moto.server import ThreadedMotoServer

from secretcache import (
    AWSCURRENT,
    AWSPENDING,
    AWSPREVIOUS,
    RotationEvent,
    SecretDeletedError,
    SecretFieldError,
    SecretFormatError,
    SecretNotFoundError,
    SecretsManagerThrottledError,
)
from secretcache.aio import AsyncSecretCache
from secretcache.decorators import inject_secret
from secretcache.testing import FakeClock, rotate_secret, start_rotation

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_secretsmanager import SecretsManagerClient


# -- a moto server, clients, and fault injection for aiobotocore ---------------------
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


@pytest.fixture(name="sm")
def sm_fixture(boto_session: boto3.Session, endpoint: str) -> SecretsManagerClient:
    """A sync boto3 client on the same server, to seed and rotate secrets."""
    return boto_session.client("secretsmanager", endpoint_url=endpoint)


@pytest.fixture(scope="module", name="aio_session")
def aio_session_fixture() -> AioSession:
    return get_session()


class Faults:
    """Answer chosen operations with an error code, from aiobotocore's before-send."""

    def __init__(self) -> None:
        self.codes: dict[str, str] = {}
        self.gate: asyncio.Event | None = None  # set: requests wait until it is set
        self.started = 0

    async def before_send(self, request: Any, **kwargs: Any) -> Any:
        self.started += 1
        if self.gate is not None:
            await self.gate.wait()
        operation = request.headers["X-Amz-Target"].decode().split(".")[-1]
        code = self.codes.get(operation)
        if code is None:
            return None
        body = json.dumps({"__type": code, "message": f"injected {code}"}).encode()
        headers = HTTPHeaders()
        headers["content-type"] = "application/x-amz-json-1.1"
        return AioAWSResponse(request.url, 400, headers, _Body(body))


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    async def read(self) -> bytes:
        return self._body


class Harness:
    """One test's aiobotocore client: counted logical calls, injectable faults."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: Counter[str] = Counter()
        self.faults = Faults()
        client.meta.events.register("before-call.secrets-manager", self._count)
        client.meta.events.register_first("before-send.secrets-manager", self.faults.before_send)

    def _count(self, model: Any, **kwargs: Any) -> None:
        self.calls[model.name] += 1

    def cache(self, **kwargs: Any) -> AsyncSecretCache:
        kwargs.setdefault("ttl", 60.0)
        kwargs.setdefault("jitter", 0.0)
        return AsyncSecretCache(client=self.client, **kwargs)


@asynccontextmanager
async def harness(session: AioSession, endpoint: str) -> AsyncIterator[Harness]:
    # One attempt per call: aiobotocore's retries would really sleep.
    config = AioConfig(retries={"total_max_attempts": 1})
    async with session.create_client(
        "secretsmanager", endpoint_url=endpoint, config=config
    ) as client:
        yield Harness(client)


Scenario = Callable[[Harness], Awaitable[None]]


@pytest.fixture(name="run")
def run_fixture(aio_session: AioSession, endpoint: str) -> Callable[[Scenario], None]:
    """Run an async scenario with a fresh harness in its own event loop."""

    def go(scenario: Scenario) -> None:
        async def main() -> None:
            async with harness(aio_session, endpoint) as h:
                await scenario(h)

        asyncio.run(main())

    return go


def put(sm: SecretsManagerClient, name: str, value: Any) -> None:
    text = value if isinstance(value, str) else json.dumps(value)
    sm.create_secret(Name=name, SecretString=text)


# -- reads ---------------------------------------------------------------------------
def test_a_fresh_hit_costs_no_call(
    sm: SecretsManagerClient, run: Callable[[Scenario], None]
) -> None:
    put(sm, "db", "s3cret")

    async def scenario(h: Harness) -> None:
        cache = h.cache()
        assert await cache.get_secret_string("db") == "s3cret"
        for _ in range(10):
            assert await cache.get_secret_string("db") == "s3cret"
        assert h.calls == {"GetSecretValue": 1}
        stats = cache.stats()
        assert (stats.hits, stats.misses, stats.api_calls) == (10, 1, {"GetSecretValue": 1})
        assert await cache.get_secret_binary("db") == b"s3cret"
        assert h.calls == {"GetSecretValue": 1}

    run(scenario)


def test_stages_are_cached_apart(sm: SecretsManagerClient, run: Callable[[Scenario], None]) -> None:
    put(sm, "db", "one")
    rotate_secret(sm, "db", "two")

    async def scenario(h: Harness) -> None:
        cache = h.cache()
        assert await cache.get_secret_string("db", AWSPREVIOUS) == "one"
        assert await cache.get_secret_string("db") == "two"
        assert await cache.get_secret_string("db", AWSPREVIOUS) == "one"
        assert h.calls == {"GetSecretValue": 2}

    run(scenario)


def test_json_results_are_copies(sm: SecretsManagerClient, run: Callable[[Scenario], None]) -> None:
    put(sm, "db", {"user": "app", "hosts": ["a", "b"]})

    async def scenario(h: Harness) -> None:
        cache = h.cache()
        first = await cache.get_secret_json("db")
        first["user"] = "mallory"
        first["hosts"].append("evil")
        assert await cache.get_secret_json("db") == {"user": "app", "hosts": ["a", "b"]}
        hosts = await cache.get_secret_field("db", "hosts")
        hosts.clear()
        assert await cache.get_secret_field("db", "hosts") == ["a", "b"]
        with pytest.raises(SecretFieldError):
            await cache.get_secret_field("db", "password")
        assert h.calls == {"GetSecretValue": 1}

    run(scenario)


def test_binary_secrets(sm: SecretsManagerClient, run: Callable[[Scenario], None]) -> None:
    sm.create_secret(Name="key", SecretBinary=b"\x00\x01")

    async def scenario(h: Harness) -> None:
        cache = h.cache()
        assert await cache.get_secret_binary("key") == b"\x00\x01"
        with pytest.raises(SecretFormatError):
            await cache.get_secret_string("key")

    run(scenario)


# -- rotation ------------------------------------------------------------------------
def test_rotation_is_picked_up_and_reported_once(
    sm: SecretsManagerClient, run: Callable[[Scenario], None]
) -> None:
    put(sm, "db", "one")
    clock = FakeClock()
    events: list[RotationEvent] = []

    async def scenario(h: Harness) -> None:
        cache = h.cache(clock=clock, on_rotation=events.append, max_stale=0.0)
        old = await cache.get_secret("db")
        new_id = rotate_secret(sm, "db", "two")
        clock.advance(61)
        values = await asyncio.gather(*(cache.get_secret_string("db") for _ in range(20)))
        assert set(values) == {"two"}
        assert events == [RotationEvent("db", AWSCURRENT, old.version_id, new_id)]
        assert cache.stats().rotations == 1
        assert h.calls == {"GetSecretValue": 2}
        assert await cache.refresh("db") is False
        rotate_secret(sm, "db", "three")
        assert await cache.refresh("db") is True
        assert len(events) == 2

    run(scenario)


def test_rotation_candidate_in_the_rotation_window(
    sm: SecretsManagerClient, run: Callable[[Scenario], None]
) -> None:
    put(sm, "db", "old")
    clock = FakeClock()

    async def scenario(h: Harness) -> None:
        cache = h.cache(clock=clock)
        failed = await cache.get_secret("db")
        assert await cache.rotation_candidate("db", failed.version_id) is None
        pending_id = start_rotation(sm, "db", "new")
        clock.advance(3)  # a look that made 3 calls answers repeats for 3 s
        candidate = await cache.rotation_candidate("db", failed.version_id)
        assert candidate is not None
        assert candidate.version_id == pending_id
        assert AWSPENDING in candidate.version_stages
        assert await cache.get_secret_string("db") == "old"  # AWSCURRENT has not moved

    run(scenario)


def test_describe_mode_revalidates_without_reading_the_value(
    sm: SecretsManagerClient, run: Callable[[Scenario], None]
) -> None:
    put(sm, "db", "one")
    clock = FakeClock()

    async def scenario(h: Harness) -> None:
        cache = h.cache(clock=clock, revalidate="describe")
        await cache.get_secret("db")
        clock.advance(61)
        assert await cache.get_secret_string("db") == "one"
        assert h.calls == {"GetSecretValue": 1, "DescribeSecret": 1}

    run(scenario)


# -- single flight and cancellation --------------------------------------------------
def test_100_gathered_gets_of_a_cold_key_make_one_call(
    sm: SecretsManagerClient, run: Callable[[Scenario], None]
) -> None:
    put(sm, "hot", "v")

    async def scenario(h: Harness) -> None:
        cache = h.cache()
        values = await asyncio.gather(*(cache.get_secret_string("hot") for _ in range(100)))
        assert values == ["v"] * 100
        assert h.calls == {"GetSecretValue": 1}

    run(scenario)


def test_cancelling_one_waiter_does_not_cancel_the_shared_load(
    sm: SecretsManagerClient, run: Callable[[Scenario], None]
) -> None:
    put(sm, "db", "v")

    async def scenario(h: Harness) -> None:
        cache = h.cache()
        gate = h.faults.gate = asyncio.Event()
        first = asyncio.create_task(cache.get_secret_string("db"))
        second = asyncio.create_task(cache.get_secret_string("db"))
        while h.faults.started == 0:
            await asyncio.sleep(0)  # until the request is on its way
        first.cancel()
        await asyncio.sleep(0)
        gate.set()
        assert await second == "v"
        assert first.cancelled()
        assert await cache.get_secret_string("db") == "v"
        assert h.calls == {"GetSecretValue": 1}

    run(scenario)


# -- failures ------------------------------------------------------------------------
def test_typed_errors(sm: SecretsManagerClient, run: Callable[[Scenario], None]) -> None:
    put(sm, "doomed", "v")
    sm.delete_secret(SecretId="doomed", RecoveryWindowInDays=7)
    put(sm, "busy", "v")

    async def scenario(h: Harness) -> None:
        cache = h.cache()
        with pytest.raises(SecretNotFoundError) as missing:
            await cache.get_secret("nope")
        assert missing.value.secret_id == "nope"
        with pytest.raises(SecretDeletedError):
            await cache.get_secret("doomed")
        h.faults.codes["GetSecretValue"] = "ThrottlingException"
        with pytest.raises(SecretsManagerThrottledError) as throttled:
            await cache.get_secret("busy")
        assert throttled.value.retryable
        calls = sum(h.calls.values())
        with pytest.raises(SecretNotFoundError):
            await cache.get_secret("nope")  # remembered: inside the backoff step
        assert sum(h.calls.values()) == calls

    run(scenario)


def test_stale_value_served_while_throttled_with_backoff(
    sm: SecretsManagerClient, run: Callable[[Scenario], None]
) -> None:
    put(sm, "db", "v1")
    clock = FakeClock()

    async def scenario(h: Harness) -> None:
        cache = h.cache(clock=clock, max_stale=900.0)
        await cache.get_secret("db")
        rotate_secret(sm, "db", "v2")
        clock.advance(61)
        h.faults.codes["GetSecretValue"] = "ThrottlingException"
        for _ in range(50):
            assert await cache.get_secret_string("db") == "v1"
        assert h.calls == {"GetSecretValue": 2}  # one attempt, then the backoff step holds
        assert cache.stats().stale_served == 50
        del h.faults.codes["GetSecretValue"]
        clock.advance(2)  # past the first step (1 s, plus jitter)
        assert await cache.get_secret_string("db") == "v2"
        assert h.calls == {"GetSecretValue": 3}

    run(scenario)


def test_access_lost_serves_nothing_stale(
    sm: SecretsManagerClient, run: Callable[[Scenario], None]
) -> None:
    put(sm, "db", "v1")
    clock = FakeClock()

    async def scenario(h: Harness) -> None:
        cache = h.cache(clock=clock)
        await cache.get_secret("db")
        clock.advance(61)
        sm.delete_secret(SecretId="db", RecoveryWindowInDays=7)
        with pytest.raises(SecretDeletedError):
            await cache.get_secret("db")
        with pytest.raises(SecretDeletedError):
            await cache.get_secret("db")

    run(scenario)


# -- inject_secret -------------------------------------------------------------------
class LoginError(Exception):
    pass


def test_inject_secret_reads_through_an_async_cache(
    sm: SecretsManagerClient, run: Callable[[Scenario], None]
) -> None:
    put(sm, "db", {"password": "pw1"})
    clock = FakeClock()

    async def scenario(h: Harness) -> None:
        cache = h.cache(clock=clock)
        live = {"password": "pw1"}

        @inject_secret("db", into="password", field="password", cache=cache, refresh_on=LoginError)
        async def connect(password: str = "") -> str:
            if password != live["password"]:
                raise LoginError("login failed")
            return password

        assert [await connect() for _ in range(3)] == ["pw1"] * 3
        assert await connect(password="pw1") == "pw1"
        assert h.calls == {"GetSecretValue": 1}
        rotate_secret(sm, "db", json.dumps({"password": "pw2"}))
        live["password"] = "pw2"
        clock.advance(2)  # rotation_candidate re-asks at most once a second
        assert await connect() == "pw2"  # failed with pw1, retried with the rotated one
        assert h.calls == {"GetSecretValue": 2}

    run(scenario)


# -- lifecycle -----------------------------------------------------------------------
def test_default_client_is_built_lazily_and_closed(
    sm: SecretsManagerClient, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(sm, "db", "v")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint)
    session = get_session()
    agents: list[str] = []
    session.register(
        "before-send.secrets-manager",
        lambda request, **_: agents.append(request.headers["User-Agent"].decode()),
    )

    async def main() -> None:
        async with AsyncSecretCache(session=session) as cache:
            assert agents == []  # nothing built or sent before the first read
            assert await cache.get_secret_string("db") == "v"
        assert cache.stats().size == 0

    asyncio.run(main())
    assert len(agents) == 1
    assert "secretcache/" in agents[0]


def test_a_client_passed_in_stays_open(
    sm: SecretsManagerClient, run: Callable[[Scenario], None]
) -> None:
    put(sm, "db", "v")

    async def scenario(h: Harness) -> None:
        async with h.cache() as cache:
            await cache.get_secret("db")
        response = await h.client.get_secret_value(SecretId="db")  # still usable
        assert response["Name"] == "db"

    run(scenario)


def test_secret_values_stay_out_of_reprs_and_errors(
    sm: SecretsManagerClient, run: Callable[[Scenario], None], canary: str
) -> None:
    put(sm, "db", {"password": canary})

    async def scenario(h: Harness) -> None:
        cache = h.cache()
        secret = await cache.get_secret("db")
        with pytest.raises(SecretFieldError) as missing:
            await cache.get_secret_field("db", "user")
        for text in (repr(cache), repr(secret), str(secret), str(missing.value)):
            assert canary not in text

    run(scenario)


def test_importing_secretcache_does_not_import_aiobotocore() -> None:
    code = (
        "import sys, secretcache, secretcache.aio; "
        "assert 'aiobotocore' not in sys.modules and 'aiohttp' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_misuse_raises_before_any_call(run: Callable[[Scenario], None]) -> None:
    async def scenario(h: Harness) -> None:
        cache = h.cache()
        with pytest.raises(ValueError):
            await cache.get_secret("")
        with pytest.raises(TypeError):
            await cache.get_secret_field("db", 3)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            AsyncSecretCache(client=h.client, session=get_session())
        assert sum(h.calls.values()) == 0

    run(scenario)
