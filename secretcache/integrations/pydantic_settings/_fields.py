"""FromSecret: one field from one secret (or one key of its JSON), no source per field.

::

    class Settings(BaseSettings):
        db_password: Annotated[SecretStr, FromSecret("prod/db", "password")]
        api_token: Annotated[SecretStr, FromSecret("prod/api-token")]  # the whole string

        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings, *_):
            return (init_settings, SecretFieldsSettingsSource(settings_cls, cache=cache))

One ``SecretFieldsSettingsSource`` serves every field so marked; each secret is read
once per construction however many fields it feeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic_settings import PydanticBaseSettingsSource

from ._reads import check_cache, check_location, check_secret, json_object, read

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo
    from pydantic_settings import BaseSettings
    from pydantic_settings.sources.utils import InitState

    from ..._cache import SecretCache
    from ..._core.models import Secret

__all__ = ["FromSecret", "SecretFieldsSettingsSource"]


@dataclass(frozen=True)
class FromSecret:
    """Mark a field (``Annotated[T, FromSecret(...)]``) as read from a secret.

    Args:
        secret_id: the secret's name or ARN.
        key: a key of the secret's JSON object; ``None`` takes the whole SecretString
            (or SecretBinary). A key the object lacks leaves the field out, so its
            default applies (or pydantic reports it ``missing``).
        version_id: a pinned VersionId instead of AWSCURRENT.
    """

    secret_id: str
    key: str | None = None
    version_id: str | None = None

    def __post_init__(self) -> None:
        checked = check_secret(self.secret_id, self.version_id)
        object.__setattr__(self, "version_id", checked[1])
        if self.key is not None and not isinstance(self.key, str):
            raise TypeError(f"key must be a str or None, not {type(self.key).__name__}")


def _marker(field: FieldInfo) -> FromSecret | None:
    return next((m for m in field.metadata if isinstance(m, FromSecret)), None)


def _field_key(name: str, field: FieldInfo) -> str:
    """Return the key pydantic validates the field from: its alias if it has one."""
    alias = field.validation_alias
    if isinstance(alias, str):
        return alias
    return field.alias or name


class SecretFieldsSettingsSource(PydanticBaseSettingsSource):
    """Fill each ``FromSecret``-marked field of the model from its secret.

    Reads like ``AWSSecretsManagerSettingsSource``: through ``cache=``, or the
    ``live_settings`` cache, or once per construction with a client built then
    (``region_name``/``endpoint_url`` are for that client only).
    """

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        *,
        cache: SecretCache | None = None,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        _init_state: InitState | None = None,
    ) -> None:
        self._cache = check_cache(cache)
        check_location(self._cache, region_name, endpoint_url)
        self._region_name = region_name
        self._endpoint_url = endpoint_url
        if _init_state is None:
            super().__init__(settings_cls)
        else:
            super().__init__(settings_cls, _init_state)
        self._fields = {
            _field_key(name, field): marker
            for name, field in settings_cls.model_fields.items()
            if (marker := _marker(field)) is not None
        }

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Not used: ``__call__`` reads each secret once for all its fields."""
        raise NotImplementedError("SecretFieldsSettingsSource fills fields in __call__")

    def __call__(self) -> dict[str, Any]:
        """Return ``{field key: value}`` for each marked field whose value exists."""
        # Every secret first (Secret objects never show their values), then the JSON
        # objects: a failure leaves no value of another field in this frame's locals.
        secrets: dict[tuple[str, str | None], Secret] = {}
        for marker in self._fields.values():
            where = (marker.secret_id, marker.version_id)
            if where not in secrets:
                secrets[where] = read(
                    marker.secret_id,
                    marker.version_id,
                    cache=self._cache,
                    region_name=self._region_name,
                    endpoint_url=self._endpoint_url,
                )
        keyed = {(m.secret_id, m.version_id) for m in self._fields.values() if m.key is not None}
        objects: dict[tuple[str, str | None], dict[str, Any]] = {}
        try:
            for where in keyed:
                objects[where] = json_object(secrets[where])
        except Exception:
            objects.clear()
            raise
        data: dict[str, Any] = {}
        for field_key, marker in self._fields.items():
            where = (marker.secret_id, marker.version_id)
            if marker.key is None:
                data[field_key] = secrets[where].value
            elif marker.key in objects[where]:
                data[field_key] = objects[where][marker.key]
        return data

    def __repr__(self) -> str:
        secret_ids = sorted({m.secret_id for m in self._fields.values()})
        return f"{self.__class__.__name__}(secret_ids={secret_ids!r})"
