"""A FastAPI service configured from two secrets that it follows through their rotations.

What it shows:

- one settings model fed by two secrets: the database credentials from the JSON object
  of ``prod/app/db`` (pydantic-settings' own mapping, ``AWSSecretsManagerSettingsSource``)
  and one key of ``prod/app/payments`` (``FromSecret``: no source per field), then the
  environment;
- ``live_settings``: every request gets the current model, the same object until a
  secret rotates, then the model rebuilt once; within the cache's TTL a request costs
  no API call;
- the dependency is ``async`` and awaits ``aget()``: a reload waits on Secrets Manager in
  a worker thread, never on the event loop (a plain ``def`` dependency calling ``get()``
  works too: FastAPI runs those in its thread pool);
- a rotated value the model refuses (a port that is not a number) keeps the last good
  settings; ``/healthz`` says so, naming the field, never the value.

Run it (a real account, or a moto server)::

    pip install 'secretcache[pydantic]' fastapi uvicorn
    uvicorn examples.fastapi_settings:app
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations,
# and ``CurrentSettings`` is local to create_app.
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from pydantic import SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from secretcache import SecretCache, SecretFormatError
from secretcache.integrations.pydantic_settings import (
    AWSSecretsManagerSettingsSource,
    FromSecret,
    SecretFieldsSettingsSource,
    live_settings,
)

DB_SECRET = "prod/app/db"  # {"username": ..., "password": ..., "host": ..., "port": ...}
PAYMENTS_SECRET = "prod/app/payments"  # {"api_key": ..., "webhook_secret": ...}


class Settings(BaseSettings):
    """Everything the service needs: two secrets first, then the environment."""

    # Input values stay out of pydantic's own messages, for constructions outside
    # live_settings too (live_settings reports locations and error types only anyway).
    model_config = SettingsConfigDict(hide_input_in_errors=True)

    # The RDS secret's JSON object, key by key (AWSSecretsManagerSettingsSource).
    host: str
    port: int
    username: str
    password: SecretStr
    # One key of another secret (FromSecret, served by SecretFieldsSettingsSource).
    payments_key: Annotated[SecretStr, FromSecret(PAYMENTS_SECRET, "api_key")]
    # From the environment (LOG_LEVEL), or the default.
    log_level: str = "info"

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], **sources: PydanticBaseSettingsSource
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Init arguments, the two secrets, then the environment (earlier ones win)."""
        # No cache named here: inside live_settings, the live object's cache reads.
        return (
            sources["init_settings"],
            AWSSecretsManagerSettingsSource(settings_cls, DB_SECRET),
            SecretFieldsSettingsSource(settings_cls),
            sources["env_settings"],
        )


def create_app(cache: SecretCache) -> FastAPI:
    """Build the service on ``cache`` (tests pass one on moto and a fake clock)."""
    refused: list[str] = []

    def remember(error: SecretFormatError) -> None:
        refused[:] = [str(error)]  # the message names locations and error types only

    live = live_settings(Settings, cache=cache, on_error=remember)

    async def current_settings() -> Settings:
        return await live.aget()

    app = FastAPI()
    CurrentSettings = Annotated[Settings, Depends(current_settings)]

    @app.get("/whoami")
    async def whoami(settings: CurrentSettings) -> dict[str, Any]:
        return {
            "db": f"{settings.username}@{settings.host}:{settings.port}",
            "log_level": settings.log_level,
            "payments_configured": bool(settings.payments_key.get_secret_value()),
        }

    @app.get("/healthz")
    async def healthz(settings: CurrentSettings) -> dict[str, Any]:
        return {"settings": "ok" if not refused else "last good kept", "refused": refused}

    return app


app = create_app(SecretCache())
