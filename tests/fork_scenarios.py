"""Fork scenarios, each run in a fresh process by tests/test_fork.py (a "master").

The master is single-threaded until it means not to be, as a gunicorn master is, and
forks with ``os.fork()``. Each scenario prints one JSON document: what the children
saw. Usage::

    python tests/fork_scenarios.py crosstalk ENDPOINT_URL ROUNDS
    python tests/fork_scenarios.py compat-crosstalk ENDPOINT_URL ROUNDS
    python tests/fork_scenarios.py inflight
    python tests/fork_scenarios.py refresh-ahead
    python tests/fork_scenarios.py refresh-ahead-hit
    python tests/fork_scenarios.py pool ENDPOINT_URL
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import threading
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from keepalive_endpoint import value_of

from secretcache import SecretCache, SecretCacheError
from secretcache.testing import FakeClock, InMemorySource

if TYPE_CHECKING:
    from collections.abc import Callable

# Seconds a child may take before it counts as hung: a hang guard, not a speed limit
# (a loaded machine running two suites at once can stall a child for many seconds).
CHILD_TIMEOUT = 120.0


def _fork(work: Callable[[], Any], go: int | None = None) -> tuple[int, int]:
    """Fork a child that waits for a byte on ``go`` (if given), runs ``work``, reports."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_end)
        try:
            if go is not None:
                os.read(go, 1)
            result = {"ok": work()}
        except BaseException as exc:
            result = {"error": f"{type(exc).__name__}: {exc}"}
        os.write(write_end, json.dumps(result).encode())
        os._exit(0)
    os.close(write_end)
    return pid, read_end


def _collect(pid: int, read_end: int) -> dict[str, Any]:
    """Read a child's report; a child silent past the timeout is killed and 'hung'."""
    deadline = time.monotonic() + CHILD_TIMEOUT
    chunks = []
    os.set_blocking(read_end, False)
    while True:
        try:
            chunk = os.read(read_end, 65536)
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                os.close(read_end)
                return {"hung": True}
            time.sleep(0.01)
            continue
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    return dict(json.loads(b"".join(chunks)))


def crosstalk(rounds: int, make: Callable[[], Any] = SecretCache) -> dict[str, Any]:
    """A master reads one secret, then two children read two others at the same moment."""
    wrong, errors, reads = 0, [], 0
    for _ in range(rounds):
        cache = make()  # the default client: built here, pooled, keep-alive
        cache.get_secret_string("warm-up")
        go_read, go_write = os.pipe()
        children = [
            _fork(partial(cache.get_secret_string, sid), go_read)
            for sid in ("db-password", "api-token")
        ]
        os.write(go_write, b"xx")  # both at once
        for sid, (pid, read_end) in zip(("db-password", "api-token"), children, strict=True):
            report = _collect(pid, read_end)
            reads += 1
            if "ok" in report:
                wrong += report["ok"] != value_of(sid)
            else:
                errors.append(report)
        os.close(go_read)
        os.close(go_write)
    return {"reads": reads, "wrong": wrong, "errors": errors}


