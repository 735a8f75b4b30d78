"""How each integration is set up for the rotation runs: one query function per setup.

Each setup builds, from a cache and a secret id, what a service would: a SQLAlchemy
engine (NullPool: a new login per query; QueuePool: logins only when the pool opens or
recycles a connection), a Django connection handler with ``CONN_MAX_AGE = 0`` (a new
connection per request, closed as Django's request_finished signal closes it) or > 0
(persistent connections, reopened every RECYCLE seconds), secretcache's
``psycopg_pool.ConnectionPool``, or a bare ``connect()`` per query. The query runs
``SELECT current_user`` and returns the password its connection logged in with.

Shared by tests/test_rotation_matrix.py and bench/rotation_logins.py; also a pytest
plugin (registered in conftest.py) with the ``db_cache`` fixture the integration tests use.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest
from fixtures_postgres import ALT_USER, APP_USER

from secretcache.testing import FakeClock

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from fixtures_postgres import PostgresCluster
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache import SecretCache

SECRET_ID = "prod/app/postgres"
USERS = (APP_USER, ALT_USER)  # the alternating-users rotation logs in as either

#: Seconds a pooled connection lives, so pools log in again during every rotation step.
RECYCLE = 0.3
POOL_WAIT = 30.0


@pytest.fixture
def db_cache(
    sm: SecretsManagerClient, postgres: PostgresCluster, make_cache: Callable[..., SecretCache]
) -> SecretCache:
    """A cache on a clock that never moves (TTL 300 s); SECRET_ID holds password p1."""
    sm.create_secret(Name=SECRET_ID, SecretString=json.dumps(postgres.secret("p1")))
    return make_cache(ttl=300.0, clock=FakeClock())


def configure_django() -> None:
    """Configure a minimal Django (no apps, no global databases) once per process."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(DATABASES={}, INSTALLED_APPS=[], USE_TZ=True, TIME_ZONE="UTC")
        django.setup()


@contextmanager
def sqlalchemy_nullpool(cache: SecretCache, secret_id: str) -> Iterator[Callable[[], str]]:
    """A SQLAlchemy engine with NullPool: every query is a new login."""
    from sqlalchemy.pool import NullPool

    from secretcache.integrations.sqlalchemy import create_engine

    with _querying(create_engine(secret_id, cache=cache, poolclass=NullPool)) as query:
        yield query


@contextmanager
def sqlalchemy_queuepool(cache: SecretCache, secret_id: str) -> Iterator[Callable[[], str]]:
    """A SQLAlchemy engine with its default QueuePool, recycling connections quickly."""
    from secretcache.integrations.sqlalchemy import create_engine

    engine = create_engine(
        secret_id,
        cache=cache,
        pool_size=4,
        max_overflow=4,
        pool_recycle=RECYCLE,
        pool_timeout=POOL_WAIT,
        pool_pre_ping=True,
    )
    with _querying(engine) as query:
        yield query


@contextmanager
def _querying(engine: Any) -> Iterator[Callable[[], str]]:
    from sqlalchemy import text

    def query() -> str:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar() in USERS
            return _password(conn.connection.dbapi_connection)

    try:
        yield query
    finally:
        engine.dispose()


@contextmanager
def django_requests(
    cache: SecretCache, secret_id: str, max_age: float = 0
) -> Iterator[Callable[[], str]]:
    """Django's connections with CONN_MAX_AGE = 0: a new connection per request."""
    configure_django()
    from django.db.utils import ConnectionHandler

    handler = ConnectionHandler(
        {
            "default": {
                "ENGINE": "secretcache.integrations.django.postgresql",
                "SECRET_ID": secret_id,
                "SECRET_CACHE": cache,
                "CONN_MAX_AGE": max_age,
            }
        }
    )

    opened: list[Any] = []  # each thread's connection wrapper

    def query() -> str:
        connection = handler["default"]  # this thread's own, as in a Django worker
        if connection not in opened:
            opened.append(connection)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_user")
                assert cursor.fetchone()[0] in USERS
            return _password(connection.connection)
        finally:
            # What django.db.close_old_connections does at request_finished.
            for each in handler.all(initialized_only=True):
                each.close_if_unusable_or_obsolete()

    try:
        yield query
    finally:
        # Persistent connections outlive their request; their threads have ended, so
        # close the driver's connections themselves (Django's wrappers are per thread).
        for wrapper in opened:
            if wrapper.connection is not None:
                wrapper.connection.close()


@contextmanager
def django_persistent(cache: SecretCache, secret_id: str) -> Iterator[Callable[[], str]]:
    """Django's connections with CONN_MAX_AGE > 0, reopened every RECYCLE seconds."""
    with django_requests(cache, secret_id, RECYCLE) as query:
        yield query


@contextmanager
def psycopg_pool(cache: SecretCache, secret_id: str) -> Iterator[Callable[[], str]]:
    """secretcache's psycopg_pool.ConnectionPool: its connections log in with the secret."""
    from secretcache.integrations.psycopg_pool import ConnectionPool

    pool = ConnectionPool(
        secret_id,
        cache=cache,
        kwargs={"autocommit": True},
        min_size=4,
        max_size=8,
        max_lifetime=RECYCLE,
        timeout=POOL_WAIT,
        open=True,
    )

    def query() -> str:
        with pool.connection() as conn:
            row = conn.execute("SELECT current_user").fetchone()
            assert row is not None
            assert row[0] in USERS
            return _password(conn)

    try:
        yield query
    finally:
        pool.close()


@contextmanager
def psycopg_connect(cache: SecretCache, secret_id: str) -> Iterator[Callable[[], str]]:
    """secretcache.integrations.psycopg.connect() per query."""
    from secretcache.integrations.psycopg import connect

    def query() -> str:
        with connect(secret_id, cache=cache, autocommit=True) as conn:
            row = conn.execute("SELECT current_user").fetchone()
            assert row is not None
            assert row[0] in USERS
            return _password(conn)

    yield query


def _password(conn: Any) -> str:
    return str(conn.info.password)


SETUPS: dict[str, Callable[[SecretCache, str], Any]] = {
    "sqlalchemy-nullpool": sqlalchemy_nullpool,
    "sqlalchemy-queuepool": sqlalchemy_queuepool,
    "django": django_requests,
    "django-persistent": django_persistent,
    "psycopg-pool": psycopg_pool,
    "psycopg-connect": psycopg_connect,
}
