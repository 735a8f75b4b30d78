"""What the pydantic-settings tests share: a call counter for every client, two models.

``every_client_counted()`` counts the API calls of every client built from boto3's
default session while it is active (a botocore ``before-call`` hook on the session:
clients copy its handlers when they are built), so pydantic-settings' own source, which
builds a client per construction, is counted the same way as ours.
"""

from __future__ import annotations

import json
from collections import Counter
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import boto3
from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mypy_boto3_secretsmanager import SecretsManagerClient

DB, API = "app/db", "app/api"


@contextmanager
def every_client_counted() -> Iterator[Counter[str]]:
    """Count API calls (by operation) of clients built from boto3's default session."""
    counts: Counter[str] = Counter()

    def count(model: Any, **kwargs: Any) -> None:
        counts[model.name] += 1

    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    assert session is not None
    unique = f"settings-count-{id(counts)}"
    session.events.register("before-call.secrets-manager", count, unique_id=unique)
    try:
        yield counts
    finally:
        session.events.unregister("before-call.secrets-manager", unique_id=unique)


def create_app_secrets(admin: SecretsManagerClient, password: str) -> None:
    """Create the two secrets the app model reads (``password`` in the first)."""
    db = {"db--host": "db.internal", "db--port": "5432", "db--password": password}
    admin.create_secret(Name=DB, SecretString=json.dumps(db))
    admin.create_secret(Name=API, SecretString=json.dumps({"api_token": "t0ken"}))


class Database(BaseModel):
    """The nested part of the app model (``db--...`` keys)."""

    host: str
    port: int
    password: SecretStr


class AppBase(BaseSettings):
    """A service's settings backed by two secrets; subclasses pick the sources."""

    db: Database
    api_token: SecretStr

    #: (source class, keyword arguments) for both secrets; set by app_settings().
    source_class: ClassVar[tuple[Any, dict[str, Any]]]

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], **sources: PydanticBaseSettingsSource
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read each secret with the configured source class."""
        make, kwargs = cls.source_class
        return (make(settings_cls, DB, **kwargs), make(settings_cls, API, **kwargs))


def app_settings(source: type[Any], **kwargs: Any) -> type[AppBase]:
    """Return the app model reading its two secrets with ``source(..., **kwargs)``."""
    return type("AppSettings", (AppBase,), {"source_class": (source, kwargs)})
