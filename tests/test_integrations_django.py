"""The Django backend ``secretcache.integrations.django.postgresql`` on the real cluster.

Django is configured once per process with a minimal ``settings.configure()`` (no apps,
no global databases); each test builds its own ``ConnectionHandler`` with a DATABASES
entry for the backend, as a project's settings would. Rotations under traffic (a new
connection per request) are in tests/test_integrations_rotation.py.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from db_setups import SECRET_ID, configure_django

from secretcache.testing import finish_rotation, start_rotation

if TYPE_CHECKING:
    from fixtures_postgres import PostgresCluster
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache import SecretCache

pytestmark = pytest.mark.postgres

ENGINE = "secretcache.integrations.django.postgresql"

configure_django()

from django.core.exceptions import ImproperlyConfigured  # noqa: E402
from django.db.utils import ConnectionHandler  # noqa: E402


def _database(**settings: Any) -> Any:
    """Return the connection of a DATABASES entry for the backend (this thread's)."""
    entry = {"ENGINE": ENGINE, "SECRET_ID": SECRET_ID, **settings}
    return ConnectionHandler({"default": entry})["default"]


def _request(connection: Any, sql: str = "SELECT current_user, current_database()") -> Any:
    """Run one query as a request would, then close as request_finished does."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()
    finally:
        connection.close_if_unusable_or_obsolete()


def test_every_new_connection_logs_in_with_the_secret(
    sm: SecretsManagerClient, postgres: PostgresCluster, db_cache: SecretCache
) -> None:
    connection = _database(SECRET_CACHE=db_cache, CONN_MAX_AGE=0)
    assert _request(connection) == ("app", "appdb")  # NAME, HOST, PORT from the secret
    assert connection.connection is None  # CONN_MAX_AGE=0: closed at the request's end
    assert connection.settings_dict["NAME"] == ""  # the settings stay as written

    new = start_rotation(sm, SECRET_ID, json.dumps(postgres.secret("p2")))
    postgres.set_password("p2")
    refused = postgres.failed_logins()
    for _ in range(3):
        assert _request(connection) == ("app", "appdb")  # p1 refused once, then p2
    finish_rotation(sm, SECRET_ID, new)
    assert _request(connection) == ("app", "appdb")
    assert postgres.failed_logins() - refused == 1


def test_a_persistent_connection_survives_the_rotation(
    sm: SecretsManagerClient, postgres: PostgresCluster, db_cache: SecretCache
) -> None:
    connection = _database(SECRET_CACHE=db_cache, CONN_MAX_AGE=None)
    assert _request(connection) == ("app", "appdb")
    start_rotation(sm, SECRET_ID, json.dumps(postgres.secret("p2")))
    postgres.set_password("p2")  # PostgreSQL keeps open sessions: no new login needed
    assert _request(connection) == ("app", "appdb")
    connection.close()
    assert _request(connection) == ("app", "appdb")  # a new login: through AWSPENDING
    connection.close()


def test_settings_win_over_the_secret_s_location(db_cache: SecretCache) -> None:
    connection = _database(SECRET_CACHE=db_cache, NAME="postgres", OPTIONS={"sslmode": "disable"})
    assert _request(connection) == ("app", "postgres")
    connection.close()


def test_without_secret_cache_the_default_cache_is_used(
    sm: SecretsManagerClient, postgres: PostgresCluster
) -> None:
    name = f"default-{uuid.uuid4().hex}"  # the default cache outlives this test
    sm.create_secret(Name=name, SecretString=json.dumps(postgres.secret("p1")))
    entry = {"ENGINE": ENGINE, "SECRET_ID": name, "CONN_MAX_AGE": 0}
    connection = ConnectionHandler({"default": entry})["default"]
    assert _request(connection) == ("app", "appdb")


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"SECRET_ID": ""}, "set SECRET_ID"),
        ({"USER": "app"}, "leave USER and PASSWORD out"),
        ({"PASSWORD": "pw"}, "leave USER and PASSWORD out"),
        ({"OPTIONS": {"pool": True}}, "OPTIONS['pool'] is not supported"),
    ],
)
def test_settings_it_cannot_honour_are_improperly_configured(
    settings: dict[str, Any], says: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=re.escape(says)):
        _database(**settings)
