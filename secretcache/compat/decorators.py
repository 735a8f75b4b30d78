"""The official decorators: InjectSecretString and InjectKeywordedSecretString.

Both read the secret at every call (never at decoration), through the cache given.
Their injection rules are aws-secretsmanager-caching's, kept exactly because existing
code is written against them:

- ``InjectSecretString(secret_id, cache)`` passes the SecretString as the first
  positional argument; if the first argument's class has an attribute named like the
  function (a method called on its instance), the string goes right after it instead.
- ``InjectKeywordedSecretString(secret_id, cache, **mapping)`` parses the SecretString
  as JSON and passes ``parameter=document[key]`` for each ``parameter=key`` of the
  mapping; it raises RuntimeError at call time if the secret is not JSON or lacks a key.

secretcache's own ``inject_secret`` injects by keyword, keeps explicit arguments, and
supports async functions; use it for new code.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["InjectKeywordedSecretString", "InjectSecretString"]


class _StringReader(Protocol):
    def get_secret_string(self, secret_id: str, version_stage: str | None = None) -> Any: ...


class InjectSecretString:
    """Decorate a function to receive the secret's string as its first argument."""

    def __init__(self, secret_id: str, cache: _StringReader) -> None:
        self.cache = cache
        self.secret_id = secret_id

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Return ``func`` wrapped to receive the secret at every call."""
        name = getattr(func, "__name__", None)

        @functools.wraps(func)
        def _wrapped_func(*args: Any, **kwargs: Any) -> Any:
            # The secret travels inside the call expression, never in a local of this
            # frame, which would sit on the traceback of anything func raises.
            if args and name is not None and hasattr(args[0].__class__, name):
                return func(
                    args[0],
                    self.cache.get_secret_string(secret_id=self.secret_id),
                    *args[1:],
                    **kwargs,
                )
            return func(self.cache.get_secret_string(secret_id=self.secret_id), *args, **kwargs)

        return _wrapped_func


class InjectKeywordedSecretString:
    """Decorate a function to receive fields of the secret's JSON as keyword arguments."""

    def __init__(self, secret_id: str, cache: _StringReader, **kwargs: str) -> None:
        self.cache = cache
        self.kwarg_map = kwargs
        self.secret_id = secret_id

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Return ``func`` wrapped to receive the mapped fields at every call."""

        @functools.wraps(func)
        def _wrapped_func(*args: Any, **kwargs: Any) -> Any:
            return func(*args, **self._fields(), **kwargs)

        return _wrapped_func

    def _fields(self) -> dict[str, Any]:
        picked = _pick(self.cache.get_secret_string(secret_id=self.secret_id), self.kwarg_map)
        if isinstance(picked, str):
            # Raised here, outside any except block: no JSONDecodeError (which holds
            # the document) or KeyError rides along as the context.
            raise RuntimeError(picked)
        return picked


def _pick(document: Any, mapping: Mapping[str, str]) -> dict[str, Any] | str:
    """Return {parameter: value} from the JSON ``document``, or why that is impossible."""
    if document is None:
        return "Cached secret has no SecretString"
    try:
        parsed = json.loads(document)
    except (TypeError, ValueError, RecursionError):
        return "Cached secret is not valid JSON"
    if not isinstance(parsed, dict):
        return "Cached secret is not a JSON object"
    missing = [key for key in mapping.values() if key not in parsed]
    if missing:
        return f"Cached secret does not contain key {missing[0]}"
    return {parameter: parsed[key] for parameter, key in mapping.items()}
