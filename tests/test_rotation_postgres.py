"""A real PostgreSQL password rotation while traffic flows: no query may fail.

The rotation is done step by step as a Secrets Manager rotation Lambda does it:
createSecret (new version staged AWSPENDING), setSecret (ALTER ROLE in the database),
testSecret (log in with AWSPENDING), finishSecret (move AWSCURRENT). Between setSecret
and finishSecret the database only accepts the new password while AWSCURRENT still
holds the old one: clients recover through ``SecretCache.rotation_candidate``, here via
the ``connect()`` helper of ``examples/rotating_postgres.py``.

The cache runs on a FakeClock: nothing expires by itself, so every refresh seen here
was caused by a failed login, and the API call counts are exact.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
from pg_traffic import Traffic, rotate

from secretcache import AWSPENDING, SecretCache
from secretcache.testing import FakeClock, finish_rotation, start_rotation

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

    from fixtures_postgres import PostgresCluster
    from mypy_boto3_secretsmanager import SecretsManagerClient

pytestmark = pytest.mark.postgres

SECRET_ID = "prod/app/postgres"
# Fake seconds: more than rotation_candidate's last look answers repeats for (one second
# per call it made, three at most).
RECHECK = 3.5


def _load_example(name: str) -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


example = _load_example("rotating_postgres")


def _create_secret(sm: SecretsManagerClient, pg: PostgresCluster) -> str:
    created = sm.create_secret(Name=SECRET_ID, SecretString=json.dumps(pg.secret("p1")))
    return created["VersionId"]


def _query(cache: SecretCache) -> str:
    """Open a connection the example's way, run a query; return the password it used."""
    with example.connect(cache, SECRET_ID, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute("SELECT current_user").fetchone()
        assert row == ("app",)
        return str(conn.info.password)


# -- one thread: the rotation window -----------------------------------------------------


def test_login_between_set_and_finish_succeeds_via_awspending(
    sm: SecretsManagerClient, postgres: PostgresCluster, make_cache: Callable[..., SecretCache]
) -> None:
    old = _create_secret(sm, postgres)
    clock = FakeClock()
    cache = make_cache(ttl=300.0, clock=clock)
    assert _query(cache) == "p1"

    new = start_rotation(sm, SECRET_ID, json.dumps(postgres.secret("p2")))  # createSecret
    assert _query(cache) == "p1"  # AWSPENDING exists, the database still takes p1
    postgres.set_password("p2")  # setSecret
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(**example.conninfo(cache.get_secret(SECRET_ID)))
    assert example.is_bad_password(refused.value)

    assert _query(cache) == "p2"  # p1 refused -> rotation_candidate -> AWSPENDING
    assert cache.get_secret(SECRET_ID).version_id == old  # AWSCURRENT did not move
    assert cache.get_secret(SECRET_ID, AWSPENDING).version_id == new
    # The first read; then the look: AWSCURRENT (did it move?) and AWSPENDING.
    assert dict(cache.stats().api_calls) == {"GetSecretValue": 3}

    finish_rotation(sm, SECRET_ID, new)  # finishSecret
    clock.advance(RECHECK)  # far inside the 300 s TTL: only the failed login refreshes
    assert _query(cache) == "p2"
    assert cache.get_secret(SECRET_ID).version_id == new
    assert cache.stats().rotations == 1


def test_a_wrong_password_without_rotation_is_raised_unchanged(
    sm: SecretsManagerClient, postgres: PostgresCluster, make_cache: Callable[..., SecretCache]
) -> None:
    _create_secret(sm, postgres)
    cache = make_cache(ttl=300.0)
    postgres.set_password("changed-by-hand")  # nobody updated the secret
    with pytest.raises(psycopg.OperationalError) as refused:
        _query(cache)
    assert example.is_bad_password(refused.value)
    assert "p1" not in str(refused.value)
    # The first read of AWSCURRENT; then the look: AWSCURRENT again (did it move?),
    # AWSPENDING (there is none), AWSCURRENT once more (a finishSecret could have run
    # in between), AWSPREVIOUS (there is none: no rollback); nothing more.
    assert dict(cache.stats().api_calls) == {"GetSecretValue": 5}


def test_other_connection_errors_do_not_ask_for_a_rotation(
    sm: SecretsManagerClient, postgres: PostgresCluster, make_cache: Callable[..., SecretCache]
) -> None:
    secret = postgres.secret("p1")
    secret["dbname"] = "no_such_db"
    sm.create_secret(Name=SECRET_ID, SecretString=json.dumps(secret))
    cache = make_cache(ttl=300.0)
    with pytest.raises(psycopg.OperationalError) as failed:
        _query(cache)
    assert not example.is_bad_password(failed.value)
    assert dict(cache.stats().api_calls) == {"GetSecretValue": 1}


def test_example_main_connects_with_the_secret_named_in_the_environment(
    sm: SecretsManagerClient,
    postgres: PostgresCluster,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _create_secret(sm, postgres)
    monkeypatch.setenv("SECRET_ID", SECRET_ID)
    assert example.main() == 0
    assert capsys.readouterr().out == "connected as app to appdb\n"
    monkeypatch.delenv("SECRET_ID")
    assert example.main() == 2


# -- eight threads: a full rotation under load -------------------------------------------


def test_eight_threads_survive_a_full_rotation_with_zero_failed_queries(
    sm: SecretsManagerClient, postgres: PostgresCluster, make_cache: Callable[..., SecretCache]
) -> None:
    _create_secret(sm, postgres)
    clock = FakeClock()
    cache = make_cache(ttl=300.0, clock=clock)
    with Traffic(lambda: _query(cache)) as traffic:
        traffic.wait_for(10)
        calls_before = sum(cache.stats().api_calls.values())
        # A second after finishSecret (fake time, far inside the TTL) the next refused
        # login finds the new AWSCURRENT.
        new = rotate(
            sm, postgres, traffic, SECRET_ID, "p2", on_finish=lambda: clock.advance(RECHECK)
        ).version_id

    assert traffic.failures == []
    by_phase = {phase: traffic.used(phase) for phase in range(4)}
    assert set(by_phase[0]) == set(by_phase[1]) == {"p1"}
    assert set(by_phase[2]) == {"p2"}  # the window: every login recovered via AWSPENDING
    assert all(set(w.used[3]) == {"p2"} for w in traffic.workers)
    assert cache.get_secret(SECRET_ID).version_id == new
    assert cache.stats().rotations == 1

    calls = cache.stats().api_calls
    during = sum(calls.values()) - calls_before
    queries = sum(sum(c.values()) for c in by_phase.values())
    print(f"\nrotation under load: {queries} queries, 0 failed, {during} API calls {dict(calls)}")
    # One AWSPENDING read in the window, one AWSCURRENT re-read after finishSecret;
    # the once-a-second recheck bounds the rest, however many logins fail at once.
    assert during <= 4
