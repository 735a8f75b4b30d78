"""What a new user gets wrong first fails at once, with the fix in the message."""

from __future__ import annotations

import inspect
import pydoc
from typing import Any

import boto3
import pytest

from secretcache import SecretCache, inject_secret
from secretcache.aio import AsyncSecretCache
from secretcache.testing import InMemorySource

REGION = "us-east-1"


@pytest.mark.parametrize("cls", [SecretCache, AsyncSecretCache])
def test_a_positional_number_says_ttl_is_keyword_only(cls: type) -> None:
    with pytest.raises(TypeError, match=rf"ttl is keyword-only: {cls.__name__}\(ttl=300\)"):
        cls(300)


def test_a_session_passed_as_the_client_says_session() -> None:
    with pytest.raises(TypeError, match=r"a session .*SecretCache\(session=\.\.\.\)"):
        SecretCache(boto3.Session(region_name=REGION))  # type: ignore[arg-type]


def test_a_client_of_another_service_is_refused_at_construction() -> None:
    s3 = boto3.client("s3", region_name=REGION)
    with pytest.raises(TypeError, match=r"'s3' client.*boto3.client\('secretsmanager'\)"):
        SecretCache(client=s3)  # type: ignore[arg-type]


def test_anything_else_as_a_client_is_refused() -> None:
    with pytest.raises(TypeError, match="client must be a Secrets Manager client"):
        SecretCache(client=object())  # type: ignore[arg-type]


def test_the_async_cache_refuses_a_sync_client() -> None:
    sync = boto3.client("secretsmanager", region_name=REGION)
    with pytest.raises(TypeError, match="aiobotocore client"):
        AsyncSecretCache(client=sync)


def test_a_bare_inject_secret_says_how_to_call_it() -> None:
    with pytest.raises(TypeError, match=r'@inject_secret\("prod/db", into="password"\)'):

        @inject_secret  # type: ignore[arg-type]
        def handler(password: str = "") -> str:
            return password


@pytest.mark.parametrize("wrapper", [classmethod, staticmethod])
def test_inject_secret_above_a_classmethod_says_to_swap_them(wrapper: Any) -> None:
    cache = SecretCache(source=InMemorySource({"db": "pw"}))

    def connect(cls_or_nothing: Any = None, password: str = "") -> str:
        return password

    decorate = inject_secret("db", into="password", cache=cache)
    with pytest.raises(TypeError, match=rf"put @{wrapper.__name__} above @inject_secret"):
        decorate(wrapper(connect))  # @inject_secret(...) written over @classmethod


def test_help_documents_every_constructor_parameter() -> None:
    text = pydoc.render_doc(SecretCache, renderer=pydoc.plaintext)
    for name in inspect.signature(SecretCache).parameters:
        assert f"{name}:" in text, name


def test_help_shows_no_internal_looking_methods() -> None:
    public = {name for name in dir(SecretCache) if not name.startswith("_")}
    assert public == {
        "close",
        "get_secret",
        "get_secret_binary",
        "get_secret_field",
        "get_secret_json",
        "get_secret_string",
        "invalidate",
        "on_rotation",
        "prefetch",
        "refresh",
        "rotation_candidate",
        "stats",
    }
