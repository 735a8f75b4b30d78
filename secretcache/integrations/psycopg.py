"""psycopg 3: connections and connection pools that log in with a rotating secret.

``connect(secret_id)`` opens a ``psycopg.Connection`` with the host, port, database,
username and password of a database secret (the RDS JSON shape), read through a
``SecretCache``. ``connection_class(secret_id)`` is a ``psycopg.Connection`` subclass
for ``psycopg_pool.ConnectionPool(connection_class=...)``: every connection the pool
opens reads the secret afresh (from memory while it is fresh). ``aconnect`` and
``async_connection_class`` are the same for ``psycopg.AsyncConnection`` and
``psycopg_pool.AsyncConnectionPool``.

A login refused for its credentials recovers through ``rotation_candidate`` (see
``secretcache.integrations._login``). Install with ``pip install 'secretcache[psycopg]'``;
``import secretcache`` never imports this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    import psycopg
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "secretcache.integrations.psycopg needs psycopg 3: pip install 'secretcache[psycopg]'"
    ) from exc

from .._core.validate import check_secret_id
from ._login import alogin, login, reader
from ._rds import connect_params

if TYPE_CHECKING:
    from .._cache import SecretCache
    from .._core.models import Secret
    from ..aio import AsyncSecretCache

__all__ = ["aconnect", "async_connection_class", "connect", "connection_class"]

_CREDENTIALS = ("user", "password")


def connect(
    secret_id: str, *, cache: SecretCache | None = None, conninfo: str = "", **kwargs: Any
) -> psycopg.Connection[Any]:
    """Open a connection with the secret's credentials, recovering from a rotation.

    The secret gives host, port, dbname, user and password; ``conninfo`` and keyword
    arguments go to ``psycopg.connect`` (keywords win over the secret's host, port and
    dbname, e.g. an RDS Proxy endpoint; the credentials always come from the secret).
    """
    check_secret_id(secret_id)
    _check_kwargs(kwargs)
    return login(
        reader(cache),
        secret_id,
        lambda secret: psycopg.Connection.connect(conninfo, **_connect_kwargs(secret, kwargs)),
    )


async def aconnect(
    secret_id: str,
    *,
    cache: SecretCache | AsyncSecretCache | None = None,
    conninfo: str = "",
    **kwargs: Any,
) -> psycopg.AsyncConnection[Any]:
    """Open an ``AsyncConnection`` as ``connect()`` does (a sync cache reads in a thread)."""
    check_secret_id(secret_id)
    _check_kwargs(kwargs)
    return await alogin(
        reader(cache),
        secret_id,
        lambda secret: psycopg.AsyncConnection.connect(conninfo, **_connect_kwargs(secret, kwargs)),
    )


def connection_class(
    secret_id: str, *, cache: SecretCache | None = None
) -> type[psycopg.Connection[Any]]:
    """Return a ``psycopg.Connection`` subclass whose ``connect`` logs in with the secret.

    For ``psycopg_pool.ConnectionPool(connection_class=...)``: the pool's ``conninfo``
    and ``kwargs`` are passed on as ``connect()`` passes its own.
    """
    check_secret_id(secret_id)

    class SecretConnection(psycopg.Connection[Any]):
        @classmethod
        def connect(cls, conninfo: str = "", **kwargs: Any) -> Any:
            _check_kwargs(kwargs)
            parent = super().connect
            return login(
                reader(cache),
                secret_id,
                lambda secret: parent(conninfo, **_connect_kwargs(secret, kwargs)),
            )

    SecretConnection.__qualname__ = SecretConnection.__name__ = f"SecretConnection[{secret_id}]"
    return SecretConnection


def async_connection_class(
    secret_id: str, *, cache: SecretCache | AsyncSecretCache | None = None
) -> type[psycopg.AsyncConnection[Any]]:
    """Return an ``AsyncConnection`` subclass for ``psycopg_pool.AsyncConnectionPool``."""
    check_secret_id(secret_id)

    class AsyncSecretConnection(psycopg.AsyncConnection[Any]):
        @classmethod
        async def connect(cls, conninfo: str = "", **kwargs: Any) -> Any:
            _check_kwargs(kwargs)
            parent = super().connect
            return await alogin(
                reader(cache),
                secret_id,
                lambda secret: parent(conninfo, **_connect_kwargs(secret, kwargs)),
            )

    name = f"AsyncSecretConnection[{secret_id}]"
    AsyncSecretConnection.__qualname__ = AsyncSecretConnection.__name__ = name
    return AsyncSecretConnection


def _connect_kwargs(secret: Secret, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Return psycopg's keyword arguments: the secret's, the caller's, the credentials."""
    # The caller's keywords win over where the secret points, never over who logs in.
    return _with_callers(connect_params(secret), kwargs)


def _with_callers(params: dict[str, Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    return {**params, **kwargs, **{name: params[name] for name in _CREDENTIALS}}


def _check_kwargs(kwargs: dict[str, Any]) -> None:
    given = [name for name in _CREDENTIALS if name in kwargs]
    if given:
        raise TypeError(f"{', '.join(given)}: the credentials come from the secret")
