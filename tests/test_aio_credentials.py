"""AsyncSecretCache renews expired credentials as SecretCache does; a revoked key stays revoked.

The default aiobotocore client reads its credentials from the shared credentials file,
and the loopback Secrets Manager stand-in (tests/keepalive_endpoint.py) answers requests
signed with a key it was told is expired or revoked the way AWS does. Everything runs in
one event loop, as a long-running service does: a new loop would build a new client
anyway and hide a client that is never renewed.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from keepalive_endpoint import KeepAliveEndpoint, value_of
from test_credentials import _write_key, credentials_file, endpoint

from secretcache import SecretCredentialsError
from secretcache.aio import AsyncSecretCache
from secretcache.testing import FakeClock

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

__all__ = ["credentials_file", "endpoint"]

TTL = 60.0


def _in_one_loop(
    endpoint: KeepAliveEndpoint,
    key_state: str,
    then: Callable[[AsyncSecretCache, FakeClock], Awaitable[None]],
) -> AsyncSecretCache:
    """Read once, have the endpoint treat the key as ``key_state``, expire, run ``then``."""
    clock = FakeClock()
    cache = AsyncSecretCache(clock=clock, ttl=TTL, jitter=0.0, max_stale=900.0)

    async def service() -> None:
        assert await cache.get_secret_string("db") == value_of("db")
        endpoint.key_states["AKIDOLD"] = key_state
        clock.advance(TTL)
        await then(cache, clock)
        await cache.aclose()

    asyncio.run(service())
    return cache


def test_expired_credentials_are_renewed_within_one_event_loop(
    endpoint: KeepAliveEndpoint, credentials_file: Path
) -> None:
    async def then(cache: AsyncSecretCache, clock: FakeClock) -> None:
        assert await cache.get_secret_string("db") == value_of("db")  # stale, while it fails
        _write_key(credentials_file, "AKIDNEW")  # the credentials process wrote new ones
        for minutes in (1, 5, 30):  # far past max_stale: only a renewed client answers
            clock.advance(minutes * 60.0)
            assert await cache.get_secret_string("db") == value_of("db")

    cache = _in_one_loop(endpoint, "expired", then)
    assert endpoint.keys_seen[-1] == "AKIDNEW"
    assert cache.stats().errors == 1  # one failed load, then the renewed client answered


def test_a_revoked_key_stays_a_revocation_for_the_async_cache(
    endpoint: KeepAliveEndpoint, credentials_file: Path
) -> None:
    async def then(cache: AsyncSecretCache, clock: FakeClock) -> None:
        with pytest.raises(SecretCredentialsError) as raised:
            await cache.get_secret_string("db")
        assert raised.value.code == "UnrecognizedClientException"

    cache = _in_one_loop(endpoint, "revoked", then)  # deactivated in IAM
    assert cache.stats().stale_served == 0
