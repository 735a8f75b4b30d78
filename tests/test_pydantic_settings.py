"""AWSSecretsManagerSettingsSource and FromSecret: pydantic-settings' behaviour, the cache's cost.

Every comparison builds the same model with pydantic-settings' own source and with ours
(without and with a cache) on one moto backend, and counts the API calls of every
client with one botocore hook (``settings_kit.every_client_counted``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import boto3
import pytest
from framecheck import assert_no_secret_in_frames, raised
from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import AWSSecretsManagerSettingsSource as Theirs
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource
from settings_kit import API, DB, app_settings, create_app_secrets, every_client_counted

from secretcache import (
    SecretCache,
    SecretCredentialsError,
    SecretFormatError,
    SecretNotFoundError,
)
from secretcache.integrations.pydantic_settings import (
    AWSSecretsManagerSettingsSource as Ours,
)
from secretcache.integrations.pydantic_settings import FromSecret, SecretFieldsSettingsSource
from secretcache.testing import FakeClock, rotate_secret

if TYPE_CHECKING:
    from collections import Counter
    from collections.abc import Callable, Iterator

    from mypy_boto3_secretsmanager import SecretsManagerClient

REGION = "us-east-1"


@pytest.fixture
def calls(moto_backend: None) -> Iterator[Counter[str]]:
    with every_client_counted() as counts:
        yield counts


@pytest.fixture
def cache(calls: Counter[str], clock: FakeClock) -> Iterator[SecretCache]:
    """A cache whose client is counted like pydantic-settings' clients (ttl 60 s)."""
    client = boto3.client("secretsmanager", region_name=REGION)
    built = SecretCache(client=client, clock=clock, ttl=60.0, jitter=0.0)
    yield built
    built.close()


@pytest.fixture
def admin(sm: SecretsManagerClient, calls: Counter[str]) -> SecretsManagerClient:
    """The conftest's client: its own session, so its calls are not counted."""
    return sm


# -- the same settings as pydantic-settings' own source -----------------------------------


class Pool(BaseModel):
    size: int
    timeout: float | None = None


class Wide(BaseSettings):
    user: str = Field(alias="User")
    api_key: SecretStr = Field(validation_alias=AliasChoices("API_KEY", "apikey"))
    pool: Pool
    mode: str = "prod"


SHAPES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "nested": ({"User": "u", "API_KEY": "k", "pool--size": "3"}, {}),
    "nested-json": ({"User": "u", "apikey": "k", "pool": '{"size": 4}'}, {}),
    "case-insensitive": (
        {"USER": "u", "api_key": "k", "POOL--SIZE": "5", "MODE": "dev"},
        {"case_sensitive": False},
    ),
    "prefix": (  # pydantic-settings applies no prefix to aliased fields
        {"User": "u", "API_KEY": "k", "APP_pool--size": "6", "APP_mode": "dev"},
        {"env_prefix": "APP_"},
    ),
    "delimiter": ({"User": "u", "API_KEY": "k", "pool__size": "7"}, {"env_nested_delimiter": "__"}),
    "none-str": (
        {"User": "u", "API_KEY": "k", "pool--size": "8", "pool--timeout": "null"},
        {"env_parse_none_str": "null"},
    ),
}


def _model(source: type[Any], **kwargs: Any) -> type[Wide]:
    class Settings(Wide):
        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], **sources: PydanticBaseSettingsSource
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (source(settings_cls, "shape", **kwargs),)

    return Settings


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_shape_reads_as_pydantic_settings_reads_it(
    admin: SecretsManagerClient, cache: SecretCache, shape: str
) -> None:
    value, kwargs = SHAPES[shape]
    admin.create_secret(Name="shape", SecretString=json.dumps(value))
    theirs = _model(Theirs, **kwargs)().model_dump()
    assert _model(Ours, **kwargs)().model_dump() == theirs
    assert _model(Ours, cache=cache, **kwargs)().model_dump() == theirs
    assert Ours(Wide, "shape", **kwargs)() == Theirs(Wide, "shape", **kwargs)()


