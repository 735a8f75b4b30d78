"""secretcache.integrations.sqlalchemy on the real PostgreSQL cluster.

``create_engine`` takes host, port and database from the secret and the credentials at
every login; ``use_secret`` gives an existing engine the same logins. Rotations under
traffic are in tests/test_integrations_rotation.py.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
import sqlalchemy
from db_setups import SECRET_ID
from sqlalchemy import text
from sqlalchemy.pool import NullPool

from secretcache.integrations.sqlalchemy import create_engine, use_secret
from secretcache.testing import start_rotation

if TYPE_CHECKING:
    from collections.abc import Callable

    from fixtures_postgres import PostgresCluster
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache import SecretCache

pytestmark = pytest.mark.postgres


def _who(engine: sqlalchemy.Engine) -> tuple[str, str]:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT current_user, current_database()")).one()
    engine.dispose()
    return row[0], row[1]


def test_create_engine_points_where_the_secret_says_and_logs_in_with_it(
    postgres: PostgresCluster, db_cache: SecretCache
) -> None:
    engine = create_engine(SECRET_ID, cache=db_cache)
    assert engine.url.drivername == "postgresql+psycopg"  # from "engine": "postgres"
    assert (engine.url.host, engine.url.port, engine.url.database) == (
        postgres.host,
        postgres.port,
        postgres.dbname,
    )
    assert engine.url.username is None
    assert engine.url.password is None
    assert _who(engine) == ("app", "appdb")


def test_url_picks_the_driver_and_wins_over_the_secret(
    postgres: PostgresCluster, db_cache: SecretCache
) -> None:
    engine = create_engine(
        SECRET_ID, cache=db_cache, url="postgresql+psycopg:///postgres?application_name=svc"
    )
    assert engine.url.host == postgres.host
    assert _who(engine) == ("app", "postgres")
    with engine.connect() as conn:
        assert conn.execute(text("SHOW application_name")).scalar() == "svc"
    engine.dispose()
    with pytest.raises(ValueError, match="password"):
        create_engine(SECRET_ID, cache=db_cache, url="postgresql+psycopg://app:pw@/")


def test_a_secret_of_another_engine_needs_an_url(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache]
) -> None:
    sm.create_secret(
        Name="prod/mysql", SecretString=json.dumps({"engine": "mysql", "username": "a"})
    )
    with pytest.raises(ValueError, match="url="):
        create_engine("prod/mysql", cache=make_cache())


def test_use_secret_gives_an_existing_engine_the_secret_s_logins(
    sm: SecretsManagerClient, postgres: PostgresCluster, db_cache: SecretCache
) -> None:
    url = f"postgresql+psycopg://nobody@{postgres.host}:{postgres.port}/appdb"
    engine = sqlalchemy.create_engine(url, poolclass=NullPool)
    assert use_secret(engine, SECRET_ID, cache=db_cache) is engine
    assert _who(engine) == ("app", "appdb")
    assert engine.url.username == "nobody"  # the URL is untouched; the login is not

    start_rotation(sm, SECRET_ID, json.dumps(postgres.secret("p2")))
    postgres.set_password("p2")
    refused = postgres.failed_logins()
    assert _who(engine) == ("app", "appdb")  # recovered in the window
    assert _who(engine) == ("app", "appdb")
    assert postgres.failed_logins() - refused == 1


def test_use_secret_refuses_what_it_cannot_serve(db_cache: SecretCache) -> None:
    with pytest.raises(TypeError, match="Engine"):
        use_secret("postgresql://", SECRET_ID, cache=db_cache)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not pass username and password"):
        use_secret(sqlalchemy.create_engine("sqlite://"), SECRET_ID, cache=db_cache)
    with pytest.raises(ValueError, match="secret_id"):
        use_secret(sqlalchemy.create_engine("postgresql+psycopg://"), "", cache=db_cache)
