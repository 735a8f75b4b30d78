"""AWSSecretsManagerSettingsSource: pydantic-settings' source, read through a SecretCache."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic_settings import EnvSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

from ._reads import check_cache, check_location, check_secret, json_object, read

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pydantic_settings import BaseSettings
    from pydantic_settings.sources.utils import InitState

    from ..._cache import SecretCache

__all__ = ["AWSSecretsManagerSettingsSource"]


class AWSSecretsManagerSettingsSource(EnvSettingsSource):
    """Settings from one secret's JSON object, as pydantic-settings' own source reads them.

    The constructor, the field mapping (``--`` nests: ``{"db--password": ...}`` fills
    ``db.password``), ``case_sensitive``, ``env_prefix``, ``version_id`` and the repr are
    pydantic-settings'. What differs is how the secret is read:

    - ``cache=`` a ``SecretCache``: through it, so constructions within the TTL make no
      API call and a rotation is picked up when the entry expires. ``region_name`` and
      ``endpoint_url`` are then refused: the cache's client has its own.
    - no cache, inside ``live_settings``: through the live object's cache.
    - no cache otherwise: one GetSecretValue per construction with a client built then,
      from boto3's default session, as pydantic-settings does.

    Errors are secretcache's typed tree (``SecretNotFoundError``,
    ``SecretAccessDeniedError``, ``SecretFormatError`` for a value that is not a JSON
    object...), and none shows any part of the value.
    """

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        secret_id: str,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        case_sensitive: bool | None = True,
        env_prefix: str | None = None,
        env_nested_delimiter: str | None = "--",
        env_parse_none_str: str | None = None,
        env_parse_enums: bool | None = None,
        version_id: str | None = None,
        _init_state: InitState | None = None,
        *,
        cache: SecretCache | None = None,
    ) -> None:
        self._cache = check_cache(cache)
        check_location(self._cache, region_name, endpoint_url)
        self._secret_id, self._version_id = check_secret(secret_id, version_id)
        self._region_name = region_name
        self._endpoint_url = endpoint_url
        # pydantic-settings < 2.15 has no _init_state: pass it only when given.
        extra: dict[str, Any] = {} if _init_state is None else {"_init_state": _init_state}
        # EnvSettingsSource reads (calls _load_env_vars) in its constructor: set up first.
        super().__init__(
            settings_cls,
            case_sensitive=case_sensitive,
            env_prefix=env_prefix,
            env_nested_delimiter=env_nested_delimiter,
            env_ignore_empty=False,
            env_parse_none_str=env_parse_none_str,
            env_parse_enums=env_parse_enums,
            **extra,
        )

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # The value goes from the read straight into the calls: no local of this frame
        # holds it if parsing raises.
        return parse_env_vars(
            json_object(
                read(
                    self._secret_id,
                    self._version_id,
                    cache=self._cache,
                    region_name=self._region_name,
                    endpoint_url=self._endpoint_url,
                )
            ),
            self.case_sensitive,
            self.env_ignore_empty,
            self.env_parse_none_str,
        )

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(secret_id={self._secret_id!r}, "
            f"env_nested_delimiter={self.env_nested_delimiter!r})"
        )
