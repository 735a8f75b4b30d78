"""Read the RDS JSON shape of a database secret, with errors that hold no value.

Secrets Manager's database secrets (and its rotation functions) use one JSON object::

    {"engine": "postgres", "host": "...", "port": 5432,
     "username": "app", "password": "...", "dbname": "..."}

``location()`` returns everything but the password; ``credentials()`` returns the
username and password as psycopg's keyword arguments. Neither leaves the parsed object
or the password in a named local of a frame that raises (error trackers record frame
locals): the helpers that hold them cannot raise, and the errors are raised by the
callers, whose frames hold only the ``Secret`` (its repr is redacted) and a message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from .._core import parse as _parse
from ..exceptions import SecretFieldError, SecretFormatError

if TYPE_CHECKING:
    from .._core.models import Secret

__all__ = ["Location", "connect_params", "credentials", "location"]


class Location(NamedTuple):
    """Where a database secret points, and as whom: every field but the password."""

    engine: str | None
    host: str | None
    port: int | None
    dbname: str | None
    username: str


def location(secret: Secret) -> Location:
    """Return the secret's engine, host, port, database and username."""
    found = _location_or_problem(_parse.parse_json(secret))
    if isinstance(found, Problem):  # the frame holds no value when it raises
        raise found.error(secret)
    return found


def connect_params(secret: Secret) -> dict[str, Any]:
    """Return psycopg's keyword arguments from one parse: where, and the credentials."""
    found = _params_or_problem(_parse.parse_json(secret))
    if isinstance(found, Problem):
        raise found.error(secret)
    return found


def _params_or_problem(fields: Any) -> dict[str, Any] | Problem:
    where = _location_or_problem(fields)
    if isinstance(where, Problem):
        return where
    creds = _credentials_or_problem(fields)
    if isinstance(creds, Problem):
        return creds
    found = {"host": where.host, "port": where.port, "dbname": where.dbname}
    return {**{k: v for k, v in found.items() if v is not None}, **creds}


def credentials(secret: Secret) -> dict[str, str]:
    """Return ``{"user": ..., "password": ...}`` from the secret (psycopg's names)."""
    found = _credentials_or_problem(_parse.parse_json(secret))
    if isinstance(found, Problem):
        raise found.error(secret)
    return found


class Problem(NamedTuple):
    """What is wrong with a database secret, said without any of its values."""

    code: str
    message: str

    def error(self, secret: Secret) -> SecretFormatError:
        """Return the typed error to raise for ``secret``."""
        kind = SecretFieldError if self.code == "MissingField" else SecretFormatError
        return kind(
            self.message, code=self.code, secret_id=secret.secret_id, version_id=secret.version_id
        )


_NOT_OBJECT = Problem("NotJSONObject", "a database secret is a JSON object, not another JSON value")


def _missing(name: str) -> Problem:
    return Problem("MissingField", f"the database secret has no string field {name!r}")


# The helpers below hold the parsed secret; none of them can raise.


def _location_or_problem(fields: Any) -> Location | Problem:
    if not isinstance(fields, dict):
        return _NOT_OBJECT
    username = fields.get("username")
    if not isinstance(username, str) or not username:
        return _missing("username")
    port = fields.get("port")
    if isinstance(port, str) and port.isdigit() and len(port) <= 5:
        port = int(port)
    if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
        return Problem("InvalidField", "the database secret's field 'port' is not a port number")
    texts = {name: fields.get(name) for name in ("engine", "host", "dbname")}
    for name, text in texts.items():
        if text is not None and not isinstance(text, str):
            return Problem("InvalidField", f"the database secret's field {name!r} is not a string")
    return Location(texts["engine"], texts["host"], port, texts["dbname"], username)


def _credentials_or_problem(fields: Any) -> dict[str, str] | Problem:
    if not isinstance(fields, dict):
        return _NOT_OBJECT
    if not isinstance(fields.get("username"), str) or not fields["username"]:
        return _missing("username")
    if not isinstance(fields.get("password"), str):
        return _missing("password")
    return {"user": fields["username"], "password": fields["password"]}