class _GatedSource(InMemorySource):
    """An in-memory source whose reads, while ``gated``, stay on the wire until ``gate`` opens."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.gated = False
        self.gate = threading.Event()
        self.entered = threading.Event()

    def get_secret_value(self, secret_id: str, **kwargs: Any) -> Any:
        if self.gated:
            self.entered.set()
            self.gate.wait()
        return super().get_secret_value(secret_id, **kwargs)


def inflight() -> dict[str, Any]:
    """Fork while the master's load is in flight; the child must not wait for it.

    The master's load stays on the wire until the child has reported: a child that
    waited for it would never report (and be killed as hung), however fast the machine.
    """
    clock = FakeClock()
    source = _GatedSource({"db": "v1"})
    cache = SecretCache(source=source, clock=clock, ttl=10, max_stale=5, jitter=0)
    cache.get_secret_string("db")  # cached
    source.gated = True
    clock.advance(10)  # expired: the next read revalidates while others read stale
    loading = threading.Thread(target=cache.refresh, args=("db",))
    loading.start()
    assert source.entered.wait(CHILD_TIMEOUT)  # the load is in flight now

    def child() -> dict[str, Any]:
        source.gated = False
        changed = cache.refresh("db")
        clock.advance(10)  # past max_stale: a read must load, not wait for the parent's load
        value = cache.get_secret_string("db")
        return {"refreshed": changed, "value": value}

    try:
        report = _collect(*_fork(child))
        report["parent_load_in_flight"] = loading.is_alive()
    finally:
        source.gate.set()
    loading.join()
    return report


def refresh_ahead() -> dict[str, Any]:
    """A master with refresh-ahead forks: the child gets its own thread on first use."""
    source = InMemorySource({"a": "1", "b": "2"})
    cache = SecretCache(source=source, refresh_ahead=True, ttl=60)
    cache.get_secret_string("a")

    def child() -> dict[str, Any]:
        def running() -> int:
            return sum(t.name == "secretcache-refresh-ahead" for t in threading.enumerate())

        before = running()
        cache.get_secret_string("b")  # a miss: first use in this process
        after = running()
        cache.close()
        return {"before": before, "after": after}

    report = _collect(*_fork(child))
    cache.close()
    return report


def refresh_ahead_hit() -> dict[str, Any]:
    """The child's first read is a hit: refresh-ahead must restart on it all the same."""
    source = InMemorySource({"a": "1"})
    clock = FakeClock()
    # ttl 1 s: the thread polls every 50 ms and refreshes within 0.5 s of expiry.
    cache = SecretCache(
        source=source, clock=clock, ttl=1.0, jitter=0, cold_jitter=0, refresh_ahead=True
    )
    cache.get_secret_string("a")

    def child() -> dict[str, Any]:
        before = _refreshers()
        cache.get_secret_string("a")  # a hit: the first read in this process
        after = _refreshers()
        misses = cache.stats().misses
        clock.advance(0.6)  # inside the refresh-ahead window
        deadline = time.monotonic() + CHILD_TIMEOUT / 2
        while cache.stats().refreshes == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        clock.advance(0.5)  # past the inherited entry's expiry
        source.latency = 0.4  # a load now would block the reader for 0.4 s
        started = time.monotonic()
        cache.get_secret_string("a")
        seconds = time.monotonic() - started
        report = {
            "before": before,
            "after": after,
            "refreshes": cache.stats().refreshes,
            "misses": cache.stats().misses - misses,
            "read_seconds": round(seconds, 3),  # reported, not judged: counts decide
        }
        cache.close()
        return report

    report = _collect(*_fork(child))
    cache.close()
    return report


def _refreshers() -> int:
    return sum(t.name == "secretcache-refresh-ahead" for t in threading.enumerate())


_pool_cache: SecretCache | None = None


def _pool_read(secret_id: str) -> str:
    assert _pool_cache is not None
    try:
        return _pool_cache.get_secret_string(secret_id)
    except SecretCacheError as exc:
        return f"error: {type(exc).__name__}: {exc}"


def pool() -> dict[str, Any]:
    """A module-level cache used before multiprocessing forks its pool of workers."""
    global _pool_cache
    _pool_cache = SecretCache()
    _pool_cache.get_secret_string("warm-up")
    ids = [f"tenant-{n}" for n in range(40)]
    with multiprocessing.get_context("fork").Pool(4) as workers:
        got = workers.map(_pool_read, ids, chunksize=1)
    wrong = [(sid, value) for sid, value in zip(ids, got, strict=True) if value != value_of(sid)]
    return {"reads": len(ids), "wrong": len(wrong), "examples": wrong[:3]}


def main(argv: list[str]) -> int:
    """Run one scenario; print its JSON report."""
    name = argv[0]
    if name in ("crosstalk", "compat-crosstalk", "pool"):
        os.environ["AWS_ENDPOINT_URL"] = argv[1]
    if name == "crosstalk":
        report = crosstalk(int(argv[2]))
    elif name == "compat-crosstalk":
        from secretcache import compat

        report = crosstalk(int(argv[2]), compat.SecretCache)
    elif name == "inflight":
        report = inflight()
    elif name == "refresh-ahead":
        report = refresh_ahead()
    elif name == "refresh-ahead-hit":
        report = refresh_ahead_hit()
    elif name == "pool":
        report = pool()
    else:
        raise SystemExit(f"unknown scenario {name}")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
