"""AsyncSecretCache.prefetch against the moto server: batches, typed errors, fallback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from aiobotocore.session import get_session

# The moto-server harness lives with the AsyncSecretCache tests (one server per module).
from test_aio import (
    Harness,
    Scenario,
    aio_session_fixture,
    endpoint_fixture,
    run_fixture,
    server_fixture,
    sm_fixture,
)

from secretcache import (
    Secret,
    SecretNotFoundError,
    SecretsManagerThrottledError,
)
from secretcache.aio import AsyncSecretCache
from secretcache.testing import FakeClock

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

Run = Callable[[Scenario], None]


__all__ = ["aio_session_fixture", "endpoint_fixture", "run_fixture", "server_fixture", "sm_fixture"]


def seed(sm: SecretsManagerClient, names: list[str]) -> None:
    for name in names:
        sm.create_secret(Name=name, SecretString=json.dumps({"name": name}))


def test_45_ids_take_3_batch_calls_then_gets_are_free(sm: SecretsManagerClient, run: Run) -> None:
    names = [f"app/s{i:02d}" for i in range(45)]
    seed(sm, names)

    async def scenario(h: Harness) -> None:
        cache = h.cache()
        found = await cache.prefetch(names)
        assert list(found) == names
        assert all(isinstance(s, Secret) for s in found.values())
        assert h.calls == {"BatchGetSecretValue": 3}
        values = await asyncio.gather(*(cache.get_secret_json(n) for n in names))
        assert [v["name"] for v in values] == names
        assert h.calls == {"BatchGetSecretValue": 3}

    run(scenario)


def test_a_missing_id_maps_to_its_typed_error(sm: SecretsManagerClient, run: Run) -> None:
    seed(sm, ["here"])

    async def scenario(h: Harness) -> None:
        cache = h.cache()
        found = await cache.prefetch(["here", "gone"])
        assert isinstance(found["here"], Secret)
        assert isinstance(found["gone"], SecretNotFoundError)
        with pytest.raises(SecretNotFoundError):
            await cache.get_secret("gone")  # remembered for its backoff step
        assert h.calls == {"BatchGetSecretValue": 1}

    run(scenario)


def test_a_denied_batch_falls_back_to_concurrent_gets(sm: SecretsManagerClient, run: Run) -> None:
    names = [f"s{i:02d}" for i in range(25)]
    seed(sm, names)

    async def scenario(h: Harness) -> None:
        cache = h.cache()
        h.faults.codes["BatchGetSecretValue"] = "AccessDeniedException"
        found = await cache.prefetch([*names, "missing"])
        assert h.calls == {"BatchGetSecretValue": 1, "GetSecretValue": 26}
        assert [s.secret_id for s in found.values() if isinstance(s, Secret)] == names
        assert isinstance(found["missing"], SecretNotFoundError)
        await cache.get_secret("s24")
        assert h.calls["GetSecretValue"] == 26

    run(scenario)


def test_a_throttled_batch_stops_the_warm_up(sm: SecretsManagerClient, run: Run) -> None:
    names = [f"s{i:02d}" for i in range(30)]
    seed(sm, names)

    async def scenario(h: Harness) -> None:
        cache = h.cache()
        h.faults.codes["BatchGetSecretValue"] = "ThrottlingException"
        found = await cache.prefetch(names)
        assert h.calls == {"BatchGetSecretValue": 1}
        assert all(isinstance(e, SecretsManagerThrottledError) for e in found.values())
        assert len(found) == 30

    run(scenario)


def test_filters_page_through_next_token(sm: SecretsManagerClient, run: Run) -> None:
    wanted = [f"team-a/s{i:02d}" for i in range(45)]
    seed(sm, [*wanted, "team-b/other"])

    async def scenario(h: Harness) -> None:
        cache = h.cache()
        found = await cache.prefetch(filters=[{"Key": "name", "Values": ["team-a/"]}])
        assert sorted(found) == wanted
        assert h.calls == {"BatchGetSecretValue": 3}
        await asyncio.gather(*(cache.get_secret(n) for n in wanted))
        assert h.calls == {"BatchGetSecretValue": 3}

    run(scenario)


def test_one_cache_serves_many_event_loops_like_lambda_invocations(
    sm: SecretsManagerClient, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(sm, ["a", "b"])
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint)
    clock = FakeClock()
    session = get_session()
    attempts: list[str] = []
    session.register("before-send.secrets-manager", lambda request, **_: attempts.append(""))
    # The default client, built lazily from the session.
    cache = AsyncSecretCache(session=session, clock=clock, ttl=60.0, jitter=0.0)

    # Module load: warm up in a loop of its own; each invocation then runs in a new one.
    found = asyncio.run(cache.prefetch(["a", "b"]))
    assert all(isinstance(s, Secret) for s in found.values())
    for _ in range(3):
        clock.advance(61)  # expired: every invocation really talks to the server
        assert asyncio.run(cache.get_secret_json("b")) == {"name": "b"}
    asyncio.run(cache.aclose())
    assert cache.stats().api_calls == {"BatchGetSecretValue": 1, "GetSecretValue": 3}
    assert len(attempts) == 4  # no retries: no connection left over from a closed loop


def test_no_value_in_debug_logs(
    sm: SecretsManagerClient,
    run: Run,
    canary: str,
    debug_logs: Any,
) -> None:
    sm.create_secret(Name="db", SecretString=json.dumps({"password": canary}))
    sm.create_secret(Name="bin", SecretBinary=canary.encode())

    async def scenario(h: Harness) -> None:
        cache = h.cache()
        await cache.prefetch(["db", "bin"])
        cache.invalidate()
        await cache.get_secret("db")
        await cache.get_secret_binary("bin")

    run(scenario)
    assert any("Response body" in t for t in debug_logs.texts), "nothing captured: proves nothing"
    ours = [t for t in debug_logs.texts if "CreateSecret" not in t]  # not the seeding
    assert not [t[:200] for t in ours if canary in t]
