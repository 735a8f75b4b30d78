"""examples/ec2_service.py end to end: moto, a real PostgreSQL, a rotation mid-traffic.

In process: the service on 127.0.0.1 (port 0) with a refresh-ahead cache on a FakeClock,
four client threads, and a rotation done the rotation Lambda's way. Every response must
be a 200. Out of process: the script itself, on a moto server, stopped with SIGTERM.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import psycopg
import pytest
from moto.server import ThreadedMotoServer

from secretcache import AWSPENDING
from secretcache.testing import FakeClock, finish_rotation, start_rotation

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import ModuleType

    from fixtures_postgres import PostgresCluster
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache import SecretCache

pytestmark = pytest.mark.postgres

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "ec2_service.py"
SECRET_ID = "prod/app/postgres"
CLIENTS = 4
MAX_REQUESTS = 3000  # per client: bounded even if the test's driver hangs
WAIT = 60.0  # seconds a phase may take before the test gives up (a hang guard only)
REFRESHER = "secretcache-refresh-ahead"


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_ec2_service", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


example = _load(SCRIPT)


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


class Clients:
    """Client threads calling GET /query in a loop; every answer is kept with its phase."""

    def __init__(self, url: str) -> None:
        self.url = f"{url}/query"
        self.phase = 0
        self.answers: list[tuple[int, int, dict[str, Any]]] = []  # (phase, status, body)
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.progress = threading.Condition()
        self.threads = [threading.Thread(target=self._run) for _ in range(CLIENTS)]

    def _run(self) -> None:
        for _ in range(MAX_REQUESTS):
            if self.stop.is_set():
                return
            phase = self.phase
            try:
                status, body = _get(self.url)
            except Exception as exc:  # a refused or broken connection is a finding too
                with self.progress:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    self.progress.notify_all()
                continue
            with self.progress:
                self.answers.append((phase if self.phase == phase else -1, status, body))
                self.progress.notify_all()

    @contextmanager
    def step(self, phase: int) -> Iterator[None]:
        """Wrap one rotation step; requests that overlap it belong to no phase."""
        self.phase = -1
        yield
        self.phase = phase

    def in_phase(self, phase: int) -> list[dict[str, Any]]:
        with self.progress:
            return [body for p, _, body in self.answers if p == phase]

    def wait_for(self, count: int, where: Callable[[dict[str, Any]], bool] = bool) -> None:
        """Block until ``count`` answers of the current phase satisfy ``where``."""
        phase = self.phase
        with self.progress:
            done = self.progress.wait_for(
                lambda: sum(1 for p, _, b in self.answers if p == phase and where(b)) >= count,
                timeout=WAIT,
            )
        assert done, f"phase {phase}: {len(self.in_phase(phase))} answers, errors {self.errors}"

    def __enter__(self) -> Clients:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def test_service_answers_only_200s_while_the_password_rotates(
    sm: SecretsManagerClient, postgres: PostgresCluster, make_cache: Callable[..., SecretCache]
) -> None:
    old = sm.create_secret(Name=SECRET_ID, SecretString=json.dumps(postgres.secret("p1")))
    clock = FakeClock()
    threads_before = set(threading.enumerate())
    cache = make_cache(ttl=60.0, clock=clock, refresh_ahead=True)
    refresher = [
        t for t in threading.enumerate() if t.name == REFRESHER and t not in threads_before
    ]
    assert len(refresher) == 1
    service = example.serve(SECRET_ID, cache=cache, port=0, pool_size=4)
    try:
        with Clients(service.url) as clients:
            clients.wait_for(20)
            calls_before = sum(cache.stats().api_calls.values())

            # createSecret, then setSecret; the server's sessions opened with p1 are cut
            # (a failover would do that), so the pool must log in again mid-window.
            with clients.step(1):
                new = start_rotation(sm, SECRET_ID, json.dumps(postgres.secret("p2")))
            clients.wait_for(20)
            with clients.step(2):
                postgres.set_password("p2")
                postgres.terminate_sessions()
            clients.wait_for(20)

            # testSecret (log in with AWSPENDING), then finishSecret. The refresh-ahead
            # thread sees the new AWSCURRENT as the entry nears expiry (fake time: 50 s
            # of a 60 s TTL); its on_rotation event rebuilds the pool.
            pending = sm.get_secret_value(SecretId=SECRET_ID, VersionStage=AWSPENDING)
            fields = json.loads(pending["SecretString"])
            with psycopg.connect(
                host=fields["host"],
                port=fields["port"],
                user=fields["username"],
                password=fields["password"],
                dbname=fields["dbname"],
            ):
                pass
            with clients.step(3):
                finish_rotation(sm, SECRET_ID, new)
                clock.advance(50.0)
            clients.wait_for(20, where=lambda body: body["pool_generation"] == 1)
    finally:
        service.shutdown()

    assert clients.errors == []
    statuses = [status for _, status, _ in clients.answers]
    assert set(statuses) == {200}
    assert {b["secret_version"] for b in clients.in_phase(0) + clients.in_phase(1)} == {
        old["VersionId"]
    }
    # After setSecret every login used AWSPENDING's password: the window was bridged.
    assert {b["secret_version"] for b in clients.in_phase(2)} == {new}
    assert cache.stats().rotations == 1
    calls = cache.stats().api_calls
    during = sum(calls.values()) - calls_before
    print(f"\nec2 service: {len(statuses)} requests, all 200, {during} API calls during rotation")
    assert during <= 4  # AWSPENDING once, AWSCURRENT once, AWSPENDING's refresh once

    # Stopped means stopped: no refresh thread, no listener.
    assert not refresher[0].is_alive()
    with pytest.raises(urllib.error.URLError):
        _get(f"{service.url}/healthz")


def test_health_and_unknown_paths(
    sm: SecretsManagerClient, postgres: PostgresCluster, make_cache: Callable[..., SecretCache]
) -> None:
    sm.create_secret(Name=SECRET_ID, SecretString=json.dumps(postgres.secret("p1")))
    service = example.serve(SECRET_ID, cache=make_cache(refresh_ahead=True), port=0)
    try:
        assert _get(f"{service.url}/healthz") == (200, {"status": "ok"})
        assert _get(f"{service.url}/nope") == (404, {"error": "not found"})
        postgres.set_password("changed-by-hand")  # no rotation explains it: 503, no value
        status, body = _get(f"{service.url}/query")
        assert (status, body) == (503, {"error": "OperationalError"})
    finally:
        service.shutdown()


def test_the_script_stops_cleanly_on_sigterm(postgres: PostgresCluster) -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    proc: subprocess.Popen[str] | None = None
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1")
        client.create_secret(Name=SECRET_ID, SecretString=json.dumps(postgres.secret("p1")))
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": endpoint,
            "SECRET_ID": SECRET_ID,
            "PORT": "0",
            "LOG_LEVEL": "WARNING",
        }
        proc = subprocess.Popen(
            [sys.executable, str(SCRIPT)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert banner.startswith("listening on http://127.0.0.1:"), proc.stderr
        url = banner.split()[-1]
        status, body = _get(f"{url}/query")
        assert (status, body["user"]) == (200, "app")

        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=WAIT)
        assert proc.returncode == 0, err
        assert out == "stopped\n"
        assert "p1" not in err
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.communicate()
        server.stop()
