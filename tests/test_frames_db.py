"""The database integrations' login wrappers keep the password out of their frames.

A refused login (the secret holds a password the server does not take, and there is no
rotation to recover with) raises the driver's own error through our wrappers: those
frames, but not the driver's, must not hold the password for an error tracker to record.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from db_setups import SECRET_ID, SETUPS
from framecheck import assert_no_secret_in_frames, raised

from secretcache.integrations.psycopg import connection_class

if TYPE_CHECKING:
    from collections.abc import Callable

    from fixtures_postgres import PostgresCluster
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache import SecretCache

pytestmark = pytest.mark.postgres

# Setups whose failing login raises in the caller's thread (a pool's background
# workers raise in theirs, and the caller sees the pool's timeout instead).
SYNCHRONOUS = ("sqlalchemy-nullpool", "sqlalchemy-queuepool", "django", "psycopg-connect")


def _refused_secret(sm: SecretsManagerClient, postgres: PostgresCluster, canary: str) -> None:
    # The server's password for role app stays p1: the canary is refused.
    sm.create_secret(Name=SECRET_ID, SecretString=json.dumps(postgres.secret(canary)))


@pytest.mark.parametrize("setup", SYNCHRONOUS)
def test_a_refused_login_leaves_no_password_in_our_frames(
    setup: str,
    sm: SecretsManagerClient,
    postgres: PostgresCluster,
    make_cache: Callable[..., SecretCache],
    canary: str,
) -> None:
    _refused_secret(sm, postgres, canary)
    cache = make_cache(ttl=300.0)
    with SETUPS[setup](cache, SECRET_ID) as query:
        error = raised(query)
    assert "password authentication failed" in str(error)
    assert canary not in str(error)
    assert_no_secret_in_frames(error, canary)


def test_a_pool_connection_class_refused_leaves_no_password_in_our_frames(
    sm: SecretsManagerClient,
    postgres: PostgresCluster,
    make_cache: Callable[..., SecretCache],
    canary: str,
) -> None:
    _refused_secret(sm, postgres, canary)
    cache = make_cache(ttl=300.0)
    klass: Any = connection_class(SECRET_ID, cache=cache)
    error = raised(klass.connect, autocommit=True)
    assert_no_secret_in_frames(error, canary)
