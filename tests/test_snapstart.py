"""SnapStart: after a snapshot restore, no pre-snapshot value is served unrevalidated."""

from __future__ import annotations

import asyncio
import sys
import types
from typing import TYPE_CHECKING, Any

import pytest

from secretcache import SecretCache, SecretsManagerUnavailableError
from secretcache.aio import AsyncSecretCache
from secretcache.testing import FakeClock, InMemorySource

if TYPE_CHECKING:
    from collections.abc import Callable

    from secretcache import Secret


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> list[Callable[[], object]]:
    """Stand in for the Lambda runtime's snapshot_restore_py; collect registered hooks."""
    registered: list[Callable[[], object]] = []
    module = types.ModuleType("snapshot_restore_py")
    module.register_after_restore = registered.append  # type: ignore[attr-defined]
    module.register_before_snapshot = lambda hook: None  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", module)
    return registered


def test_restore_makes_the_next_read_revalidate(hooks: list[Callable[[], object]]) -> None:
    source = InMemorySource({"db": "before"})
    clock = FakeClock()
    cache = SecretCache(source=source, clock=clock, ttl=300)
    assert len(hooks) == 1
    assert cache.get_secret_string("db") == "before"
    source.rotate("db", "after")  # rotated while the snapshot sat on disk
    hooks[0]()
    assert cache.get_secret_string("db") == "after"
    assert source.calls["GetSecretValue"] == 2
    assert cache.get_secret_string("db") == "after"
    assert source.calls["GetSecretValue"] == 2


def test_no_pre_snapshot_value_is_served_even_if_the_source_is_down(
    hooks: list[Callable[[], object]],
) -> None:
    source = InMemorySource({"db": "before"})
    cache = SecretCache(source=source, clock=FakeClock(), ttl=300, max_stale=None)
    cache.get_secret_string("db")
    hooks[0]()
    source.fail(SecretsManagerUnavailableError("down", code="InternalServiceError"))
    with pytest.raises(SecretsManagerUnavailableError):
        cache.get_secret_string("db")


def test_the_hook_does_not_keep_a_cache_alive(hooks: list[Callable[[], object]]) -> None:
    import gc
    import weakref

    cache = SecretCache(source=InMemorySource({"db": "v"}), clock=FakeClock())
    ref = weakref.ref(cache)
    del cache
    gc.collect()
    assert ref() is None
    hooks[0]()  # a hook outliving its cache is harmless


def test_without_the_runtime_nothing_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import fails
    cache = SecretCache(source=InMemorySource({"db": "v"}), clock=FakeClock())
    assert cache.get_secret_string("db") == "v"


class _AsyncSource:
    """InMemorySource's reads as coroutines, for an AsyncSecretCache."""

    def __init__(self, inner: InMemorySource) -> None:
        self.inner = inner

    async def get_secret_value(self, secret_id: str, **kwargs: Any) -> Secret:
        return self.inner.get_secret_value(secret_id, **kwargs)


def test_an_async_cache_registers_the_same_hook(hooks: list[Callable[[], object]]) -> None:
    source = InMemorySource({"db": "before"})
    cache = AsyncSecretCache(source=_AsyncSource(source), clock=FakeClock(), ttl=300)  # type: ignore[arg-type]
    assert len(hooks) == 1

    async def read() -> str:
        return await cache.get_secret_string("db")

    assert asyncio.run(read()) == "before"
    source.rotate("db", "after")
    hooks[0]()
    assert asyncio.run(read()) == "after"
    assert source.calls["GetSecretValue"] == 2


def test_many_caches_share_one_hook(hooks: list[Callable[[], object]]) -> None:
    source = InMemorySource({"db": "before"})
    caches = [SecretCache(source=source, clock=FakeClock(), ttl=300) for _ in range(3)]
    assert len(hooks) == 1  # the runtime keeps hooks for good: one, not one per cache
    for cache in caches:
        cache.get_secret_string("db")
    source.rotate("db", "after")
    hooks[0]()
    assert [cache.get_secret_string("db") for cache in caches] == ["after"] * 3
