"""pydantic-settings backed by a SecretCache: sources, and settings that follow rotations.

- ``AWSSecretsManagerSettingsSource``: a drop-in for pydantic-settings' class of that
  name (same constructor, field mapping, ``--`` nesting, repr), plus ``cache=``.
- ``FromSecret`` and ``SecretFieldsSettingsSource``: one field from one key of a
  secret's JSON (or the whole secret), for every marked field, in one source.
- ``live_settings(Settings, cache=..., on_error=...)``: ``.get()`` returns the same model
  until a backing secret's version changes, then the model rebuilt once; ``aget()`` for
  async code.
- ``SettingsValidationError``: what a refused value becomes, with no value in it.

Install with ``pip install 'secretcache[pydantic]'``; ``import secretcache`` never imports
this package (or pydantic).
"""

from __future__ import annotations

try:
    import pydantic_settings as _pydantic_settings  # noqa: F401  (the extra is installed?)
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "secretcache.integrations.pydantic_settings needs pydantic-settings: "
        "pip install 'secretcache[pydantic]'"
    ) from exc

from ._errors import SettingsValidationError
from ._fields import FromSecret, SecretFieldsSettingsSource
from ._live import LiveSettings, live_settings
from ._source import AWSSecretsManagerSettingsSource

__all__ = [
    "AWSSecretsManagerSettingsSource",
    "FromSecret",
    "LiveSettings",
    "SecretFieldsSettingsSource",
    "SettingsValidationError",
    "live_settings",
]
