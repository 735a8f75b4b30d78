"""The backend's DatabaseWrapper: Django's postgresql one, logging in with the secret."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    from django.core.exceptions import ImproperlyConfigured
    from django.db.backends.postgresql import base
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "secretcache.integrations.django.postgresql needs Django and psycopg:"
        " pip install 'secretcache[django]'"
    ) from exc

from ..._login import login, reader
from ..._rds import credentials, location

if TYPE_CHECKING:
    from ...._core.models import Secret

__all__ = ["DatabaseWrapper"]


class DatabaseWrapper(base.DatabaseWrapper):
    """Django's PostgreSQL connection, logging in with the DATABASES entry's SECRET_ID."""

    def __init__(self, settings_dict: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(settings_dict, *args, **kwargs)
        secret_id = settings_dict.get("SECRET_ID")
        if not isinstance(secret_id, str) or not secret_id:
            raise ImproperlyConfigured(
                f"DATABASES[{self.alias!r}] uses {__package__}: set SECRET_ID to the name or"
                " ARN of the database secret"
            )
        if settings_dict.get("USER") or settings_dict.get("PASSWORD"):
            raise ImproperlyConfigured(
                f"DATABASES[{self.alias!r}]: leave USER and PASSWORD out; they come from"
                f" the secret {secret_id!r}"
            )
        if settings_dict.get("OPTIONS", {}).get("pool"):
            raise ImproperlyConfigured(
                f"DATABASES[{self.alias!r}]: OPTIONS['pool'] is not supported with"
                f" {__package__} (its connections would keep the first password); use"
                " CONN_MAX_AGE for persistent connections"
            )
        self.secret_id = secret_id

    def get_connection_params(self) -> dict[str, Any]:
        """Return Django's parameters, with NAME, HOST and PORT from the secret unless set."""
        where = location(self._current())
        configured = self.settings_dict
        # Django's method reads self.settings_dict; this wrapper belongs to one thread.
        self.settings_dict = {
            **configured,
            "NAME": where.dbname or "" if configured["NAME"] == "" else configured["NAME"],
            "HOST": configured["HOST"] or where.host or "",
            "PORT": configured["PORT"] or where.port or "",
        }
        try:
            return super().get_connection_params()
        finally:
            self.settings_dict = configured

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        """Open the connection with the secret's credentials, recovering from a rotation."""
        connect = super().get_new_connection
        return login(
            self._cache(),
            self.secret_id,
            lambda secret: connect({**conn_params, **credentials(secret)}),
        )

    def _cache(self) -> Any:
        return reader(self.settings_dict.get("SECRET_CACHE"))

    def _current(self) -> Secret:
        found: Secret = self._cache().get_secret(self.secret_id)
        return found
