"""The reason a plan's loads give (prefetch, a rotation look), for both caches.

The shared plans mark their loads once, for the sync and the async driver alike; the
mark ends with the plan, also when it fails. In-memory sources, the SDK's exporter.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from otel_kit import Telemetry, telemetry_fixture

from secretcache import (
    SecretAccessDeniedError,
    SecretCache,
    SecretCacheError,
    SecretsManagerUnavailableError,
)
from secretcache.aio import AsyncSecretCache
from secretcache.testing import AsyncInMemorySource, InMemorySource

if TYPE_CHECKING:
    from collections.abc import Callable

    from secretcache import BatchPage

__all__ = ["telemetry_fixture"]

SECRETS = {"a": "1", "b": "2", "c": "3"}
FAILED_VERSION = "f" * 32  # a login failed with this version of "a"


def denied() -> SecretAccessDeniedError:
    return SecretAccessDeniedError("batch denied", code="AccessDeniedException")


class NoBatch(InMemorySource):
    """An IAM policy without secretsmanager:BatchGetSecretValue."""

    def batch_get_secret_value(self, **kwargs: Any) -> BatchPage:
        raise denied()


class AsyncNoBatch(AsyncInMemorySource):
    """NoBatch, awaited."""

    async def batch_get_secret_value(self, **kwargs: Any) -> BatchPage:
        raise denied()


def reasons(telemetry: Telemetry) -> list[tuple[str, str, str | None]]:
    return [
        (
            s.name.split(".")[-1],
            str((s.attributes or {})["secretcache.reason"]),
            (s.attributes or {}).get("error.type"),  # type: ignore[misc]
        )
        for s in telemetry.spans()
    ]


def on_both(
    telemetry: Telemetry, source: Callable[[bool], Any], steps: Callable[[Any], Any]
) -> None:
    """Run ``steps`` on an instrumented sync cache, then on an async one: same spans."""
    with SecretCache(source=source(False), ttl=60.0, jitter=0.0) as cache:
        telemetry.instrument(cache)
        steps(cache)
    seen_sync = reasons(telemetry)
    telemetry.exporter.clear()

    async def main() -> None:
        cache = AsyncSecretCache(source=source(True), ttl=60.0, jitter=0.0)
        telemetry.instrument(cache)
        try:
            for call in steps(cache) or ():
                await call
        finally:
            await cache.aclose()

    asyncio.run(main())
    assert reasons(telemetry) == seen_sync


def test_a_denied_batch_reads_each_id_for_prefetch_then_loads_are_loads_again(
    telemetry: Telemetry,
) -> None:
    def steps(cache: Any) -> Any:
        if isinstance(cache, SecretCache):
            cache.prefetch(["a", "b"])
            cache.get_secret("c")
            return None
        return (cache.prefetch(["a", "b"]), cache.get_secret("c"))

    on_both(telemetry, lambda aio: (AsyncNoBatch if aio else NoBatch)(SECRETS), steps)
    spans = reasons(telemetry)
    assert sorted(spans[1:3]) == [("GetSecretValue", "prefetch", None)] * 2
    assert (spans[0], spans[3:]) == (
        ("BatchGetSecretValue", "prefetch", "SecretAccessDeniedError"),
        [("GetSecretValue", "load", None)],
    )


def test_a_failed_rotation_look_ends_its_mark(telemetry: Telemetry) -> None:
    def source(aio: bool) -> Any:
        memory = (AsyncInMemorySource if aio else InMemorySource)(SECRETS)
        memory.fail(
            SecretsManagerUnavailableError("injected outage", code="InternalServiceError"), "a"
        )
        return memory

    def steps(cache: Any) -> Any:
        if isinstance(cache, SecretCache):
            with pytest.raises(SecretCacheError):
                cache.rotation_candidate("a", FAILED_VERSION)
            cache.get_secret("b")
            return None

        async def look_then_read() -> None:
            with pytest.raises(SecretCacheError):
                await cache.rotation_candidate("a", FAILED_VERSION)
            await cache.get_secret("b")

        return (look_then_read(),)

    on_both(telemetry, source, steps)
    assert reasons(telemetry) == [
        ("GetSecretValue", "rotation_look", "SecretsManagerUnavailableError"),
        ("GetSecretValue", "load", None),
    ]
