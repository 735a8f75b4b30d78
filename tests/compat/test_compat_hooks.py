"""SecretCacheHook: applied to every response stored, and to what every read gets back."""

from __future__ import annotations

import base64
import threading
from typing import TYPE_CHECKING, Any

import pytest

from secretcache.compat import SecretCacheHook
from secretcache.testing import rotate_secret

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache.compat import SecretCache
    from secretcache.testing import FakeClock


class Sealing(SecretCacheHook):
    """Keep values sealed (XOR with a key, base64) in memory; unseal on each read."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.lock = threading.Lock()
        self.put_calls: list[set[str]] = []  # the keys of each response stored
        self.stored: list[Any] = []
        self.gets = 0

    def _xor(self, data: bytes) -> bytes:
        return bytes(b ^ self.key[i % len(self.key)] for i, b in enumerate(data))

    def put(self, obj: Any) -> Any:
        with self.lock:
            self.put_calls.append(set(obj))
        sealed = dict(obj)
        if "SecretString" in sealed:
            sealed["SecretString"] = base64.b64encode(self._xor(obj["SecretString"].encode()))
        if "SecretBinary" in sealed:
            sealed["SecretBinary"] = base64.b64encode(self._xor(obj["SecretBinary"]))
        self.stored.append(sealed)
        return sealed

    def get(self, cached_obj: Any) -> Any:
        with self.lock:
            self.gets += 1
        opened = dict(cached_obj)
        if "SecretString" in opened:
            opened["SecretString"] = self._xor(base64.b64decode(opened["SecretString"])).decode()
        if "SecretBinary" in opened:
            opened["SecretBinary"] = self._xor(base64.b64decode(opened["SecretBinary"]))
        return opened


def test_the_hook_sees_every_response_and_serves_every_read(
    sm: SecretsManagerClient, make_compat: Callable[..., SecretCache]
) -> None:
    sm.create_secret(Name="db", SecretString="pa55word")
    sm.create_secret(Name="blob", SecretBinary=b"\x00raw")
    hook = Sealing(b"k3y")
    cache = make_compat(secret_cache_hook=hook)
    for _ in range(3):
        assert cache.get_secret_string("db") == "pa55word"
        assert cache.get_secret_binary("blob") == b"\x00raw"
    # put: one DescribeSecret and one GetSecretValue response per secret, whole.
    assert len(hook.put_calls) == 4
    assert sum("VersionIdsToStages" in keys for keys in hook.put_calls) == 2
    assert sum("SecretString" in keys or "SecretBinary" in keys for keys in hook.put_calls) == 2
    # get: the stage map and the value, on every read (hits included).
    assert hook.gets == 2 * 6
    # What the cache holds is what put returned: sealed, never the plain value.
    assert all(b"pa55word" not in repr(sealed).encode() for sealed in hook.stored)


def test_a_refresh_goes_through_the_hook_again(
    sm: SecretsManagerClient, clock: FakeClock, make_compat: Callable[..., SecretCache]
) -> None:
    sm.create_secret(Name="db", SecretString="v1")
    hook = Sealing(b"k")
    cache = make_compat(secret_cache_hook=hook, secret_refresh_interval=60)
    assert cache.get_secret_string("db") == "v1"
    clock.advance(61)
    assert cache.get_secret_string("db") == "v1"
    assert len(hook.put_calls) == 3  # a new DescribeSecret answer; the version is unchanged
    rotate_secret(sm, "db", "v2")
    clock.advance(61)
    assert cache.get_secret_string("db") == "v2"
    assert cache.get_secret_string("db", "AWSPREVIOUS") == "v1"
    assert len(hook.put_calls) == 5


def test_a_hook_that_finds_nothing_means_none(
    sm: SecretsManagerClient, make_compat: Callable[..., SecretCache]
) -> None:
    class Forgetful(SecretCacheHook):
        def put(self, obj: Any) -> Any:
            return obj if "VersionIdsToStages" in obj else None

        def get(self, cached_obj: Any) -> Any:
            return cached_obj

    sm.create_secret(Name="db", SecretString="v1")
    assert make_compat(secret_cache_hook=Forgetful()).get_secret_string("db") is None


def test_a_hook_must_have_put_and_get(sm: SecretsManagerClient) -> None:
    class HalfDone(SecretCacheHook):
        def put(self, obj: Any) -> Any:
            return obj

    with pytest.raises(TypeError):
        HalfDone()  # type: ignore[abstract]
    with pytest.raises(TypeError):
        SecretCacheHook()  # type: ignore[abstract]


def test_a_duck_typed_hook_works(
    sm: SecretsManagerClient, make_compat: Callable[..., SecretCache]
) -> None:
    class Plain:
        def put(self, obj: Any) -> Any:
            return obj

        def get(self, cached_obj: Any) -> Any:
            return cached_obj

    sm.create_secret(Name="db", SecretString="v1")
    assert make_compat(secret_cache_hook=Plain()).get_secret_string("db") == "v1"
