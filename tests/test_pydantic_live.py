"""live_settings: the same model until a backing secret rotates, one rebuild, no value leaked.

Moto holds the secrets; the cache runs on a FakeClock (ttl 60 s, no jitter); API calls
of every client are counted with one botocore hook (``settings_kit``).
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import boto3
import pytest
from framecheck import assert_no_secret_in_frames, raised
from pydantic import SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource
from settings_kit import API, DB, app_settings, create_app_secrets, every_client_counted

from secretcache import SecretCache, SecretFormatError, SecretNotFoundError
from secretcache.integrations.pydantic_settings import (
    AWSSecretsManagerSettingsSource,
    FromSecret,
    LiveSettings,
    SecretFieldsSettingsSource,
    SettingsValidationError,
    live_settings,
)
from secretcache.testing import FakeClock, rotate_secret

if TYPE_CHECKING:
    from collections import Counter
    from collections.abc import Callable, Iterator

    from conftest import RecordAll
    from mypy_boto3_secretsmanager import SecretsManagerClient

TTL = 60.0
WAIT = 60.0  # seconds a blocked step may take before the test gives up (a hang guard only)


@pytest.fixture
def calls(moto_backend: None) -> Iterator[Counter[str]]:
    with every_client_counted() as counts:
        yield counts


@pytest.fixture
def client(calls: Counter[str]) -> SecretsManagerClient:
    return boto3.client("secretsmanager", region_name="us-east-1")


@pytest.fixture
def cache(make_cache: Callable[..., SecretCache], client: SecretsManagerClient) -> SecretCache:
    return make_cache(client=client, ttl=TTL)  # the conftest's: fake clock, no jitter


@pytest.fixture
def admin(sm: SecretsManagerClient, calls: Counter[str]) -> SecretsManagerClient:
    return sm  # its own session: not counted


class Counted(BaseSettings):
    """Counts its constructions: a rebuild is one more."""

    built: ClassVar[int] = 0

    def model_post_init(self, context: Any) -> None:
        type(self).built += 1


class Service(Counted):
    port: int
    password: SecretStr

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], **sources: PydanticBaseSettingsSource
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # No cache named: inside live_settings the live object's cache reads.
        return (AWSSecretsManagerSettingsSource(settings_cls, "svc"),)


def _service_secret(admin: SecretsManagerClient, password: str, port: str = "8080") -> None:
    admin.create_secret(Name="svc", SecretString=json.dumps({"port": port, "password": password}))


def _rotate(admin: SecretsManagerClient, clock: FakeClock, value: str | dict[str, str]) -> None:
    """Put a new version of the service's secret and let the cache's TTL run out."""
    rotate_secret(admin, "svc", value if isinstance(value, str) else json.dumps(value))
    clock.advance(TTL)


@pytest.fixture
def service(admin: SecretsManagerClient, canary: str) -> type[Service]:
    _service_secret(admin, canary)
    Service.built = 0
    return Service


# -- the same object until a rotation -----------------------------------------------------


def test_get_returns_the_same_model_until_the_secret_rotates(
    service: type[Service], cache: SecretCache, admin: SecretsManagerClient, clock: FakeClock
) -> None:
    live = live_settings(service, cache=cache)
    first = live.get()
    assert all(live.get() is first for _ in range(100))
    rotate_secret(admin, "svc", json.dumps({"port": "9090", "password": "new"}))
    clock.advance(TTL - 1)
    assert live.get() is first  # still fresh in the cache: not seen yet
    clock.advance(1)
    second = live.get()
    assert second is not first
    assert (second.port, second.password.get_secret_value()) == (9090, "new")
    assert first.port == 8080  # the old model is not changed under its holders
    assert live.get() is second
    assert service.built == 2


def test_rotation_after_the_ttl_one_rebuild_one_call_per_rotated_secret(
    admin: SecretsManagerClient,
    make_cache: Callable[..., SecretCache],
    client: SecretsManagerClient,
    calls: Counter[str],
    clock: FakeClock,
) -> None:
    create_app_secrets(admin, "pw")
    results = {}
    for mode in ("get", "describe"):
        cache = make_cache(client=client, ttl=TTL, revalidate=mode)
        model = app_settings(AWSSecretsManagerSettingsSource, cache=cache)
        live = live_settings(model)
        first = live.get()
        calls.clear()
        for _ in range(100):
            assert live.get() is first
        assert calls == {}  # within the TTL: no call at all
        rotate_secret(admin, API, json.dumps({"api_token": f"rotated-{mode}"}))
        clock.advance(TTL)
        second = live.get()
        assert second is not first
        assert second.api_token.get_secret_value() == f"rotated-{mode}"
        assert live.get() is second
        results[mode] = dict(calls)
    # "get" revalidates each expired secret with GetSecretValue (the rotated one's answer
    # is the new value); "describe" asks DescribeSecret and reads only the rotated one.
    # The rebuild itself reads from the cache: no call of its own.
    assert results == {
        "get": {"GetSecretValue": 2},
        "describe": {"DescribeSecret": 2, "GetSecretValue": 1},
    }


def test_many_threads_during_a_rotation_cause_one_rebuild(
    service: type[Service],
    cache: SecretCache,
    admin: SecretsManagerClient,
    calls: Counter[str],
    clock: FakeClock,
) -> None:
    live = live_settings(service, cache=cache)
    first = live.get()
    _rotate(admin, clock, {"port": "9090", "password": "new"})
    calls.clear()
    threads = 16
    barrier = threading.Barrier(threads)
    seen: list[Service] = []

    def read() -> None:
        barrier.wait(WAIT)
        for _ in range(50):
            seen.append(live.get())

    workers = [threading.Thread(target=read) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(WAIT)
    second = live.get()
    assert second is not first
    assert {id(model) for model in seen} <= {id(first), id(second)}
    assert service.built == 2  # the first build and one rebuild
    assert calls == {"GetSecretValue": 1}


def test_secret_str_fields_stay_masked(
    service: type[Service], cache: SecretCache, canary: str
) -> None:
    live = live_settings(service, cache=cache)
    model = live.get()
    assert model.password.get_secret_value() == canary
    assert canary not in f"{model!r} {model} {live!r} {model.model_dump()}"


def test_sources_without_a_cache_read_through_the_live_cache(
    service: type[Service], cache: SecretCache, calls: Counter[str]
) -> None:
    live = live_settings(service, cache=cache)
    for _ in range(20):
        live.get()
    assert calls == {"GetSecretValue": 1}
    assert cache.stats().api_calls == {"GetSecretValue": 1}


def test_a_source_naming_a_region_gets_a_cache_of_its_own(
    admin: SecretsManagerClient, calls: Counter[str]
) -> None:
    admin.create_secret(Name="svc", SecretString='{"port": "1", "password": "p"}')

    class Regional(BaseSettings):
        port: int

        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], **sources: PydanticBaseSettingsSource
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (AWSSecretsManagerSettingsSource(settings_cls, "svc", region_name="us-east-1"),)

    live = live_settings(Regional)
    assert all(live.get().port == 1 for _ in range(10))
    assert calls == {"GetSecretValue": 1}
    live.close()


# -- a new version the model refuses ------------------------------------------------------


def _refused(
    model: type[BaseSettings],
    cache: SecretCache,
    admin: SecretsManagerClient,
    clock: FakeClock,
    value: str | dict[str, str],
) -> tuple[LiveSettings[Any], list[SecretFormatError]]:
    """Build the live model, rotate to ``value``: the last good model must stay."""
    errors: list[SecretFormatError] = []
    live = live_settings(model, cache=cache, on_error=errors.append)
    good = live.get()
    _rotate(admin, clock, value)
    assert live.get() is good
    return live, errors


def test_a_refused_version_keeps_the_last_good_model_and_reports_once_without_values(
    service: type[Service],
    cache: SecretCache,
    admin: SecretsManagerClient,
    clock: FakeClock,
    canary: str,
) -> None:
    live, errors = _refused(
        service, cache, admin, clock, {"port": f"not-a-port-{canary}", "password": canary}
    )
    good = live.get()
    assert all(live.get() is good for _ in range(10))
    clock.advance(TTL)  # revalidated again, still the refused version: not retried
    assert live.get() is good
    assert len(errors) == 1
    (error,) = errors
    assert isinstance(error, SettingsValidationError)
    assert isinstance(error, SecretFormatError)
    assert error.errors == ({"loc": ("port",), "type": "int_parsing"},)
    assert "port: int_parsing" in str(error)
    assert canary not in f"{error} {error!r} {error.args} {vars(error)}"
    assert (error.__cause__, error.__context__, error.__traceback__) == (None, None, None)
    assert service.built == 1  # the refused version never made a model
    _rotate(admin, clock, {"port": "7070", "password": "fixed"})
    assert live.get().port == 7070


def test_a_new_version_that_is_not_json_is_reported_as_a_format_error(
    service: type[Service],
    cache: SecretCache,
    admin: SecretsManagerClient,
    clock: FakeClock,
    canary: str,
) -> None:
    _, errors = _refused(service, cache, admin, clock, f'{{"password": "{canary}"')
    (error,) = errors
    assert type(error) is SecretFormatError
    assert error.code == "InvalidJSON"
    assert canary not in f"{error} {error!r}"
    assert error.__traceback__ is None


class Pooled(BaseSettings):
    pool: dict[str, int]

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], **sources: PydanticBaseSettingsSource
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (AWSSecretsManagerSettingsSource(settings_cls, "svc"),)


def test_a_value_pydantic_settings_cannot_decode_is_reported_without_the_document(
    admin: SecretsManagerClient, cache: SecretCache, clock: FakeClock, canary: str
) -> None:
    # pydantic-settings decodes a complex field's string as JSON; its SettingsError
    # chains the decoder's error, whose ``doc`` is the whole string.
    admin.create_secret(Name="svc", SecretString=json.dumps({"pool": '{"size": 2}'}))
    _, errors = _refused(Pooled, cache, admin, clock, {"pool": f'{{"size": "{canary}"'})
    (error,) = errors
    assert isinstance(error, SettingsValidationError)
    assert 'field "pool"' in str(error)
    assert canary not in f"{error} {error!r} {vars(error)}"
    assert (error.__cause__, error.__context__) == (None, None)


def test_without_on_error_the_refusal_is_logged_without_values(
    service: type[Service],
    cache: SecretCache,
    admin: SecretsManagerClient,
    clock: FakeClock,
    canary: str,
    debug_logs: RecordAll,
) -> None:
    live = live_settings(service, cache=cache)
    good = live.get()
    _rotate(admin, clock, {"port": canary, "password": canary})
    assert live.get() is good
    assert any("kept the last good Service" in text for text in debug_logs.texts)
    assert not any(canary in text for text in debug_logs.texts)


def test_an_on_error_that_raises_is_logged_and_the_model_kept(
    service: type[Service], cache: SecretCache, admin: SecretsManagerClient, clock: FakeClock
) -> None:
    def broken(error: SecretFormatError) -> None:
        raise RuntimeError("the alerting hook is down")

    live = live_settings(service, cache=cache, on_error=broken)
    good = live.get()
    _rotate(admin, clock, {"port": "x", "password": "y"})
    assert live.get() is good


def test_a_first_build_that_fails_raises_the_typed_error_without_values(
    admin: SecretsManagerClient, cache: SecretCache, canary: str
) -> None:
    Service.built = 0
    _service_secret(admin, canary, port=f"port-{canary}")
    live = live_settings(Service, cache=cache)
    error = raised(live.get)
    assert isinstance(error, SettingsValidationError)
    assert canary not in f"{error} {error!r} {vars(error)}"
    assert (error.__cause__, error.__context__) == (None, None)
    assert_no_secret_in_frames(error, canary)


def test_a_deleted_secret_is_raised_not_hidden(
    service: type[Service], cache: SecretCache, admin: SecretsManagerClient, clock: FakeClock
) -> None:
    live = live_settings(service, cache=cache)
    live.get()
    admin.delete_secret(SecretId="svc", ForceDeleteWithoutRecovery=True)
    clock.advance(TTL)
    with pytest.raises(SecretNotFoundError):
        live.get()


def test_a_read_error_mid_build_leaves_no_value_read_before_it_in_our_frames(
    admin: SecretsManagerClient, cache: SecretCache, canary: str
) -> None:
    db = {"db--host": "h", "db--port": "1", "db--password": canary}
    admin.create_secret(Name=DB, SecretString=json.dumps(db))  # and no API secret
    live = live_settings(app_settings(AWSSecretsManagerSettingsSource), cache=cache)
    error = raised(live.get)
    assert isinstance(error, SecretNotFoundError)
    assert error.secret_id == API
    assert_no_secret_in_frames(error, canary)


def test_live_settings_refuses_what_is_not_a_settings_class() -> None:
    with pytest.raises(TypeError, match="BaseSettings"):
        live_settings(dict)  # type: ignore[type-var]
    with pytest.raises(TypeError, match="on_error"):
        live_settings(Service, on_error="print")  # type: ignore[arg-type]


# -- several secrets, FromSecret fields ---------------------------------------------------


class Mixed(Counted):
    db_password: Annotated[SecretStr, FromSecret(DB, "db--password")]
    api_token: Annotated[SecretStr, FromSecret(API, "api_token")]

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], **sources: PydanticBaseSettingsSource
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (SecretFieldsSettingsSource(settings_cls),)


def test_fields_from_keys_follow_their_secrets(
    admin: SecretsManagerClient, cache: SecretCache, clock: FakeClock, calls: Counter[str]
) -> None:
    create_app_secrets(admin, "pw1")
    live = live_settings(Mixed, cache=cache)
    first = live.get()
    rotated = {"db--host": "h", "db--port": "1", "db--password": "pw2"}
    rotate_secret(admin, DB, json.dumps(rotated))
    clock.advance(TTL)
    second = live.get()
    assert (first.db_password.get_secret_value(), second.db_password.get_secret_value()) == (
        "pw1",
        "pw2",
    )
    assert second.api_token.get_secret_value() == "t0ken"


# -- async code ---------------------------------------------------------------------------


def test_aget_keeps_the_event_loop_running_while_a_reload_waits_on_secrets_manager(
    service: type[Service],
    cache: SecretCache,
    admin: SecretsManagerClient,
    client: SecretsManagerClient,
    clock: FakeClock,
) -> None:
    live = live_settings(service, cache=cache)
    first = live.get()
    _rotate(admin, clock, {"port": "9090", "password": "new"})
    started, release = threading.Event(), threading.Event()

    def slow_network(**kwargs: Any) -> None:
        started.set()
        release.wait(WAIT)  # Secrets Manager answers only when the test says so

    client.meta.events.register("before-send.secrets-manager", slow_network)

    async def main() -> None:
        reload = asyncio.create_task(live.aget())
        for _ in range(1000):  # the loop turns while the reload is blocked in a thread
            if started.is_set():
                break
            await asyncio.sleep(0.001)
        assert started.is_set()
        assert not reload.done()
        assert await live.aget() is first  # another task meanwhile: the current model
        release.set()
        second = await reload
        assert second is not first
        assert second.port == 9090
        assert await live.aget() is second  # fresh again: answered on the loop

    asyncio.run(main())
    client.meta.events.unregister("before-send.secrets-manager", slow_network)
    assert service.built == 2
