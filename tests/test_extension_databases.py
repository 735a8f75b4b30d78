"""The database integrations through the Lambda extension, on the real PostgreSQL cluster.

A password rotated while the extension still caches the old one: the refused login is
recovered through ``rotation_candidate``, which sees past the extension's cache
(``refreshNow`` on the Agent, Secrets Manager directly on the classic extension), and
later logins succeed the first time, also after the extension's stale answer comes back.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Literal

import pytest
from db_setups import SECRET_ID
from sqlalchemy import text
from sqlalchemy.pool import NullPool

from secretcache import BotocoreSource, ExtensionSource, SecretCache
from secretcache.integrations.sqlalchemy import create_engine
from secretcache.testing import ExtensionEmulator, start_rotation

if TYPE_CHECKING:
    import sqlalchemy
    from fixtures_postgres import PostgresCluster
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache.testing import FakeClock

pytestmark = pytest.mark.postgres


def _login(engine: sqlalchemy.Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT current_user")).scalar_one())


@pytest.mark.parametrize("flavour", ["honour", "ignore"])
def test_a_rotation_costs_one_refused_login_through_the_extension(
    sm: SecretsManagerClient,
    postgres: PostgresCluster,
    clock: FakeClock,
    flavour: Literal["honour", "ignore"],
) -> None:
    sm.create_secret(Name=SECRET_ID, SecretString=json.dumps(postgres.secret("p1")))
    with ExtensionEmulator(client=sm, ttl=300.0, refresh_now=flavour, clock=clock) as ext:
        source = ExtensionSource(
            ext.endpoint,
            token=ext.token,
            refresh_now=flavour == "honour",  # the classic extension: read past it directly
            direct=BotocoreSource(sm),
            clock=clock,
        )
        cache = SecretCache(source=source, clock=clock, ttl=60.0, jitter=0.0)
        engine = create_engine(SECRET_ID, cache=cache, poolclass=NullPool)
        assert _login(engine) == "app"

        # A hand rotation: the secret moves, then the database; the extension still holds p1.
        sm.put_secret_value(SecretId=SECRET_ID, SecretString=json.dumps(postgres.secret("p2")))
        postgres.set_password("p2")
        refused = postgres.failed_logins()
        assert _login(engine) == "app"  # recovered
        assert _login(engine) == "app"
        assert postgres.failed_logins() - refused == 1

        clock.advance(61)  # secretcache revalidates; the extension answers its stale p1
        assert _login(engine) == "app"
        assert postgres.failed_logins() - refused == 1
        engine.dispose()


def test_the_rotation_window_is_served_from_awspending_through_the_agent(
    sm: SecretsManagerClient, postgres: PostgresCluster, clock: FakeClock
) -> None:
    sm.create_secret(Name=SECRET_ID, SecretString=json.dumps(postgres.secret("p1")))
    with ExtensionEmulator(client=sm, clock=clock) as agent:
        source = ExtensionSource(agent.endpoint, token=agent.token, clock=clock)
        cache = SecretCache(source=source, clock=clock, ttl=300.0, jitter=0.0)
        engine = create_engine(SECRET_ID, cache=cache, poolclass=NullPool)
        assert _login(engine) == "app"
        start_rotation(sm, SECRET_ID, json.dumps(postgres.secret("p2")))  # AWSPENDING
        postgres.set_password("p2")  # setSecret ran; finishSecret has not
        refused = postgres.failed_logins()
        assert _login(engine) == "app"
        assert postgres.failed_logins() - refused == 1
        assert any(r.query.get("versionStage") == "AWSPENDING" for r in agent.requests)
        engine.dispose()