def test_a_pinned_version_reads_that_version(
    admin: SecretsManagerClient, cache: SecretCache
) -> None:
    first = admin.create_secret(Name="shape", SecretString='{"user": "v1"}')["VersionId"]
    rotate_secret(admin, "shape", '{"user": "v2"}')

    class Settings(BaseSettings):
        user: str

    for kwargs in ({}, {"cache": cache}):
        assert Ours(Settings, "shape", version_id=first, **kwargs)() == {"user": "v1"}
        assert Ours(Settings, "shape", **kwargs)() == {"user": "v2"}


@pytest.mark.parametrize("kwargs", [{}, {"env_nested_delimiter": "__"}])
def test_the_repr_is_pydantic_settings_own(
    admin: SecretsManagerClient, cache: SecretCache, kwargs: dict[str, Any]
) -> None:
    admin.create_secret(Name="shape", SecretString="{}")
    expected = repr(Theirs(BaseSettings, "shape", **kwargs))
    assert repr(Ours(BaseSettings, "shape", **kwargs)) == expected
    assert repr(Ours(BaseSettings, "shape", cache=cache, **kwargs)) == expected


# -- what a construction costs ------------------------------------------------------------


def test_100_constructions_within_the_ttl_cost_2_calls_not_200(
    admin: SecretsManagerClient, cache: SecretCache, calls: Counter[str], clock: FakeClock
) -> None:
    create_app_secrets(admin, "pw")
    models = {
        "theirs": app_settings(Theirs),
        "ours without a cache": app_settings(Ours),
        "ours with a cache": app_settings(Ours, cache=cache),
    }
    counted = {}
    for name, model in models.items():
        calls.clear()
        built = [model() for _ in range(100)]
        assert {m.db.password.get_secret_value() for m in built} == {"pw"}
        counted[name] = calls["GetSecretValue"]
    assert counted == {"theirs": 200, "ours without a cache": 200, "ours with a cache": 2}
    calls.clear()
    clock.advance(60.0)  # the TTL is over: one revalidation per secret
    models["ours with a cache"]()
    models["ours with a cache"]()
    assert calls == {"GetSecretValue": 2}


# -- errors: the typed tree, no value -----------------------------------------------------


@pytest.mark.parametrize("with_cache", [False, True])
def test_a_missing_secret_is_secret_not_found(
    cache: SecretCache, calls: Counter[str], with_cache: bool
) -> None:
    kwargs = {"cache": cache} if with_cache else {}
    with pytest.raises(SecretNotFoundError) as caught:
        app_settings(Ours, **kwargs)()
    assert caught.value.secret_id == DB


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ('{"user": "{canary}"', "InvalidJSON"),
        ('["{canary}"]', "NotJSONObject"),
        ('"{canary}"', "NotJSONObject"),
    ],
)
def test_a_value_that_is_not_a_json_object_is_a_format_error_without_the_value(
    admin: SecretsManagerClient, cache: SecretCache, canary: str, value: str, code: str
) -> None:
    admin.create_secret(Name="shape", SecretString=value.replace("{canary}", canary))
    for kwargs in ({}, {"cache": cache}):
        error = raised(_model(Ours, **kwargs))
        assert isinstance(error, SecretFormatError)
        assert error.code == code
        assert canary not in f"{error} {error!r} {error.__cause__!r} {error.__context__!r}"
        assert_no_secret_in_frames(error, canary)


def test_a_binary_secret_is_a_format_error(admin: SecretsManagerClient, cache: SecretCache) -> None:
    admin.create_secret(Name="shape", SecretBinary=b"\x00\x01")
    with pytest.raises(SecretFormatError, match="SecretBinary"):
        _model(Ours, cache=cache)()


