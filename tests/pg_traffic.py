"""Eight threads of database traffic, and a password rotation run while they flow.

``Traffic(query)`` runs ``query()`` in a loop on eight threads; each call opens or
borrows a connection as the code under test does, runs a query and returns the
password its connection logged in with. Every exception is a failed query, counted,
never raised. ``rotate()`` rotates the password of role ``app`` the way a Secrets
Manager rotation function does (createSecret, setSecret, testSecret, finishSecret),
waits for traffic after each step, and counts the logins the server refused meanwhile
(from the server's own log).

Used by the rotation tests and by ``bench/rotation_logins.py``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg

from secretcache import AWSPENDING
from secretcache.testing import finish_rotation, start_rotation

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from fixtures_postgres import PostgresCluster
    from mypy_boto3_secretsmanager import SecretsManagerClient

WORKERS = 8
MAX_QUERIES = 100_000  # per worker: the loop is bounded even if the driver hangs
WAIT = 120.0  # seconds a phase may take before the run gives up (a hang guard only)
PHASES_PER_ROTATION = 3  # after createSecret, after setSecret (the window), after finishSecret


@dataclass
class Worker:
    """What one worker thread saw: per phase, the passwords its queries used."""

    used: dict[int, Counter[str]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def count(self, phase: int) -> int:
        return sum(self.used.get(phase, Counter()).values())


class Traffic:
    """Eight threads running ``query()`` until stopped."""

    def __init__(self, query: Callable[[], str], workers: int = WORKERS) -> None:
        self.query = query
        self.phase = 0
        self.stop = threading.Event()
        self.progress = threading.Condition()
        self.workers = [Worker() for _ in range(workers)]
        self.first_use: dict[str, float] = {}  # password -> when a query first used it
        self.threads = [
            threading.Thread(target=self._run, args=(w,), name=f"db-worker-{i}")
            for i, w in enumerate(self.workers)
        ]

    def _run(self, worker: Worker) -> None:
        for _ in range(MAX_QUERIES):
            if self.stop.is_set():
                return
            phase = self.phase
            try:
                password = self.query()
            except Exception as exc:  # every failure is a finding: keep going, count it
                worker.failures.append(f"phase {phase}: {type(exc).__name__}: {exc}")
            else:
                with self.progress:
                    self.first_use.setdefault(password, time.monotonic())
                    if self.phase == phase:  # count a query only in the phase it ran in
                        worker.used.setdefault(phase, Counter())[password] += 1
            with self.progress:
                self.progress.notify_all()

    @contextmanager
    def step(self, phase: int) -> Iterator[None]:
        """Wrap one rotation step; queries that overlap it belong to no phase."""
        self.phase = -1
        yield
        self.phase = phase

    def wait_for(self, queries: int, password: str | None = None) -> None:
        """Block until every worker ran ``queries`` queries in this phase.

        With ``password``, also until ``queries`` queries of this phase used it.
        """
        phase = self.phase

        def done() -> bool:
            if self.stop.is_set() or not all(t.is_alive() for t in self.threads):
                return True
            if password is not None and self.used(phase)[password] < queries:
                return False
            return all(w.count(phase) >= queries for w in self.workers)

        with self.progress:
            finished = self.progress.wait_for(done, timeout=WAIT)
        counts = [w.count(phase) for w in self.workers]
        assert finished, f"workers stalled in phase {phase}: {counts}"

    def used(self, phase: int) -> Counter[str]:
        """Return password -> queries in ``phase``, over every worker."""
        return sum((w.used.get(phase, Counter()) for w in self.workers), Counter())

    @property
    def queries(self) -> int:
        """Return the queries that succeeded, in every phase."""
        return sum(w.count(phase) for w in self.workers for phase in w.used)

    @property
    def failures(self) -> list[str]:
        """Return every failed query, as 'phase N: Error: message'."""
        return [f for w in self.workers for f in w.failures]

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


@dataclass(frozen=True)
class Rotation:
    """One rotation under traffic: the new version and the logins the server refused."""

    version_id: str
    failed_logins: int
    window: int  # the phase number of the rotation window (after setSecret)


def log_in_with_pending(sm: SecretsManagerClient, pg: PostgresCluster, secret_id: str) -> None:
    """Log in with AWSPENDING as a rotation function's testSecret step does (its own read)."""
    pending = json.loads(
        sm.get_secret_value(SecretId=secret_id, VersionStage=AWSPENDING)["SecretString"]
    )
    with psycopg.connect(
        host=pg.host,
        port=pg.port,
        dbname=pg.dbname,
        user=pending["username"],
        password=pending["password"],
    ) as conn:
        conn.execute("SELECT 1")


def rotate(
    sm: SecretsManagerClient,
    pg: PostgresCluster,
    traffic: Traffic,
    secret_id: str,
    password: str,
    *,
    queries: int = 10,
    on_finish: Callable[[], object] | None = None,
) -> Rotation:
    """Rotate ``secret_id`` to ``password`` as a rotation function does, under traffic.

    Phases: the next one after createSecret, then the window after setSecret, then after
    finishSecret; each lasts until every worker ran ``queries`` queries (and, from
    setSecret on, ``queries`` queries used the new password). ``on_finish`` runs right
    after finishSecret, still inside that step.
    """
    first = traffic.phase + 1
    refused_before = pg.failed_logins()

    # createSecret: a new version with a new password, staged AWSPENDING only.
    with traffic.step(first):
        version_id = start_rotation(sm, secret_id, json.dumps(pg.secret(password)))
    traffic.wait_for(queries)

    # setSecret: the database now refuses the old password; AWSCURRENT still holds it.
    with traffic.step(first + 1):
        pg.set_password(password)
    traffic.wait_for(queries, password)

    log_in_with_pending(sm, pg, secret_id)  # testSecret

    # finishSecret: AWSCURRENT moves to the new version.
    with traffic.step(first + 2):
        finish_rotation(sm, secret_id, version_id)
        if on_finish is not None:
            on_finish()
    traffic.wait_for(queries, password)
    return Rotation(version_id, pg.failed_logins() - refused_before, first + 1)
