"""Fixtures for the Lambda extension's source: an ExtensionEmulator on moto, its caches.

``emulator`` listens on 127.0.0.1 (a free port) in front of the test's moto client,
with its own TTL on the test's FakeClock; ``ext_cache`` builds SecretCaches reading
through it (ttl 60 s, no jitter, not-ready retries cut to 0.2 s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from secretcache import ExtensionSource, SecretCache
from secretcache.testing import ExtensionEmulator

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache.testing import FakeClock


@pytest.fixture
def emulator(sm: SecretsManagerClient, clock: FakeClock) -> Iterator[ExtensionEmulator]:
    """An ExtensionEmulator over the moto client; its cache keeps answers 300 s."""
    with ExtensionEmulator(client=sm, ttl=300.0, clock=clock) as emu:
        yield emu


@pytest.fixture
def ext_source(emulator: ExtensionEmulator, clock: FakeClock) -> Callable[..., ExtensionSource]:
    """Build ExtensionSources pointed at the emulator (explicit endpoint and token)."""

    def make(**kwargs: Any) -> ExtensionSource:
        kwargs.setdefault("token", emulator.token)
        kwargs.setdefault("ready_timeout", 0.2)
        kwargs.setdefault("clock", clock)
        return ExtensionSource(emulator.endpoint, **kwargs)

    return make


@pytest.fixture
def ext_cache(
    ext_source: Callable[..., ExtensionSource], clock: FakeClock
) -> Iterator[Callable[..., SecretCache]]:
    """Build SecretCaches reading through the emulator (ttl 60 s, no jitter)."""
    built: list[SecretCache] = []

    def make(source: ExtensionSource | None = None, **kwargs: Any) -> SecretCache:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("ttl", 60.0)
        kwargs.setdefault("jitter", 0.0)
        cache = SecretCache(source=source or ext_source(), **kwargs)
        built.append(cache)
        return cache

    yield make
    for cache in built:
        cache.close()
