"""Single-flight: one API call per key however many threads ask; stale-while-revalidate."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from secretcache import SecretCache, SecretsManagerThrottledError
from secretcache.testing import FakeClock, InMemorySource

if TYPE_CHECKING:
    from collections.abc import Callable

    from secretcache import Secret

# Bounded real waits for threads; a correct cache finishes far sooner.
WAIT = 60.0  # a hang guard, not a speed limit


class GatedSource(InMemorySource):
    """An InMemorySource whose GetSecretValue holds until the test opens the gate.

    With ``read_first`` it reads the value, then holds: a response on the wire.
    """

    def __init__(self, secrets: dict[str, str], *, read_first: bool = False) -> None:
        super().__init__(secrets)
        self.gate = threading.Event()
        self.entered = threading.Semaphore(0)
        self.read_first = read_first

    def get_secret_value(self, secret_id: str, **kwargs: Any) -> Secret:
        read = super().get_secret_value(secret_id, **kwargs) if self.read_first else None
        self.entered.release()
        assert self.gate.wait(WAIT), "the gate was never opened"
        return read or super().get_secret_value(secret_id, **kwargs)


def _run_threads(n: int, target: Callable[[], object]) -> list[object]:
    results: list[object] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n)

    def run() -> None:
        barrier.wait()
        try:
            value = target()
        except Exception as exc:  # collected for the assertions
            value = exc
        with lock:
            results.append(value)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert not any(t.is_alive() for t in threads)
    return results


def test_32_threads_on_a_cold_key_make_one_call() -> None:
    source = InMemorySource({"db": "v1"}, latency=0.05)
    cache = SecretCache(source=source, clock=FakeClock())
    results = _run_threads(32, lambda: cache.get_secret_string("db"))
    assert results == ["v1"] * 32
    assert source.calls == {"GetSecretValue": 1}
    assert cache.stats().api_calls == {"GetSecretValue": 1}


def test_waiters_share_the_error_of_the_one_call() -> None:
    source = InMemorySource({"db": "v1"}, latency=0.05)
    source.fail(SecretsManagerThrottledError("slow down", code="ThrottlingException"))
    cache = SecretCache(source=source, clock=FakeClock())
    results = _run_threads(16, lambda: cache.get_secret_string("db"))
    assert len(results) == 16
    assert all(isinstance(r, SecretsManagerThrottledError) for r in results)
    assert source.calls == {"GetSecretValue": 1}
    # Each waiter gets its own copy: raising one never grows another's traceback.
    assert len({id(r) for r in results}) == 16


def test_16_readers_on_an_expired_key_one_revalidates_the_rest_read_stale() -> None:
    source = GatedSource({"db": "v1"})
    clock = FakeClock()
    cache = SecretCache(source=source, clock=clock, ttl=60, jitter=0)
    source.gate.set()
    assert cache.get_secret_string("db") == "v1"
    source.entered.acquire()
    source.gate.clear()
    source.rotate("db", "v2")
    clock.advance(61)

    done = threading.Semaphore(0)
    results: list[str] = []

    def read() -> None:
        results.append(cache.get_secret_string("db"))
        done.release()

    threads = [threading.Thread(target=read) for _ in range(16)]
    for t in threads:
        t.start()
    assert source.entered.acquire(timeout=WAIT)  # one reader is revalidating...
    for _ in range(15):  # ...while the 15 others return, the gate still closed
        assert done.acquire(timeout=WAIT), "a reader waited on the revalidation"
    assert results == ["v1"] * 15
    source.gate.set()
    for t in threads:
        t.join(WAIT)
    assert results[-1] == "v2"
    assert source.calls == {"GetSecretValue": 2}
    assert cache.stats().stale_served == 15
    assert cache.get_secret_string("db") == "v2"


def test_a_cold_key_blocks_until_the_one_load_lands() -> None:
    source = GatedSource({"db": "v1"})
    cache = SecretCache(source=source, clock=FakeClock())
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get_secret_string("db")))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    assert source.entered.acquire(timeout=WAIT)
    assert results == []  # nothing to serve yet: everyone waits
    source.gate.set()
    for t in threads:
        t.join(WAIT)
    assert results == ["v1"] * 4
    assert source.calls == {"GetSecretValue": 1}


def test_refresh_joins_a_refresh_in_flight() -> None:
    source = GatedSource({"db": "v1"})
    cache = SecretCache(source=source, clock=FakeClock())
    source.gate.set()
    cache.get_secret_string("db")
    source.entered.acquire()
    source.gate.clear()
    source.rotate("db", "v2")
    outcomes: list[bool] = []
    first = threading.Thread(target=lambda: outcomes.append(cache.refresh("db")))
    first.start()
    assert source.entered.acquire(timeout=WAIT)
    second = threading.Thread(target=lambda: outcomes.append(cache.refresh("db")))
    second.start()
    second.join(0.2)  # it is parked on the flight, not on a second call
    assert second.is_alive()
    assert not source.entered.acquire(blocking=False)
    source.gate.set()
    first.join(WAIT)
    second.join(WAIT)
    assert source.calls == {"GetSecretValue": 2}  # the first read and one refresh
    assert outcomes == [True, True]


def test_refresh_never_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    source = InMemorySource({"db": "v1"})
    cache = SecretCache(source=source, clock=FakeClock())
    cache.get_secret_string("db")
    source.fail(SecretsManagerThrottledError("slow", code="ThrottlingException"))

    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"refresh() slept {seconds}s")

    monkeypatch.setattr(time, "sleep", no_sleep)
    with pytest.raises(SecretsManagerThrottledError):
        cache.refresh("db")
    # Inside the backoff step: the remembered error, at once, with no second call.
    with pytest.raises(SecretsManagerThrottledError):
        cache.refresh("db")
    assert source.calls == {"GetSecretValue": 2}
    assert cache.get_secret_string("db") == "v1"


def test_invalidating_another_key_keeps_a_load_in_flight() -> None:
    source = GatedSource({"a": "old", "b": "b"})
    cache = SecretCache(source=source, clock=FakeClock())
    source.gate.set()
    cache.get_secret_string("a")
    cache.get_secret_string("b")
    for _ in range(2):
        source.entered.acquire()
    source.gate.clear()
    source.rotate("a", "new")
    changed: list[bool] = []
    refresher = threading.Thread(target=lambda: changed.append(cache.refresh("a")))
    refresher.start()
    assert source.entered.acquire(timeout=WAIT)
    cache.invalidate("b")
    source.gate.set()
    refresher.join(WAIT)
    assert changed == [True]
    assert cache.get_secret_string("a") == "new"
    assert source.calls == {"GetSecretValue": 3}


def test_invalidating_the_key_itself_discards_the_load_in_flight() -> None:
    source = GatedSource({"a": "old"}, read_first=True)
    cache = SecretCache(source=source, clock=FakeClock())
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(cache.get_secret_string("a")))
    reader.start()
    assert source.entered.acquire(timeout=WAIT)
    source.rotate("a", "new")  # changed while the first read was on the wire
    cache.invalidate("a")
    source.gate.set()
    reader.join(WAIT)
    assert got == ["old"]  # the caller gets what it fetched...
    assert cache.get_secret_string("a") == "new"  # ...but the cache does not keep it
    assert source.calls == {"GetSecretValue": 2}


def test_waiters_retry_when_the_loader_is_interrupted() -> None:
    class InterruptOnce(GatedSource):
        interrupted = False

        def get_secret_value(self, secret_id: str, **kwargs: Any) -> Secret:
            if not self.interrupted:
                self.interrupted = True
                self.entered.release()
                assert self.gate.wait(WAIT)
                raise KeyboardInterrupt
            return InMemorySource.get_secret_value(self, secret_id, **kwargs)

    source = InterruptOnce({"db": "v1"})
    cache = SecretCache(source=source, clock=FakeClock())
    outcomes: list[object] = []

    def read() -> None:
        try:
            outcomes.append(cache.get_secret_string("db"))
        except KeyboardInterrupt as exc:
            outcomes.append(exc)

    loader = threading.Thread(target=read)
    loader.start()
    assert source.entered.acquire(timeout=WAIT)
    waiter = threading.Thread(target=read)
    waiter.start()
    waiter.join(0.1)  # parked on the loader's flight
    source.gate.set()
    loader.join(WAIT)
    waiter.join(WAIT)
    # Only the interrupted thread sees the interrupt; the waiter loads for itself.
    assert sorted(type(o).__name__ for o in outcomes) == ["KeyboardInterrupt", "str"]
    assert "v1" in outcomes


def test_a_read_after_invalidate_does_not_join_the_load_sent_before_it() -> None:
    source = GatedSource({"a": "old"}, read_first=True)
    cache = SecretCache(source=source, clock=FakeClock())
    got: dict[str, str] = {}
    first = threading.Thread(target=lambda: got.update(first=cache.get_secret_string("a")))
    first.start()
    assert source.entered.acquire(timeout=WAIT)  # "old" is on the wire
    source.rotate("a", "new")
    cache.invalidate("a")  # e.g. told of the rotation by an EventBridge rule
    second = threading.Thread(target=lambda: got.update(second=cache.get_secret_string("a")))
    second.start()
    assert source.entered.acquire(timeout=WAIT)  # a load of its own, not the old one's
    source.gate.set()
    first.join(WAIT)
    second.join(WAIT)
    assert got == {"first": "old", "second": "new"}
    assert cache.get_secret_string("a") == "new"
    assert source.calls == {"GetSecretValue": 2}


def test_refresh_joining_a_load_that_fails_raises_while_readers_get_stale() -> None:
    source = GatedSource({"db": "v1"})
    clock = FakeClock()
    cache = SecretCache(source=source, clock=clock, ttl=60, jitter=0)
    source.gate.set()
    cache.get_secret_string("db")
    assert source.entered.acquire(timeout=WAIT)
    source.gate.clear()
    clock.advance(61)  # expired, within max_stale
    source.fail(SecretsManagerThrottledError("slow down", code="ThrottlingException"))
    outcomes: dict[str, object] = {}

    def run(name: str, call: Callable[[], object]) -> None:
        try:
            outcomes[name] = call()
        except SecretsManagerThrottledError as exc:
            outcomes[name] = exc

    reader = threading.Thread(target=run, args=("get", lambda: cache.get_secret_string("db")))
    reader.start()
    assert source.entered.acquire(timeout=WAIT)  # the reader's revalidation is on the wire
    refresher = threading.Thread(target=run, args=("refresh", lambda: cache.refresh("db")))
    refresher.start()
    refresher.join(0.1)  # parked on the reader's load (or, if late, in its backoff)
    source.gate.set()
    reader.join(WAIT)
    refresher.join(WAIT)
    assert outcomes["get"] == "v1"  # a reader is served stale...
    # ...but refresh() asked for a fetch: it says the fetch failed, not "no change".
    assert isinstance(outcomes["refresh"], SecretsManagerThrottledError)
    assert source.calls == {"GetSecretValue": 2}
