"""The official decorators' injection rules, on functions and methods."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from secretcache.compat import InjectKeywordedSecretString, InjectSecretString

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache.compat import SecretCache

CREDS = {"username": "app", "password": "pw-1"}


@pytest.fixture
def cache(sm: SecretsManagerClient, make_compat: Callable[..., SecretCache]) -> SecretCache:
    sm.create_secret(Name="token", SecretString="t0ken")
    sm.create_secret(Name="db", SecretString=json.dumps(CREDS))
    return make_compat()


def test_the_string_comes_first(cache: SecretCache) -> None:
    @InjectSecretString("token", cache)
    def call(token: str, path: str, *, verbose: bool = False) -> tuple[str, str, bool]:
        """Call the API."""
        return token, path, verbose

    assert call("/v1") == ("t0ken", "/v1", False)
    assert call("/v2", verbose=True) == ("t0ken", "/v2", True)
    assert call.__name__ == "call"
    assert call.__doc__ == "Call the API."


def test_on_a_method_the_string_comes_after_self(cache: SecretCache) -> None:
    class Client:
        def __init__(self, base: str) -> None:
            self.base = base

        @InjectSecretString("token", cache)
        def fetch(self, token: str, path: str) -> str:
            return f"{self.base}{path}?token={token}"

    assert Client("https://api").fetch("/items") == "https://api/items?token=t0ken"
    assert Client("https://api").fetch(path="/x") == "https://api/x?token=t0ken"


def test_fields_go_in_by_keyword(cache: SecretCache) -> None:
    @InjectKeywordedSecretString("db", cache, user="username", pw="password")
    def connect(host: str, user: str, pw: str, port: int = 5432) -> tuple[str, str, str, int]:
        return host, user, pw, port

    assert connect("db.local") == ("db.local", "app", "pw-1", 5432)
    assert connect("db.local", port=6543) == ("db.local", "app", "pw-1", 6543)


def test_fields_on_a_method(cache: SecretCache) -> None:
    class Repository:
        @InjectKeywordedSecretString("db", cache, password="password")
        def login(self, user: str, password: str) -> str:
            return f"{user}:{password}"

    assert Repository().login("app") == "app:pw-1"


def test_an_explicit_argument_clashes_as_in_the_official_package(cache: SecretCache) -> None:
    @InjectKeywordedSecretString("db", cache, pw="password")
    def connect(pw: str) -> str:
        return pw

    with pytest.raises(TypeError, match="multiple values"):
        connect(pw="mine")


def test_the_secret_is_read_at_every_call(sm: SecretsManagerClient, cache: SecretCache) -> None:
    @InjectSecretString("token", cache)
    def show(token: str) -> str:
        return token

    assert show() == "t0ken"
    sm.put_secret_value(SecretId="token", SecretString="t0ken-2")
    assert cache.refresh_secret_now("token") is True
    assert show() == "t0ken-2"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("pw-1 is not json", "Cached secret is not valid JSON"),
        (json.dumps(["pw-1"]), "Cached secret is not a JSON object"),
        (json.dumps({"username": "app", "pw": "pw-1"}), "does not contain key password"),
    ],
)
def test_bad_json_is_a_runtime_error_without_the_value(
    sm: SecretsManagerClient,
    make_compat: Callable[..., SecretCache],
    value: str,
    message: str,
) -> None:
    sm.create_secret(Name="odd", SecretString=value)

    @InjectKeywordedSecretString("odd", make_compat(), user="username", password="password")
    def connect(user: str, password: str) -> None:
        raise AssertionError("not called")

    with pytest.raises(RuntimeError, match=message) as caught:
        connect()
    assert "pw-1" not in repr(caught.value.args)
    assert caught.value.__context__ is None  # no JSONDecodeError holding the document
    assert caught.value.__cause__ is None


def test_no_value_at_the_stage_is_a_runtime_error(
    sm: SecretsManagerClient, make_compat: Callable[..., SecretCache]
) -> None:
    sm.create_secret(Name="valueless")

    @InjectKeywordedSecretString("valueless", make_compat(), user="username")
    def connect(user: str) -> None:
        raise AssertionError("not called")

    with pytest.raises(RuntimeError, match="no SecretString"):
        connect()


def test_cache_errors_pass_through(cache: SecretCache) -> None:
    @InjectSecretString("missing", cache)
    def show(token: Any) -> Any:
        return token

    with pytest.raises(ClientError):
        show()
