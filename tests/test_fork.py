"""A cache used before fork() works in the child as if new: gunicorn --preload, multiprocessing.

Each scenario runs in a fresh master process (tests/fork_scenarios.py) that really
forks. The cross-talk ones talk to a keep-alive Secrets Manager stand-in on loopback
(tests/keepalive_endpoint.py): moto's server closes every connection, so it could not
show two children sharing the master's pooled connection.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from keepalive_endpoint import KeepAliveEndpoint, value_of

if TYPE_CHECKING:
    from collections.abc import Iterator

HERE = Path(__file__).resolve().parent
ROUNDS = 20

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() on this platform")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONPATH=os.pathsep.join([str(HERE), *sys.path]),
        **extra,
    )
    return env


def _scenario(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(HERE / "fork_scenarios.py"), *args],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.fixture
def endpoint() -> Iterator[KeepAliveEndpoint]:
    with KeepAliveEndpoint(delay=0.1) as ep:
        yield ep


def test_forked_children_never_read_each_others_secrets(endpoint: KeepAliveEndpoint) -> None:
    report = _scenario("crosstalk", endpoint.url, str(ROUNDS))
    print(f"\n{ROUNDS} rounds: {report['reads']} reads, {report['wrong']} wrong")
    assert report["reads"] == 2 * ROUNDS
    assert report["errors"] == []
    assert report["wrong"] == 0
    # The master's connection, plus one per child: none was shared.
    assert endpoint.connections == 3 * ROUNDS


def test_compat_forked_children_never_read_each_others_secrets(
    endpoint: KeepAliveEndpoint,
) -> None:
    # secretcache.compat builds its client at construction, as the official package does.
    report = _scenario("compat-crosstalk", endpoint.url, str(ROUNDS))
    assert report["reads"] == 2 * ROUNDS
    assert report["errors"] == []
    assert report["wrong"] == 0


def test_a_multiprocessing_pool_reads_its_own_secrets(endpoint: KeepAliveEndpoint) -> None:
    report = _scenario("pool", endpoint.url)
    assert report["reads"] == 40
    assert report["wrong"] == 0, report["examples"]


def test_a_child_forked_mid_load_neither_hangs_nor_waits_for_it() -> None:
    report = _scenario("inflight")
    assert "hung" not in report, "the child waited for a load its parent's thread ran"
    assert report["ok"]["value"] == "v1"
    assert report["parent_load_in_flight"]  # the child finished while it was still on the wire


def test_refresh_ahead_restarts_in_the_child_on_first_use() -> None:
    report = _scenario("refresh-ahead")
    assert report["ok"] == {"before": 0, "after": 1}


def test_refresh_ahead_restarts_in_the_child_on_a_hit_too() -> None:
    report = _scenario("refresh-ahead-hit")
    print(f"\nthe child's read past the inherited expiry took {report['ok']['read_seconds']} s")
    ok = report["ok"]
    assert (ok["before"], ok["after"]) == (0, 1)  # started by a hit
    assert ok["refreshes"] >= 1  # by the child's own thread, before expiry
    assert ok["misses"] == 0  # so no reader of the child ever waited for a load


def test_gunicorn_preload_workers_serve_their_own_secrets(endpoint: KeepAliveEndpoint) -> None:
    # gunicorn serves a socket bound here (fd://): a port looked up free and bound later
    # could be taken meanwhile by another suite running on the same machine.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = int(listener.getsockname()[1])
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--preload",
            "--workers",
            "4",
            "--bind",
            f"fd://{listener.fileno()}",
            "--chdir",
            str(HERE),
            "gunicorn_app:app",
        ],
        env=_env(AWS_ENDPOINT_URL=endpoint.url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        pass_fds=(listener.fileno(),),
    )
    listener.close()  # gunicorn holds its own copy
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120  # a hang guard: a loaded machine starts slowly
        while True:
            try:
                urllib.request.urlopen(f"{base}/warm-up", timeout=5).read()
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        ids = [f"tenant-{n}" for n in range(200)]

        def fetch(secret_id: str) -> str:
            with urllib.request.urlopen(f"{base}/{secret_id}", timeout=120) as answer:
                return str(answer.read().decode())

        with ThreadPoolExecutor(16) as pool:
            got = list(pool.map(fetch, ids))
    finally:
        server.terminate()
        server.wait(timeout=30)
        assert server.stderr is not None
        server.stderr.close()
    wrong = [(sid, value) for sid, value in zip(ids, got, strict=True) if value != value_of(sid)]
    print(f"\ngunicorn --preload -w 4: {len(ids)} requests, {len(wrong)} wrong")
    assert wrong == []
