"""No secret value in secretcache's frames on a traceback: decorators, Powertools, compat, CLI.

The user's own exception raised inside an ``@inject_secret`` function (with and without
``refresh_on``), the decorator's own errors, the Powertools provider, ``secretcache.compat``
(cache, decorators, hooks) and ``secretcache get`` without ``--reveal``. Each scenario
returns the exceptions a user would report; ``framecheck`` walks them.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import pytest
from framecheck import assert_no_secret_in_frames, raised

from secretcache import (
    SecretCacheError,
    SecretFieldError,
    SecretFormatError,
    inject_secret,
)
from secretcache.testing import FaultInjector, rotate_secret, start_rotation

if TYPE_CHECKING:
    from collections.abc import Callable

    from framecheck import World


class LoginFailed(Exception):
    """What a database driver raises on a wrong password."""


# -- inject_secret on plain functions ---------------------------------------------------

INJECTIONS: dict[str, dict[str, Any]] = {
    "string": {"into": "creds"},
    "json": {"into": "creds", "transform": "json"},
    "binary": {"into": "creds", "transform": "binary"},
    "field": {"into": "creds", "field": "password"},
    "fields": {"fields": {"creds": "password", "user": "username"}},
}


def _failing_handler(w: World, how: dict[str, Any], **extra: Any) -> Callable[..., object]:
    @inject_secret(w.creds(), cache=w.cache, **how, **extra)
    def handler(creds: Any = None, user: str = "") -> None:
        raise LoginFailed("the database refused the login")

    return handler


@pytest.mark.parametrize("how", list(INJECTIONS))
def test_the_users_error_holds_no_value_in_the_wrapper(world: World, how: str) -> None:
    handler = _failing_handler(world, INJECTIONS[how])
    error = raised(handler)
    assert isinstance(error, LoginFailed)
    assert_no_secret_in_frames(error, world.canary)


@pytest.mark.parametrize("how", list(INJECTIONS))
def test_refresh_on_without_a_rotation_reraises_with_no_value(world: World, how: str) -> None:
    handler = _failing_handler(world, INJECTIONS[how], refresh_on=LoginFailed)
    error = raised(handler)
    assert isinstance(error, LoginFailed)
    assert_no_secret_in_frames(error, world.canary)


def test_refresh_on_retry_that_fails_again_holds_no_value(world: World) -> None:
    seen: list[str] = []

    @inject_secret(world.creds(), into="creds", field="password", cache=world.cache,
                   refresh_on=LoginFailed)  # fmt: skip
    def handler(creds: str = "") -> None:
        seen.append(creds)
        raise LoginFailed("still refused")

    start_rotation(world.sm, "db", json.dumps({"password": world.canary + "-pending"}))
    error = raised(handler)
    assert seen == [world.canary, world.canary + "-pending"]  # it did retry
    assert_no_secret_in_frames(error, world.canary)


def test_refresh_on_whose_lookup_fails_holds_no_value(world: World) -> None:
    handler = _failing_handler(world, INJECTIONS["json"], refresh_on=LoginFailed)
    world.cache.get_secret("db")  # cached: the handler's read is a hit
    with FaultInjector(world.sm) as faults:
        faults.fail("AccessDeniedException")  # rotation_candidate's fresh look is denied
        error = raised(handler)
    assert isinstance(error, LoginFailed)
    assert_no_secret_in_frames(error, world.canary)


def test_the_decorators_own_errors_hold_no_value(world: World) -> None:
    name = world.creds()

    @inject_secret(name, fields={"pw": "password", "user": "username", "host": "host"},
                   cache=world.cache)  # fmt: skip
    def missing(pw: str = "", user: str = "", host: str = "") -> None:
        raise AssertionError("not called")

    @inject_secret(name, into="creds", transform="json", cache=world.cache)
    def parsed(creds: Any = None) -> Any:
        return creds

    field_error = raised(missing)  # "host" comes after fields already read
    assert parsed()["password"] == world.canary  # the decorator remembers this version
    rotate_secret(world.sm, name, '{"password": ' + world.canary)  # no longer JSON
    world.cache.refresh(name)
    format_error = raised(parsed)
    assert isinstance(field_error, SecretFieldError)
    assert isinstance(format_error, SecretFormatError)
    for error in (field_error, format_error):
        assert_no_secret_in_frames(error, world.canary)


# -- the Powertools provider ------------------------------------------------------------


def test_powertools_provider_errors_hold_no_value(world: World) -> None:
    from secretcache.integrations.powertools import SecretCacheProvider

    provider = SecretCacheProvider(world.cache, clock=world.clock)
    # Neither JSON nor base64: 41 base64 characters, one more than a multiple of four.
    plain = world.secret("plain", f"xyz {world.canary}")
    errors = [
        raised(provider.get, plain, transform="json"),
        raised(provider.get, plain, transform="binary"),
    ]
    assert all(isinstance(e, SecretFormatError) for e in errors)
    world.clock.advance(3600)
    with FaultInjector(world.sm) as faults:
        faults.fail("AccessDeniedException")
        errors.append(raised(provider.get, plain, max_age=0))
    assert isinstance(errors[-1], SecretCacheError)
    for error in errors:
        assert_no_secret_in_frames(error, world.canary)


# -- secretcache.compat -------------------------------------------------------------------


def _compat(w: World, hook: Any = None) -> Any:
    from secretcache.compat import SecretCache as CompatCache
    from secretcache.compat import SecretCacheConfig

    config = SecretCacheConfig(secret_refresh_interval=60, secret_cache_hook=hook)
    return CompatCache(config=config, client=w.sm, clock=w.clock)


def test_compat_decorators_hold_no_value(world: World) -> None:
    from secretcache.compat import InjectKeywordedSecretString, InjectSecretString

    cache = _compat(world)
    creds, plain = world.creds(), world.secret("plain", f"not json {world.canary}")

    @InjectSecretString(plain, cache)
    def positional(token: str) -> None:
        raise LoginFailed("refused")

    @InjectKeywordedSecretString(creds, cache, pw="password")
    def keyworded(pw: str) -> None:
        raise LoginFailed("refused")

    @InjectKeywordedSecretString(creds, cache, pw="password", host="host")
    def missing_key(pw: str, host: str) -> None:
        raise AssertionError("not called")

    @InjectKeywordedSecretString(plain, cache, pw="password")
    def not_json(pw: str) -> None:
        raise AssertionError("not called")

    errors = [raised(f) for f in (positional, keyworded, missing_key, not_json)]
    assert [type(e) for e in errors] == [LoginFailed, LoginFailed, RuntimeError, RuntimeError]
    for error in errors:
        assert_no_secret_in_frames(error, world.canary)


def test_compat_cache_errors_hold_no_value(world: World) -> None:
    cache = _compat(world)
    name = world.creds()
    assert world.canary in cache.get_secret_string(name)
    world.clock.advance(61)
    rotate_secret(world.sm, name, world.canary + "-2")
    with FaultInjector(world.sm) as faults:
        faults.fail("AccessDeniedException")
        error = raised(cache.get_secret_string, name)
    assert isinstance(error, SecretCacheError)
    assert_no_secret_in_frames(error, world.canary)


class _BrokenHook:
    """A SecretCacheHook whose put fails on values, or whose get returns garbage."""

    def __init__(self, fail: str) -> None:
        self.fail = fail

    def put(self, obj: Any) -> Any:
        if self.fail == "put" and "SecretString" in obj:
            raise LoginFailed("the hook's key service is down")
        return obj

    def get(self, cached_obj: Any) -> Any:
        if self.fail == "get" and "SecretString" in cached_obj:
            return [cached_obj]  # not a mapping: reading a field from it fails
        return cached_obj


@pytest.mark.parametrize("fail", ["put", "get"])
def test_compat_hook_failures_hold_no_value(world: World, fail: str) -> None:
    cache = _compat(world, _BrokenHook(fail))
    error = raised(cache.get_secret_string, world.creds())
    assert isinstance(error, (LoginFailed, AttributeError))
    assert_no_secret_in_frames(error, world.canary)


# -- secretcache get, without --reveal ---------------------------------------------------


class _BrokenPipe:
    """A stdout whose reader went away (``secretcache get ... | head -0``)."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        pass


@pytest.mark.parametrize(
    "extra", [[], ["--json"], ["--field", "password"], ["--field", "password", "--json"], ["blob"]]
)
def test_cli_get_holds_no_value_when_output_fails(
    world: World, monkeypatch: pytest.MonkeyPatch, extra: list[str]
) -> None:
    from secretcache.cli import main

    world.creds("app/db")
    world.secret("app/blob", world.canary.encode())
    argv = ["get", "app/blob"] if extra == ["blob"] else ["get", "app/db", *extra]
    monkeypatch.setattr(sys, "stdout", _BrokenPipe())
    error = raised(main, [*argv, "--region", "us-east-1"])
    assert isinstance(error, BrokenPipeError)
    assert_no_secret_in_frames(error, world.canary)
