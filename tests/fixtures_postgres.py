"""A throwaway PostgreSQL cluster for the rotation tests (a pytest plugin).

Registered from conftest.py with ``pytest_plugins = ["fixtures_postgres"]``. The
session-scoped ``postgres_cluster`` fixture runs initdb into a temporary directory,
listens on 127.0.0.1 and a free port only (its unix socket lives in that directory),
and stops and deletes the cluster at the end of the session, also after a failure.
The function-scoped ``postgres`` fixture hands it out with role ``app``'s password
reset to ``p1``. Nothing is skipped: without PostgreSQL binaries the fixture fails with
the command that installs them (``make postgres``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
from psycopg import sql

if TYPE_CHECKING:
    from collections.abc import Iterator

APP_USER = "app"
ALT_USER = "app_alt"  # the second user of the alternating-users rotation
APP_PASSWORD = "p1"  # the password every test starts from
APP_DB = "appdb"
SUPERUSER = "postgres"


@dataclass(frozen=True)
class PostgresCluster:
    """Where the cluster listens, and a superuser to change role ``app``'s password."""

    host: str
    port: int
    dbname: str
    user: str
    socket_dir: str

    @contextmanager
    def superuser(self) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        """Connect as the superuser over the cluster's unix socket (trust auth)."""
        with psycopg.connect(
            host=self.socket_dir, port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        ) as conn:
            yield conn

    def set_password(self, password: str, user: str = APP_USER) -> None:
        """Run ``ALTER ROLE user PASSWORD ...``: what a rotation's setSecret step does."""
        with self.superuser() as conn:
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(user), sql.Literal(password)
                )
            )

    def terminate_sessions(self, user: str = APP_USER) -> int:
        """Close every server session of ``user`` (as a failover would); return how many."""
        with self.superuser() as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (user,),
            ).fetchall()
        return len(rows)

    def failed_logins(self, user: str | None = None) -> int:
        """Count the logins the server refused for their password so far (of ``user``).

        Read from the server's own log (``log_connections = on``): what the server saw,
        whatever the client says.
        """
        log = Path(self.socket_dir) / "server.log"
        text = log.read_text(encoding="utf-8", errors="replace")
        refused = "FATAL:  password authentication failed for user "
        return text.count(refused if user is None else f'{refused}"{user}"')

    def secret(self, password: str = APP_PASSWORD, user: str = APP_USER) -> dict[str, object]:
        """Return the JSON a Secrets Manager database secret holds for ``user``."""
        return {
            "engine": "postgres",
            "host": self.host,
            "port": self.port,
            "username": user,
            "password": password,
            "dbname": self.dbname,
        }


def _bindir() -> Path:
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for path in candidates:
        if (path / "initdb").is_file() and (path / "pg_ctl").is_file():
            return path
    raise RuntimeError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: run `make postgres` "
        "(it installs Debian's postgresql package)"
    )


def _as_owner(argv: list[str]) -> list[str]:
    """Run as user postgres when we are root: initdb and postgres refuse to run as root."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", SUPERUSER, "--", *argv]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(_as_owner(argv), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


START_TRIES = 5


def _start(bindir: Path, data: Path, log: Path) -> int:
    """Start the server on a free port; return the port.

    A port found free is bound by postgres a moment later, and another suite on the same
    machine (a second clone's ``make test``) may take it in between: then postgres logs
    "could not bind" and the start is retried on another port.
    """
    for _ in range(START_TRIES):
        port = _free_port()
        log.unlink(missing_ok=True)  # each try's log says why that try failed
        command = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "120"]
        done = subprocess.run(
            _as_owner([*command, "-o", f"-p {port}", "start"]),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0:
            return port
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        if "could not bind" not in text and "Address already in use" not in text:
            raise RuntimeError(
                f"pg_ctl start failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
            )
    raise RuntimeError(f"pg_ctl start: no free port in {START_TRIES} tries")


@contextmanager
def running_cluster() -> Iterator[PostgresCluster]:
    """Create, start, yield, then stop and delete a PostgreSQL cluster."""
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="secretcache-pg-"))
    data = root / "data"
    log = root / "server.log"
    started = False
    try:
        if os.geteuid() == 0:
            owner = pwd.getpwnam(SUPERUSER)
            os.chown(root, owner.pw_uid, owner.pw_gid)
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ],
            "initdb",
        )
        # Written by us (root may write anywhere); postgres only needs to read them.
        with open(data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(
                "\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{root}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "max_connections = 100\nshared_buffers = 16MB\n"
                "password_encryption = 'scram-sha-256'\n"
                "log_connections = on\n"
            )
        # Superuser over the socket only; role app by password over TCP, so a wrong
        # password fails with SQLSTATE 28P01 like a real RDS login.
        (data / "pg_hba.conf").write_text(
            "local all postgres trust\n"
            f"host all {APP_USER},{ALT_USER} 127.0.0.1/32 scram-sha-256\n"
            "host all all 127.0.0.1/32 reject\n",
            encoding="utf-8",
        )
        started = True
        port = _start(bindir, data, log)
        cluster = PostgresCluster("127.0.0.1", port, APP_DB, APP_USER, str(root))
        with cluster.superuser() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(APP_USER), sql.Literal(APP_PASSWORD)
                )
            )
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(ALT_USER), sql.Literal(APP_PASSWORD)
                )
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(APP_DB), sql.Identifier(APP_USER)
                )
            )
        yield cluster
    except RuntimeError:
        if log.exists():
            print(log.read_text(encoding="utf-8", errors="replace")[-4000:])
        raise
    finally:
        if started:
            subprocess.run(
                _as_owner(
                    [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
                ),
                capture_output=True,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One PostgreSQL cluster for the whole test session."""
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture
def postgres(postgres_cluster: PostgresCluster) -> PostgresCluster:
    """The session's cluster, roles ``app`` and ``app_alt`` on password ``p1``, no sessions."""
    for user in (APP_USER, ALT_USER):
        postgres_cluster.set_password(APP_PASSWORD, user)
        postgres_cluster.terminate_sessions(user)
    return postgres_cluster
