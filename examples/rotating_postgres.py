"""Connect to PostgreSQL with credentials that Secrets Manager rotates.

The secret is the JSON Secrets Manager's database rotation functions use::

    {"engine": "postgres", "host": "...", "port": 5432,
     "username": "app", "password": "...", "dbname": "..."}

``connect()`` reads it through a ``SecretCache`` (no API call while the cached value is
fresh) and, when the login is refused for a bad password, asks the cache for a
rotation candidate and tries exactly once more:

- after a rotation finished, AWSCURRENT holds a newer version than the cached one;
- during a rotation window (the rotation Lambda's setSecret step already changed the
  password in the database, its finishSecret step has not yet moved AWSCURRENT), the
  new password is only in AWSPENDING.

Run it against a real database (the secret must exist; AWS credentials and region come
from the usual places)::

    SECRET_ID=prod/app/postgres python examples/rotating_postgres.py
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import psycopg

from secretcache import Secret, SecretCache

# SQLSTATE invalid_password. libpq does not hand the server's SQLSTATE back when the
# connection itself fails (psycopg's ``exc.sqlstate`` is None then), so we also match
# the server's message for it, which is English unless lc_messages says otherwise.
INVALID_PASSWORD = "28P01"
_INVALID_PASSWORD_TEXT = "password authentication failed"


def is_bad_password(exc: psycopg.OperationalError) -> bool:
    """Return True when the server refused the login because of the password."""
    if exc.sqlstate is not None:
        return exc.sqlstate == INVALID_PASSWORD
    return _INVALID_PASSWORD_TEXT in str(exc)


def conninfo(secret: Secret) -> dict[str, Any]:
    """Turn a database secret's JSON into psycopg.connect() keyword arguments."""
    fields = json.loads(secret.secret_string or "{}")
    return {
        "host": fields["host"],
        "port": int(fields.get("port", 5432)),
        "user": fields["username"],
        "password": fields["password"],
        "dbname": fields.get("dbname", "postgres"),
    }


def connect(cache: SecretCache, secret_id: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """Open a connection with the cached credentials, recovering once from a rotation.

    ``kwargs`` go to ``psycopg.connect`` (e.g. ``autocommit=True``, ``connect_timeout``).
    """
    secret = cache.get_secret(secret_id)
    try:
        return psycopg.connect(**conninfo(secret), **kwargs)
    except psycopg.OperationalError as exc:
        if not is_bad_password(exc):
            raise  # a network or server problem: new credentials would not help
        # Pass the VersionId that failed, so the cache can tell "rotated since" from
        # "still the same": it re-asks Secrets Manager at most once a second per secret.
        candidate = cache.rotation_candidate(secret_id, secret.version_id)
        if candidate is None:
            raise  # nothing newer and no rotation under way: the password is just wrong
    return psycopg.connect(**conninfo(candidate), **kwargs)


def main() -> int:
    """Connect once with the secret named by $SECRET_ID and print who we are."""
    secret_id = os.environ.get("SECRET_ID")
    if not secret_id:
        print("set SECRET_ID to the name or ARN of a database secret", file=sys.stderr)
        return 2
    with SecretCache() as cache, connect(cache, secret_id, connect_timeout=10) as conn:
        row = conn.execute("SELECT current_user, current_database()").fetchone()
        assert row is not None
        print(f"connected as {row[0]} to {row[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
