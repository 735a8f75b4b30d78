"""Many threads, one compat cache: one request per miss, no reader waits on a refresh."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from test_single_flight import _run_threads

from secretcache.testing import rotate_secret

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import CallLog
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache.compat import SecretCache
    from secretcache.testing import FakeClock


def test_32_threads_missing_one_secret_make_one_request_of_each_kind(
    sm: SecretsManagerClient,
    calls: CallLog,
    slow_network: Callable[[float], None],
    make_compat: Callable[..., SecretCache],
) -> None:
    sm.create_secret(Name="db", SecretString="v1")
    cache = make_compat()
    slow_network(0.05)
    results = _run_threads(32, lambda: cache.get_secret_string("db"))
    assert results == ["v1"] * 32
    assert calls.operations == ["DescribeSecret", "GetSecretValue"]


def test_an_expired_secret_is_revalidated_once_while_the_others_read_on(
    sm: SecretsManagerClient,
    clock: FakeClock,
    calls: CallLog,
    make_compat: Callable[..., SecretCache],
) -> None:
    sm.create_secret(Name="db", SecretString="v1")
    cache = make_compat(secret_refresh_interval=60)
    cache.get_secret_string("db")
    rotate_secret(sm, "db", "v2")
    clock.advance(61)
    calls.clear()
    inside, release = threading.Event(), threading.Event()

    def hold(**kwargs: Any) -> None:
        inside.set()
        assert release.wait(10)

    sm.meta.events.register("before-send.secrets-manager.DescribeSecret", hold, unique_id="hold")
    refresher = threading.Thread(target=cache.get_secret_string, args=("db",))
    refresher.start()
    try:
        assert inside.wait(10)
        # The refresh is in flight: every other reader gets the cached value at once.
        assert _run_threads(32, lambda: cache.get_secret_string("db")) == ["v1"] * 32
    finally:
        release.set()
        refresher.join()
        sm.meta.events.unregister("before-send.secrets-manager.DescribeSecret", unique_id="hold")
    assert cache.get_secret_string("db") == "v2"
    assert calls.operations == ["DescribeSecret", "GetSecretValue"]


def test_readers_and_rotations_interleaved(
    sm: SecretsManagerClient, clock: FakeClock, make_compat: Callable[..., SecretCache]
) -> None:
    names = [f"s{i}" for i in range(5)]
    for name in names:
        sm.create_secret(Name=name, SecretString=f"{name}-0")
    cache = make_compat(secret_refresh_interval=10, max_cache_size=3)
    stop = threading.Event()
    seen: list[Any] = []

    def reader(offset: int) -> None:
        index = offset
        while not stop.is_set():
            name = names[index % len(names)]
            index += 1
            try:
                value = cache.get_secret_string(name)
            except Exception as exc:
                seen.append(exc)
                return
            if value is None or not value.startswith(f"{name}-"):
                seen.append(value)
                return

    workers = [threading.Thread(target=reader, args=(i,)) for i in range(8)]
    for worker in workers:
        worker.start()
    try:
        for generation in range(1, 6):
            for name in names:
                rotate_secret(sm, name, f"{name}-{generation}")
            clock.advance(11)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert seen == []  # never an error, a None or another secret's value
    clock.advance(11)
    assert [cache.get_secret_string(name) for name in names] == [f"{n}-5" for n in names]