def test_no_region_anywhere_is_a_credentials_error(
    admin: SecretsManagerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(SecretCredentialsError):
        Ours(BaseSettings, "shape")


@pytest.mark.parametrize(
    ("kwargs", "error", "says"),
    [
        ({"region_name": "eu-west-1"}, TypeError, "region_name"),
        ({"endpoint_url": "http://127.0.0.1:1"}, TypeError, "endpoint_url"),
    ],
)
def test_a_place_beside_a_cache_is_misuse(
    cache: SecretCache, calls: Counter[str], kwargs: dict[str, Any], error: type, says: str
) -> None:
    with pytest.raises(error, match=says):
        Ours(BaseSettings, "shape", cache=cache, **kwargs)
    assert calls == {}


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: Ours(BaseSettings, "shape", cache="not a cache"), TypeError),
        (lambda: Ours(BaseSettings, ""), ValueError),
        (lambda: Ours(BaseSettings, 42), TypeError),
        (lambda: Ours(BaseSettings, "shape", version_id="short"), ValueError),
        (lambda: SecretFieldsSettingsSource(BaseSettings, cache=object()), TypeError),
        (lambda: FromSecret(""), ValueError),
        (lambda: FromSecret("s", 3), TypeError),
    ],
)
def test_bad_arguments_are_refused_before_any_call(
    calls: Counter[str], make: Callable[[], object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        make()
    assert calls == {}


def test_an_async_cache_is_refused_with_the_way_to_go() -> None:
    from secretcache.aio import AsyncSecretCache
    from secretcache.testing import AsyncInMemorySource

    with pytest.raises(TypeError, match="aget"):
        Ours(BaseSettings, "shape", cache=AsyncSecretCache(source=AsyncInMemorySource()))


# -- FromSecret: one field from one key, several secrets, one source ---------------------


class Service(BaseSettings):
    db_user: str = "nobody"
    db_password: Annotated[SecretStr, FromSecret(DB, "db--password")]
    port: Annotated[int, FromSecret(DB, "db--port")]
    token: Annotated[SecretStr, FromSecret("app/token")]
    region: Annotated[str, FromSecret(DB, "absent")] = "us-east-1"
    limits: Annotated[Pool, FromSecret(API, "pool")]
    aliased: Annotated[str, FromSecret(API, "api_token"), Field(alias="ALIASED")]


def _service(**kwargs: Any) -> type[Service]:
    class Settings(Service):
        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], **sources: PydanticBaseSettingsSource
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (sources["init_settings"], SecretFieldsSettingsSource(settings_cls, **kwargs))

    return Settings


def _service_secrets(admin: SecretsManagerClient, password: str) -> None:
    db = {"db--port": 5432, "db--password": password}
    admin.create_secret(Name=DB, SecretString=json.dumps(db))
    admin.create_secret(Name=API, SecretString=json.dumps({"api_token": "t", "pool": {"size": 2}}))
    admin.create_secret(Name="app/token", SecretString="whole-string")


@pytest.mark.parametrize("with_cache", [False, True])
def test_fields_come_from_keys_of_several_secrets_each_read_once(
    admin: SecretsManagerClient,
    cache: SecretCache,
    calls: Counter[str],
    canary: str,
    with_cache: bool,
) -> None:
    _service_secrets(admin, canary)
    settings = _service(**({"cache": cache} if with_cache else {}))()
    assert settings.db_password.get_secret_value() == canary
    assert (settings.port, settings.token.get_secret_value()) == (5432, "whole-string")
    assert (settings.region, settings.db_user) == ("us-east-1", "nobody")  # absent: default
    assert settings.limits == Pool(size=2)
    assert settings.aliased == "t"
    assert canary not in repr(settings)
    assert calls["GetSecretValue"] == 3  # three secrets, seven fields


def test_fields_from_a_cache_cost_nothing_within_the_ttl(
    admin: SecretsManagerClient, cache: SecretCache, calls: Counter[str]
) -> None:
    _service_secrets(admin, "pw")
    model = _service(cache=cache)
    for _ in range(50):
        model()
    assert calls["GetSecretValue"] == 3


def test_init_arguments_still_win_over_secret_fields(
    admin: SecretsManagerClient, cache: SecretCache
) -> None:
    _service_secrets(admin, "pw")
    assert _service(cache=cache)(port=1).port == 1


def test_a_keyed_field_of_a_secret_that_is_not_an_object_is_a_format_error(
    admin: SecretsManagerClient, cache: SecretCache, canary: str
) -> None:
    _service_secrets(admin, canary)
    rotate_secret(admin, API, f'["{canary}"]')
    error = raised(_service(cache=cache))
    assert isinstance(error, SecretFormatError)
    assert error.secret_id == API
    assert canary not in str(error)
    assert_no_secret_in_frames(error, canary)


def test_the_fields_source_repr_names_secrets_only(cache: SecretCache) -> None:
    source = SecretFieldsSettingsSource(Service, cache=cache)
    assert (
        repr(source) == f"SecretFieldsSettingsSource(secret_ids={sorted([API, DB, 'app/token'])})"
    )
