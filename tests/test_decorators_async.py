"""inject_secret on `async def` functions: with a SecretCache on moto, and an async cache."""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
from typing import TYPE_CHECKING, Any

import pytest

from secretcache import AWSCURRENT, BotocoreSource, Secret, SecretNotFoundError, inject_secret
from secretcache.aio import AsyncSecretCache
from secretcache.testing import counting_calls, rotate_secret, start_rotation

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache import SecretCache, SecretMetadata
    from secretcache.testing import FakeClock

DB = "prod/db"


class LoginFailed(Exception):
    """What an async database driver raises on a wrong password."""


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


@pytest.fixture
def db_secret(sm: SecretsManagerClient) -> str:
    sm.create_secret(Name=DB, SecretString=json.dumps({"username": "app", "password": "pw-1"}))
    return DB


@pytest.fixture
def cache(make_cache: Callable[..., SecretCache]) -> SecretCache:
    return make_cache()


def test_the_wrapper_stays_a_coroutine_function(cache: SecretCache) -> None:
    async def connect(host: str, *, password: str = "") -> str:
        """Connect asynchronously."""
        return host

    wrapped = inject_secret(DB, into="password", cache=cache)(connect)
    assert inspect.iscoroutinefunction(wrapped)
    assert inspect.signature(wrapped) == inspect.signature(connect)
    assert wrapped.__wrapped__ is connect  # type: ignore[attr-defined]
    assert wrapped.__doc__ == "Connect asynchronously."


def test_injects_and_loads_off_the_event_loop(
    sm: SecretsManagerClient, db_secret: str, cache: SecretCache
) -> None:
    api_threads: list[int] = []

    def record(**kwargs: Any) -> None:
        api_threads.append(threading.get_ident())

    sm.meta.events.register("before-call.secrets-manager", record)

    @inject_secret(DB, fields={"user": "username", "pw": "password"}, cache=cache)
    async def login(*, user: str = "", pw: str = "") -> tuple[str, str, int]:
        return user, pw, threading.get_ident()

    async def main() -> list[tuple[str, str, int]]:
        return [await login() for _ in range(20)]

    results = run(main())
    assert {r[:2] for r in results} == {("app", "pw-1")}
    loop_thread = results[0][2]
    assert len(api_threads) == 1  # one load, then hits
    assert api_threads[0] != loop_thread  # the blocking call ran in a worker thread
    stats = cache.stats()
    assert (stats.misses, stats.hits) == (1, 19)


def test_explicit_arguments_win(sm: SecretsManagerClient, cache: SecretCache) -> None:
    @inject_secret("missing", into="password", cache=cache)
    async def connect(host: str, password: str = "") -> str:
        return f"{host}:{password}"

    with counting_calls(sm) as calls:
        assert run(connect("h", "given")) == "h:given"
        assert run(connect("h", password="kw")) == "h:kw"
    assert sum(calls.values()) == 0
    with pytest.raises(SecretNotFoundError):
        run(connect("h"))


def test_async_methods(db_secret: str, cache: SecretCache) -> None:
    class Client:
        @inject_secret(DB, into="pw", field="password", cache=cache)
        async def fetch(self, pw: str = "") -> str:
            return pw

    assert run(Client().fetch()) == "pw-1"


def test_rotation_is_picked_up_after_the_ttl(
    sm: SecretsManagerClient, db_secret: str, cache: SecretCache, clock: FakeClock
) -> None:
    @inject_secret(DB, into="pw", field="password", cache=cache)
    async def read(pw: str = "") -> str:
        return pw

    assert run(read()) == "pw-1"
    rotate_secret(sm, DB, json.dumps({"password": "pw-2"}))
    assert run(read()) == "pw-1"
    clock.advance(61)
    assert run(read()) == "pw-2"


def test_refresh_on_retries_in_the_rotation_window(
    sm: SecretsManagerClient, db_secret: str, cache: SecretCache, clock: FakeClock
) -> None:
    accepted = {"password": "pw-1"}
    attempts: list[str] = []

    @inject_secret(DB, into="pw", field="password", cache=cache, refresh_on=(LoginFailed,))
    async def connect(pw: str = "") -> str:
        attempts.append(pw)
        if pw != accepted["password"]:
            raise LoginFailed("authentication failed")
        return "ok"

    assert run(connect()) == "ok"
    start_rotation(sm, DB, json.dumps({"password": "pw-2"}))
    accepted["password"] = "pw-2"
    clock.advance(2)
    assert run(connect()) == "ok"
    assert attempts == ["pw-1", "pw-1", "pw-2"]


