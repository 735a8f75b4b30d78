"""SQLAlchemy: engines that log in with a rotating database secret.

``create_engine(secret_id)`` builds an ``Engine`` whose host, port and database come
from the secret (the RDS JSON shape) and whose every new login takes the username and
password from it. ``use_secret(engine, secret_id)`` gives an existing engine the same
logins: a ``do_connect`` listener, so the pool, its size and its recycling are
untouched. Each login reads the secret through a ``SecretCache`` (from memory while it
is fresh); a login refused for its credentials recovers through ``rotation_candidate``
(see ``secretcache.integrations._login``).

Install with ``pip install 'secretcache[sqlalchemy]'``; ``import secretcache`` never
imports this module.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any

try:
    import sqlalchemy
    from sqlalchemy import event
    from sqlalchemy.engine import URL, make_url
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "secretcache.integrations.sqlalchemy needs SQLAlchemy: "
        "pip install 'secretcache[sqlalchemy]'"
    ) from exc

from .._core.validate import check_secret_id
from ._login import login, reader
from ._rds import Location, credentials, location

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect, Engine

    from .._cache import SecretCache
    from .._core.models import Secret

__all__ = ["DRIVERS", "create_engine", "use_secret"]

#: The secret's ``engine`` field -> the SQLAlchemy driver ``create_engine`` uses by default.
DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "aurora-postgresql": "postgresql+psycopg",
}

# Stand-ins, to learn under which keywords a dialect passes username and password on.
_USER_MARK = "\x00secretcache-user"
_PASSWORD_MARK = "\x00secretcache-password"
_USER_PASSWORD = operator.itemgetter("user", "password")


def create_engine(
    secret_id: str, *, cache: SecretCache | None = None, url: str | URL | None = None, **kwargs: Any
) -> Engine:
    """Return an Engine on the secret's database whose logins use the secret.

    Host, port and database are read from the secret now; ``url`` picks the driver
    (default: from the secret's ``engine``, ``postgres`` -> ``postgresql+psycopg``) and
    may set host, port, database and query options, which win over the secret's. The
    credentials come from the secret at every login. ``kwargs`` go to
    ``sqlalchemy.create_engine`` (``poolclass``, ``pool_size``, ``pool_pre_ping``, ...).
    """
    check_secret_id(secret_id)
    target = _url(location(reader(cache).get_secret(secret_id)), url)
    return use_secret(sqlalchemy.create_engine(target, **kwargs), secret_id, cache=cache)


def use_secret(engine: Engine, secret_id: str, *, cache: SecretCache | None = None) -> Engine:
    """Make every new login of ``engine`` use the secret's username and password.

    Adds a ``do_connect`` listener and returns ``engine``; the URL's own username and
    password, if any, are overridden.
    """
    check_secret_id(secret_id)
    if not isinstance(engine, sqlalchemy.Engine):
        raise TypeError(f"use_secret() takes a sqlalchemy Engine, not {type(engine).__name__}")
    names = _credential_names(engine.dialect, engine.url)

    def do_connect(dialect: Dialect, conn_rec: Any, cargs: Any, cparams: Any) -> Any:
        return login(
            reader(cache),
            secret_id,
            lambda secret: dialect.connect(*cargs, **_with_credentials(cparams, names, secret)),
        )

    event.listen(engine, "do_connect", do_connect)
    return engine


def _with_credentials(
    cparams: dict[str, Any], names: tuple[str, str], secret: Secret
) -> dict[str, Any]:
    """Return the dialect's keyword arguments with the secret's username and password."""
    return {**cparams, **dict(zip(names, _USER_PASSWORD(credentials(secret)), strict=True))}


def _credential_names(dialect: Dialect, url: URL) -> tuple[str, str]:
    """Return the keywords under which ``dialect`` hands username and password on."""
    marked = url.set(username=_USER_MARK, password=_PASSWORD_MARK)
    try:
        _, cparams = dialect.create_connect_args(marked)
    except sqlalchemy.exc.ArgumentError:
        cparams = {}  # e.g. SQLite: a URL with credentials is no SQLite URL
    by_value = {value: name for name, value in cparams.items() if isinstance(value, str)}
    if _USER_MARK not in by_value or _PASSWORD_MARK not in by_value:
        raise ValueError(
            f"the {dialect.name}+{dialect.driver} dialect does not pass username and password"
            " as keyword arguments: use_secret cannot set them"
        )
    return by_value[_USER_MARK], by_value[_PASSWORD_MARK]


def _url(where: Location, url: str | URL | None) -> URL:
    """Return the engine's URL: the driver and overrides from ``url``, the rest from the secret."""
    if url is None:
        driver = DRIVERS.get(where.engine or "")
        if driver is None:
            raise ValueError(
                f"no default SQLAlchemy driver for the secret's engine {where.engine!r}:"
                " pass url='dialect+driver://'"
            )
        given = URL.create(driver)
    else:
        given = make_url(url)
    if given.password is not None:
        raise ValueError("url must not hold a password: the credentials come from the secret")
    return given.set(
        host=given.host or where.host,
        port=given.port or where.port,
        database=given.database or where.dbname,
    )
