"""No secret value in secretcache's frames on a traceback: AsyncSecretCache and async wrappers.

On aiobotocore against test_aio's moto server: the async getters' format, field, typed
AWS and malformed-answer errors, prefetch and rotation_candidate, and ``@inject_secret``
on ``async def`` functions (with an AsyncSecretCache and with a SecretCache), the user's
own exception included, with and without ``refresh_on``.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest
from aiobotocore.awsrequest import AioAWSResponse
from botocore.awsrequest import HTTPHeaders
from framecheck import assert_no_secret_in_frames, raised_async
from test_aio import (  # noqa: F401  (fixtures shared with the AsyncSecretCache tests)
    Harness,
    _Body,
    aio_session_fixture,
    endpoint_fixture,
    harness,
    server_fixture,
    sm_fixture,
)

from secretcache import (
    SecretCacheError,
    SecretFieldError,
    SecretFormatError,
    SecretsManagerUnavailableError,
    inject_secret,
)
from secretcache.testing import FakeClock, rotate_secret, start_rotation

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aiobotocore.session import AioSession
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache import SecretCache

TTL = 60.0


class LoginFailed(Exception):
    """What an async database driver raises on a wrong password."""


def _creds(sm: SecretsManagerClient, canary: str, name: str = "db") -> str:
    sm.create_secret(Name=name, SecretString=json.dumps({"user": "app", "password": canary}))
    return name


async def _caught(make: Callable[[], Awaitable[object]]) -> BaseException:
    try:
        await make()
    except Exception as exc:
        return exc
    raise AssertionError("returned instead of raising")


def _run(
    session: AioSession,
    endpoint: str,
    scenario: Callable[[Harness], Awaitable[list[BaseException]]],
) -> list[BaseException]:
    """Run ``scenario`` with a fresh aiobotocore client on the moto server."""

    async def main() -> list[BaseException]:
        async with harness(session, endpoint) as h:
            return await scenario(h)

    return asyncio.run(main())


# -- the async getters ------------------------------------------------------------------


def test_async_format_errors_hold_no_value(
    aio_session: AioSession, endpoint: str, sm: SecretsManagerClient, canary: str
) -> None:
    plain = "plain"
    sm.create_secret(Name=plain, SecretString=f"not json {canary}")
    sm.create_secret(Name="blob", SecretBinary=canary.encode())
    name = _creds(sm, canary)

    async def scenario(h: Harness) -> list[BaseException]:
        cache = h.cache(clock=FakeClock())
        errors = [
            await _caught(lambda: cache.get_secret_json(plain)),
            await _caught(lambda: cache.get_secret_field(plain, "password")),
            await _caught(lambda: cache.get_secret_field(name, "host")),
            await _caught(lambda: cache.get_secret_string("blob")),
        ]
        assert (await cache.get_secret_json(name))["password"] == canary
        rotate_secret(sm, name, '{"password": ' + canary)  # the parsed old version is kept
        await cache.refresh(name)
        errors.append(await _caught(lambda: cache.get_secret_json(name)))
        return errors

    errors = _run(aio_session, endpoint, scenario)
    assert all(isinstance(e, SecretFormatError) for e in errors)
    assert isinstance(errors[2], SecretFieldError)
    for error in errors:
        assert_no_secret_in_frames(error, canary)


@pytest.mark.parametrize("code", ["ThrottlingException", "AccessDeniedException"])
def test_async_typed_errors_hold_no_value(
    aio_session: AioSession, endpoint: str, sm: SecretsManagerClient, canary: str, code: str
) -> None:
    name = _creds(sm, canary)
    clock = FakeClock()

    async def scenario(h: Harness) -> list[BaseException]:
        cache = h.cache(clock=clock, max_stale=0.0)
        assert await cache.get_secret_field(name, "password") == canary
        clock.advance(TTL + 1)
        h.faults.codes["GetSecretValue"] = code
        return [
            await _caught(lambda: cache.get_secret_field(name, "password")),
            await _caught(lambda: cache.get_secret_json(name)),  # remembered: re-raised
            await _caught(lambda: cache.rotation_candidate(name, "0" * 32)),
            await _caught(lambda: cache.refresh(name)),
        ]

    for error in _run(aio_session, endpoint, scenario):
        assert isinstance(error, SecretCacheError)
        assert_no_secret_in_frames(error, canary)


def _answering(body: bytes) -> Callable[..., Awaitable[Any]]:
    """Return a before-send handler that answers 200 with ``body``."""

    async def answer(request: Any, **kwargs: Any) -> Any:
        headers = HTTPHeaders()
        headers["content-type"] = "application/x-amz-json-1.1"
        return AioAWSResponse(request.url, 200, headers, _Body(body))

    return answer


def test_async_malformed_answer_and_prefetch_hold_no_value(
    aio_session: AioSession, endpoint: str, sm: SecretsManagerClient, canary: str
) -> None:
    no_version_id = _answering(json.dumps({"Name": "db", "SecretString": canary}).encode())

    clock = FakeClock()

    async def scenario(h: Harness) -> list[BaseException]:
        cache = h.cache(clock=clock)
        events = h.client.meta.events
        events.register_first("before-send.secrets-manager.GetSecretValue", no_version_id)
        malformed = await _caught(lambda: cache.get_secret_string("db"))
        events.unregister("before-send.secrets-manager.GetSecretValue", no_version_id)
        _creds(sm, canary)
        clock.advance(120)  # past the malformed answer's backoff step
        assert await cache.get_secret_field("db", "password") == canary
        h.faults.codes["BatchGetSecretValue"] = "ThrottlingException"
        batch = await _caught(lambda: cache.prefetch(filters=[{"Key": "name", "Values": ["db"]}]))
        return [malformed, batch]

    malformed, batch = _run(aio_session, endpoint, scenario)
    assert isinstance(malformed, SecretsManagerUnavailableError)
    assert malformed.code == "MalformedResponse"
    assert isinstance(batch, SecretCacheError)
    for error in (malformed, batch):
        assert_no_secret_in_frames(error, canary)


@pytest.mark.parametrize(
    "body",
    [
        {"Name": "db", "VersionId": "2" * 32, "CreatedDate": "yesterday", "SecretString": "x"},
        [{"Name": "db", "VersionId": "2" * 32, "SecretString": "x"}],
    ],
    ids=["unparsable-created-date", "a-list-not-an-object"],
)
def test_async_unreadable_answer_is_a_typed_outage(
    aio_session: AioSession, endpoint: str, canary: str, body: Any
) -> None:
    # botocore's parser itself fails on these (ValueError, AttributeError).
    unreadable = _answering(json.dumps(body).replace('"x"', json.dumps(canary)).encode())

    async def scenario(h: Harness) -> list[BaseException]:
        cache = h.cache(clock=FakeClock())
        h.client.meta.events.register_first(
            "before-send.secrets-manager.GetSecretValue", unreadable
        )
        first = await _caught(lambda: cache.get_secret_string("db"))
        again = await _caught(lambda: cache.get_secret_string("db"))  # remembered: no call
        return [first, again]

    for error in _run(aio_session, endpoint, scenario):
        assert isinstance(error, SecretsManagerUnavailableError), repr(error)
        assert error.code == "MalformedResponse"
        assert canary not in str(error)
        assert_no_secret_in_frames(error, canary)


# -- inject_secret on async def ------------------------------------------------------------


def _handler(cache: Any, refresh_on: Any, seen: list[Any]) -> Callable[[], Awaitable[None]]:
    @inject_secret("db", fields={"pw": "password", "user": "user"}, cache=cache,
                   refresh_on=refresh_on)  # fmt: skip
    async def handler(pw: str = "", user: str = "") -> None:
        seen.append(pw)
        raise LoginFailed("the database refused the login")

    return handler


@pytest.mark.parametrize("refresh_on", [(), (LoginFailed,)], ids=["plain", "refresh_on"])
@pytest.mark.parametrize("rotated", [False, True], ids=["no-rotation", "rotation-window"])
def test_async_users_error_holds_no_value_with_an_async_cache(
    aio_session: AioSession,
    endpoint: str,
    sm: SecretsManagerClient,
    canary: str,
    refresh_on: tuple[type[BaseException], ...],
    rotated: bool,
) -> None:
    _creds(sm, canary)
    if rotated:
        start_rotation(sm, "db", json.dumps({"user": "app", "password": canary + "-next"}))
    seen: list[Any] = []

    async def scenario(h: Harness) -> list[BaseException]:
        handler = _handler(h.cache(clock=FakeClock()), refresh_on, seen)
        return [await _caught(handler)]

    (error,) = _run(aio_session, endpoint, scenario)
    assert isinstance(error, LoginFailed)
    assert len(seen) == (2 if refresh_on and rotated else 1)
    assert_no_secret_in_frames(error, canary)


@pytest.mark.parametrize("refresh_on", [(), (LoginFailed,)], ids=["plain", "refresh_on"])
def test_async_users_error_holds_no_value_with_a_sync_cache(
    sm: SecretsManagerClient, canary: str, refresh_on: tuple[type[BaseException], ...]
) -> None:
    from secretcache import SecretCache

    _creds(sm, canary)
    seen: list[Any] = []
    cache: SecretCache = SecretCache(client=sm, clock=FakeClock(), ttl=TTL)
    handler = _handler(cache, refresh_on, seen)
    cold = raised_async(handler)  # a load, off the event loop
    hit = raised_async(handler)  # a fresh hit, served on the event loop
    for error in (cold, hit):
        assert isinstance(error, LoginFailed)
        assert_no_secret_in_frames(error, canary)
    missing = inject_secret("db", into="pw", field="host", cache=cache)(_no_call)
    field_error = raised_async(missing)
    assert isinstance(field_error, SecretFieldError)
    assert_no_secret_in_frames(field_error, canary)
    cache.close()


async def _no_call(pw: str = "") -> None:
    raise AssertionError("not called")