def test_refresh_on_without_candidate_reraises_once(db_secret: str, cache: SecretCache) -> None:
    attempts: list[str] = []
    original = LoginFailed("authentication failed")

    @inject_secret(DB, into="pw", field="password", cache=cache, refresh_on=(LoginFailed,))
    async def connect(pw: str = "") -> str:
        attempts.append(pw)
        raise original

    with pytest.raises(LoginFailed) as caught:
        run(connect())
    assert caught.value is original
    assert attempts == ["pw-1"]


# -- an async cache (AsyncSecretCache's shape: the same methods, as coroutines) ---------


class FakeAsyncCache:
    """Two versions of one secret, served by coroutines; records every await."""

    def __init__(self) -> None:
        self.current = _secret("v1" * 16, "pw-1")
        self.pending: Secret | None = None
        self.awaited: list[str] = []

    async def get_secret(self, secret_id: str, version_stage: str = AWSCURRENT) -> Secret:
        self.awaited.append(f"get_secret {secret_id} {version_stage}")
        await asyncio.sleep(0)
        return self.current

    async def rotation_candidate(self, secret_id: str, failed_version_id: str) -> Secret | None:
        self.awaited.append(f"rotation_candidate {secret_id} {failed_version_id}")
        await asyncio.sleep(0)
        if self.pending is not None and self.pending.version_id != failed_version_id:
            return self.pending
        return None


def _secret(version_id: str, password: str) -> Secret:
    return Secret(
        secret_id=DB,
        name=DB,
        arn=f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{DB}-AbCdEf",
        version_id=version_id,
        version_stages=(AWSCURRENT,),
        created_date=None,
        secret_string=json.dumps({"password": password}),
    )


def test_an_async_cache_is_awaited() -> None:
    fake = FakeAsyncCache()

    @inject_secret(DB, into="pw", field="password", cache=fake, refresh_on=(LoginFailed,))
    async def connect(pw: str = "") -> str:
        if pw != "pw-2":
            raise LoginFailed("authentication failed")
        return pw

    with pytest.raises(LoginFailed):
        run(connect())
    assert fake.awaited == [f"get_secret {DB} AWSCURRENT", f"rotation_candidate {DB} {'v1' * 16}"]
    fake.pending = _secret("v2" * 16, "pw-2")
    assert run(connect()) == "pw-2"
    assert run(connect(pw="pw-2")) == "pw-2"  # explicit: nothing awaited
    assert len(fake.awaited) == 4


def test_an_async_cache_cannot_serve_a_sync_function() -> None:
    def connect(pw: str = "") -> str:
        return pw

    with pytest.raises(TypeError, match="async def"):
        inject_secret(DB, into="pw", cache=FakeAsyncCache())(connect)


class MotoAsyncSource:
    """An async source over the moto client (aiobotocore needs a moto server; this does not)."""

    def __init__(self, client: SecretsManagerClient) -> None:
        self._sync = BotocoreSource(client)

    async def get_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        return self._sync.get_secret_value(
            secret_id, version_stage=version_stage, version_id=version_id
        )

    async def describe_secret(self, secret_id: str) -> SecretMetadata:
        return self._sync.describe_secret(secret_id)

    async def batch_get_secret_value(self, **kwargs: Any) -> Any:
        return self._sync.batch_get_secret_value(**kwargs)


def test_with_the_real_async_secret_cache(
    sm: SecretsManagerClient, db_secret: str, clock: FakeClock
) -> None:
    attempts: list[str] = []
    accepted = {"password": "pw-1"}

    async def main() -> list[str]:
        cache = AsyncSecretCache(source=MotoAsyncSource(sm), clock=clock, ttl=60, jitter=0)

        @inject_secret(DB, into="pw", field="password", cache=cache, refresh_on=(LoginFailed,))
        async def connect(pw: str = "") -> str:
            attempts.append(pw)
            if pw != accepted["password"]:
                raise LoginFailed("authentication failed")
            return pw

        first = await connect()
        rotate_secret(sm, DB, json.dumps({"password": "pw-2"}))
        accepted["password"] = "pw-2"
        clock.advance(2)
        second = await connect()
        third = await connect()
        await cache.aclose()
        return [first, second, third]

    with counting_calls(sm) as calls:
        assert run(main()) == ["pw-1", "pw-2", "pw-2"]
    assert attempts == ["pw-1", "pw-1", "pw-2", "pw-2"]
    assert calls["GetSecretValue"] == 2  # the first load, then rotation_candidate's recheck
