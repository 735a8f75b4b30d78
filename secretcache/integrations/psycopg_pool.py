"""psycopg_pool pools that log in with a rotating secret and hand a refusal to the caller.

::

    from secretcache.integrations.psycopg_pool import ConnectionPool
    pool = ConnectionPool("prod/db", cache=cache, min_size=4, max_size=8)
    with pool.connection() as conn: ...

Every connection the pool opens logs in as ``secretcache.integrations.psycopg``'s
``connection_class`` does (recovering from a rotation). A plain psycopg_pool pool logs
a login its worker could not make and keeps its callers waiting for the whole
``timeout`` (30 s), then raises ``PoolTimeout`` without the reason. These pools fail
the callers waiting at once when a login is refused for its credentials (after the
login's own recovery found nothing), and fail new callers at once while no connection
is idle and the last login was refused: with ``psycopg.OperationalError`` whose
``__cause__`` is the driver's authentication error. The next login that succeeds ends
that. ``AsyncConnectionPool`` is the same for ``psycopg_pool.AsyncConnectionPool``.

Install with ``pip install 'secretcache[psycopg]'``; ``import secretcache`` never
imports this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    import psycopg
    import psycopg_pool
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "secretcache.integrations.psycopg_pool needs psycopg 3 and psycopg_pool:"
        " pip install 'secretcache[psycopg]'"
    ) from exc

from ._gate import is_auth_failure
from .psycopg import async_connection_class, connection_class

if TYPE_CHECKING:
    from .._cache import SecretCache
    from ..aio import AsyncSecretCache

__all__ = ["AsyncConnectionPool", "ConnectionPool"]


def _check(kwargs: dict[str, Any]) -> None:
    if "connection_class" in kwargs:
        raise TypeError("connection_class: the pool's connections log in with the secret")


class _Refusals:
    """What both pools add: the last refused login, and the errors it gives callers."""

    name: str
    _pool: Any
    _waiting: Any
    _refused: BaseException | None = None

    def _fail_fast(self) -> None:
        """Raise the refusal while logins are refused and no connection is idle."""
        refused = self._refused
        if refused is not None and not self._pool:
            raise self._refusal(refused)

    def _landed(self, exc: BaseException | None) -> list[Any]:
        """Record a login's outcome; return the callers to fail (hold the pool's lock)."""
        if exc is None or not is_auth_failure(exc):
            if exc is None:
                self._refused = None
            return []
        self._refused = exc
        waiting = list(self._waiting)
        self._waiting.clear()
        return waiting

    def _refusal(self, refused: BaseException) -> psycopg.OperationalError:
        """Return the error a caller gets for a refused login (its cause: the driver's)."""
        error = psycopg.OperationalError(f"pool {self.name!r} could not log in: {refused}")
        error.__cause__ = refused
        return error


class ConnectionPool(_Refusals, psycopg_pool.ConnectionPool):
    """A ``psycopg_pool.ConnectionPool`` logging in with ``secret_id``'s credentials."""

    def __init__(
        self, secret_id: str, *, cache: SecretCache | None = None, conninfo: str = "", **kwargs: Any
    ) -> None:
        _check(kwargs)
        klass = connection_class(secret_id, cache=cache)
        super().__init__(conninfo, connection_class=klass, **kwargs)

    def getconn(self, timeout: float | None = None) -> Any:
        """Return a connection; fail at once while logins are refused and none is idle."""
        self._fail_fast()
        return super().getconn(timeout)

    def _connect(self, timeout: float | None = None) -> Any:
        try:
            conn = super()._connect(timeout)
        except Exception as exc:
            with self._lock:
                waiting = self._landed(exc)
            for client in waiting:
                client.fail(self._refusal(exc))
            raise
        self._landed(None)
        return conn


class AsyncConnectionPool(_Refusals, psycopg_pool.AsyncConnectionPool):
    """A ``psycopg_pool.AsyncConnectionPool`` logging in with ``secret_id``'s credentials."""

    def __init__(
        self,
        secret_id: str,
        *,
        cache: SecretCache | AsyncSecretCache | None = None,
        conninfo: str = "",
        **kwargs: Any,
    ) -> None:
        _check(kwargs)
        klass = async_connection_class(secret_id, cache=cache)
        super().__init__(conninfo, connection_class=klass, **kwargs)

    async def getconn(self, timeout: float | None = None) -> Any:
        """Return a connection; fail at once while logins are refused and none is idle."""
        self._fail_fast()
        return await super().getconn(timeout)

    async def _connect(self, timeout: float | None = None) -> Any:
        try:
            conn = await super()._connect(timeout)
        except Exception as exc:
            async with self._lock:
                waiting = self._landed(exc)
            for client in waiting:
                await client.fail(self._refusal(exc))
            raise
        self._landed(None)
        return conn
