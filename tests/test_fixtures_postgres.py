"""The throwaway cluster starts even when its port is taken first (two suites at once)."""

from __future__ import annotations

import socket

import fixtures_postgres
import psycopg
import pytest

pytestmark = pytest.mark.postgres


def test_a_port_taken_before_postgres_binds_it_is_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = int(taken.getsockname()[1])
        offered = [busy]
        free = fixtures_postgres._free_port

        def next_port() -> int:
            return offered.pop() if offered else free()

        monkeypatch.setattr(fixtures_postgres, "_free_port", next_port)
        with fixtures_postgres.running_cluster() as cluster:
            assert offered == []  # the busy port was offered first...
            assert cluster.port != busy  # ...and postgres moved on to another
            with psycopg.connect(
                host=cluster.host,
                port=cluster.port,
                user=cluster.user,
                password=fixtures_postgres.APP_PASSWORD,
                dbname=cluster.dbname,
            ) as conn:
                assert conn.execute("SELECT current_user").fetchone() == ("app",)
