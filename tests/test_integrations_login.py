"""The login rule the database integrations share, on the real PostgreSQL cluster.

Through ``secretcache.integrations.psycopg`` (the thinnest integration): a refused
login asks ``rotation_candidate`` and retries; later logins go straight to the version
that worked; a password that is just wrong, a server that is down and a secret that is
not a database secret each raise the right error, with no secret value in it or in any
of our frames on its traceback. The server's own log counts the logins it refused.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import traceback
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from db_setups import SECRET_ID

from secretcache import SecretFieldError, SecretFormatError
from secretcache.integrations._login import is_auth_failure
from secretcache.integrations.psycopg import (
    aconnect,
    async_connection_class,
    connect,
    connection_class,
)
from secretcache.testing import FaultInjector, finish_rotation, start_rotation

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from fixtures_postgres import PostgresCluster
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache import SecretCache

pytestmark = pytest.mark.postgres


def _password(cache: SecretCache, **kwargs: Any) -> str:
    with connect(SECRET_ID, cache=cache, autocommit=True, **kwargs) as conn:
        row = conn.execute("SELECT current_user").fetchone()
        assert row == ("app",)
        return str(conn.info.password)


def _calls(cache: SecretCache) -> int:
    return cache.stats().api_calls.get("GetSecretValue", 0)


def test_one_refused_login_per_rotation_then_straight_to_the_new_version(
    sm: SecretsManagerClient, postgres: PostgresCluster, db_cache: SecretCache
) -> None:
    assert _password(db_cache) == "p1"
    refused = postgres.failed_logins()

    new = start_rotation(sm, SECRET_ID, json.dumps(postgres.secret("p2")))
    postgres.set_password("p2")
    assert _password(db_cache) == "p2"  # p1 refused, then AWSPENDING
    assert postgres.failed_logins() - refused == 1
    for _ in range(3):  # AWSCURRENT is still p1 in the cache: no login tries it again
        assert _password(db_cache) == "p2"
    finish_rotation(sm, SECRET_ID, new)
    assert _password(db_cache) == "p2"
    assert postgres.failed_logins() - refused == 1
    assert _calls(db_cache) == 1 + 2  # the first read; one look (AWSCURRENT, AWSPENDING)

    newer = start_rotation(sm, SECRET_ID, json.dumps(postgres.secret("p3")))
    postgres.set_password("p3")
    assert _password(db_cache) == "p3"  # p2 refused; AWSCURRENT is p2 now: AWSPENDING
    assert _password(db_cache) == "p3"
    finish_rotation(sm, SECRET_ID, newer)
    assert _password(db_cache) == "p3"
    assert postgres.failed_logins() - refused == 2
    assert db_cache.get_secret(SECRET_ID).version_id == new  # moved by the look, no TTL


def test_a_password_that_is_just_wrong_raises_the_original_error(
    postgres: PostgresCluster, db_cache: SecretCache
) -> None:
    postgres.set_password("changed-by-hand")  # nobody updated the secret
    with pytest.raises(psycopg.OperationalError) as refused:
        _password(db_cache)
    assert is_auth_failure(refused.value)
    assert refused.value.__context__ is None  # the first refusal, not a later one
    # AWSCURRENT (the first read), then the look: AWSCURRENT, AWSPENDING (none),
    # AWSCURRENT once more, AWSPREVIOUS (none); a second login asks again from the
    # same look.
    assert _calls(db_cache) == 5
    with pytest.raises(psycopg.OperationalError):
        _password(db_cache)
    assert _calls(db_cache) == 5

    postgres.set_password("p1")  # put right by hand: the version that failed works again
    assert _password(db_cache) == "p1"
    assert _password(db_cache) == "p1"


def test_a_server_that_is_down_is_not_a_rotation(
    sm: SecretsManagerClient, postgres: PostgresCluster, make_cache: Callable[..., SecretCache]
) -> None:
    secret = postgres.secret("p1")
    with _refusing_port() as port:
        secret["port"] = port
        sm.create_secret(Name=SECRET_ID, SecretString=json.dumps(secret))
        cache = make_cache(ttl=300.0)
        with pytest.raises(psycopg.OperationalError) as failed:
            _password(cache, connect_timeout=2)
    assert not is_auth_failure(failed.value)
    assert _calls(cache) == 1  # no rotation_candidate


def test_when_the_look_fails_the_login_error_is_raised_and_explained(
    sm: SecretsManagerClient,
    postgres: PostgresCluster,
    db_cache: SecretCache,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert _password(db_cache) == "p1"
    postgres.set_password("p2")
    with FaultInjector(sm) as faults, caplog.at_level(logging.WARNING, "secretcache"):
        faults.fail("AccessDeniedException")
        with pytest.raises(psycopg.OperationalError) as refused:
            _password(db_cache)
    assert is_auth_failure(refused.value)
    assert "could not look for a rotated version" in caplog.text
    assert "SecretAccessDeniedError" in caplog.text


def test_keywords_win_over_the_secret_except_the_credentials(
    postgres: PostgresCluster, db_cache: SecretCache
) -> None:
    with connect(SECRET_ID, cache=db_cache, dbname="postgres", application_name="svc") as conn:
        row = conn.execute("SELECT current_database(), current_setting('application_name')")
        assert row.fetchone() == ("postgres", "svc")
    with pytest.raises(TypeError, match="credentials come from the secret"):
        connect(SECRET_ID, cache=db_cache, password="x")
    with pytest.raises(TypeError, match="user"):
        connection_class(SECRET_ID, cache=db_cache).connect(user="x")


@pytest.mark.parametrize(
    ("value", "error", "code"),
    [
        ("not json {CANARY", SecretFormatError, "InvalidJSON"),
        ('["CANARY"]', SecretFormatError, "NotJSONObject"),
        ('{"username": "app", "pw": "CANARY"}', SecretFieldError, "MissingField"),
        ('{"password": "CANARY"}', SecretFieldError, "MissingField"),
        (
            '{"username": "app", "password": "CANARY", "port": "x"}',
            SecretFormatError,
            "InvalidField",
        ),
    ],
)
def test_a_secret_that_is_not_a_database_secret_says_so_without_its_value(
    sm: SecretsManagerClient,
    make_cache: Callable[..., SecretCache],
    canary: str,
    value: str,
    error: type[Exception],
    code: str,
) -> None:
    sm.create_secret(Name=SECRET_ID, SecretString=value.replace("CANARY", canary))
    with pytest.raises(error) as caught:
        connect(SECRET_ID, cache=make_cache())
    assert getattr(caught.value, "code", None) == code
    assert canary not in str(caught.value)
    assert not _frames_holding(caught.value, canary)


def test_no_frame_of_ours_holds_the_password_when_the_login_fails(
    sm: SecretsManagerClient,
    postgres: PostgresCluster,
    make_cache: Callable[..., SecretCache],
    canary: str,
) -> None:
    sm.create_secret(Name=SECRET_ID, SecretString=json.dumps(postgres.secret(canary)))
    pool_class = connection_class(SECRET_ID, cache=make_cache())
    for open_one in (lambda: connect(SECRET_ID, cache=make_cache()), pool_class.connect):
        with pytest.raises(psycopg.OperationalError) as refused:
            open_one()
        assert is_auth_failure(refused.value)
        assert canary not in str(refused.value)
        assert not _frames_holding(refused.value, canary)


def test_is_auth_failure_knows_refusals_from_outages() -> None:
    assert is_auth_failure(psycopg.errors.InvalidPassword("refused"))
    assert is_auth_failure(psycopg.errors.InvalidAuthorizationSpecification("no such role"))
    assert not is_auth_failure(psycopg.errors.AdminShutdown("terminating connection"))
    assert not is_auth_failure(psycopg.OperationalError("connection refused"))
    assert not is_auth_failure(TimeoutError("timed out"))
    wrapped = RuntimeError("wrapped")
    wrapped.orig = psycopg.OperationalError(  # type: ignore[attr-defined]
        'FATAL:  password authentication failed for user "app"'
    )
    assert is_auth_failure(wrapped)  # SQLAlchemy's DBAPIError keeps the driver's in .orig


# -- asyncio: AsyncConnection and AsyncConnectionPool ------------------------------------


def test_async_connections_recover_in_the_window(
    sm: SecretsManagerClient, postgres: PostgresCluster, db_cache: SecretCache
) -> None:
    from psycopg_pool import AsyncConnectionPool

    async def password_of(conn: psycopg.AsyncConnection[Any]) -> str:
        cursor = await conn.execute("SELECT current_user")
        assert await cursor.fetchone() == ("app",)
        return str(conn.info.password)

    async def main() -> list[str]:
        seen = []
        async with await aconnect(SECRET_ID, cache=db_cache) as conn:
            seen.append(await password_of(conn))
        start_rotation(sm, SECRET_ID, json.dumps(postgres.secret("p2")))
        postgres.set_password("p2")
        async with await aconnect(SECRET_ID, cache=db_cache) as conn:
            seen.append(await password_of(conn))
        pool = AsyncConnectionPool(
            connection_class=async_connection_class(SECRET_ID, cache=db_cache),
            min_size=1,
            max_size=2,
            open=False,
        )
        async with pool, pool.connection() as conn:
            seen.append(await password_of(conn))
        return seen

    refused = postgres.failed_logins()
    assert asyncio.run(main()) == ["p1", "p2", "p2"]
    assert postgres.failed_logins() - refused == 1


def test_sixteen_async_logins_at_once_cost_at_most_two_refusals(
    sm: SecretsManagerClient, postgres: PostgresCluster, db_cache: SecretCache
) -> None:
    async def login() -> str:
        async with await aconnect(SECRET_ID, cache=db_cache) as conn:
            return str(conn.info.password)

    async def main() -> list[str]:
        assert await login() == "p1"
        start_rotation(sm, SECRET_ID, json.dumps(postgres.secret("p2")))
        postgres.set_password("p2")
        return await asyncio.gather(*(login() for _ in range(16)))

    refused = postgres.failed_logins()
    assert asyncio.run(main()) == ["p2"] * 16
    # At most two logins of the secret are in flight at once: only they meet p1 refused.
    assert 1 <= postgres.failed_logins() - refused <= 2


# -- extras stay optional -----------------------------------------------------------------


def test_import_secretcache_imports_no_integration() -> None:
    code = (
        "import sys, secretcache\n"
        "mods = [m for m in sys.modules if m.startswith('secretcache.integrations')"
        " or m.split('.')[0] in ('sqlalchemy', 'django', 'psycopg', 'psycopg_pool',"
        " 'pydantic', 'pydantic_settings')]\n"
        "print(mods)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def _frames_holding(exc: BaseException, canary: str) -> list[str]:
    """Return 'module:function' of every secretcache frame whose locals hold ``canary``."""
    found, seen, todo = [], set(), [exc]
    while todo:
        error = todo.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        for frame, _ in traceback.walk_tb(error.__traceback__):
            module = frame.f_globals.get("__name__", "")
            if module.startswith("secretcache") and any(
                _holds(value, canary) for value in frame.f_locals.values()
            ):
                found.append(f"{module}:{frame.f_code.co_name}")
        todo += [e for e in (error.__cause__, error.__context__) if e is not None]
    return found


def _holds(value: Any, canary: str, depth: int = 0) -> bool:
    if isinstance(value, str):
        return canary in value
    if isinstance(value, bytes):
        return canary.encode() in value
    if depth < 4 and isinstance(value, dict):
        return any(_holds(v, canary, depth + 1) for v in (*value.keys(), *value.values()))
    if depth < 4 and isinstance(value, (list, tuple, set, frozenset)):
        return any(_holds(v, canary, depth + 1) for v in value)
    return False


@contextmanager
def _refusing_port() -> Iterator[int]:
    """Yield a port bound but not listening: connections are refused, and while it is held
    no other process (a second suite's PostgreSQL) can listen on it."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])
