"""Turn a Secret into text, bytes, parsed JSON or one field, with value-free errors."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..exceptions import SecretFieldError, SecretFormatError

if TYPE_CHECKING:
    from .models import Secret

__all__ = ["as_binary", "as_string", "copy_json", "field_of", "parse_json"]


def _context(secret: Secret) -> dict[str, Any]:
    return {"secret_id": secret.secret_id, "version_id": secret.version_id}


def as_string(secret: Secret) -> str:
    """Return the SecretString, or raise SecretFormatError for a binary secret."""
    if secret.secret_string is None:
        raise SecretFormatError(
            "the secret holds SecretBinary, not SecretString: use get_secret_binary()",
            code="SecretIsBinary",
            **_context(secret),
        )
    return secret.secret_string


def as_binary(secret: Secret) -> bytes:
    """Return the SecretBinary, or the SecretString encoded as UTF-8."""
    if secret.secret_binary is not None:
        return secret.secret_binary
    return as_string(secret).encode("utf-8")


def parse_json(secret: Secret) -> Any:
    """Parse the SecretString as JSON; errors say where, never what (no value text)."""
    try:
        return json.loads(as_string(secret))
    except SecretFormatError:
        raise  # binary, not text: as_string said so
    except json.JSONDecodeError as exc:
        problem = f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    except RecursionError:
        problem = "is JSON nested too deeply to parse"
    except ValueError:
        # int() refuses numbers beyond sys.get_int_max_str_digits() (4,300 by default).
        problem = "holds a JSON number with too many digits to convert"
    # Raised outside the except block, so not even ``__context__`` holds the decoder's
    # error: JSONDecodeError keeps the whole document in ``exc.doc``.
    raise SecretFormatError(f"SecretString {problem}", code="InvalidJSON", **_context(secret))


def field_of(secret: Secret, parsed: Any, field: str) -> Any:
    """Return one field of a parsed JSON object."""
    if isinstance(parsed, dict):
        try:
            return parsed[field]
        except KeyError:
            pass  # raised below, outside the except block: no KeyError as its context
    kind = "object" if isinstance(parsed, dict) else _json_kind(parsed)
    # Error trackers record this frame's locals with the traceback: not the document.
    del parsed
    if kind != "object":
        raise SecretFormatError(
            f"SecretString is a JSON {kind}, not an object: it has no fields",
            code="NotJSONObject",
            **_context(secret),
        )
    raise SecretFieldError(
        f"the secret's JSON object has no field {field!r}",
        code="MissingField",
        **_context(secret),
    )


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def copy_json(secret: Secret, value: Any) -> Any:
    """Return the caller's own deep copy of ``secret``'s parsed JSON (or part of it)."""
    try:
        return _copy(value)
    except RecursionError:
        pass
    del value  # not in this frame's locals, which error trackers record
    # Raised outside the except block: no half-copied document in ``__context__``.
    raise SecretFormatError(
        "SecretString is JSON nested too deeply to copy", code="InvalidJSON", **_context(secret)
    )


def _copy(value: Any) -> Any:
    # Far cheaper than copy.deepcopy: JSON holds no cycles and no custom types.
    if isinstance(value, dict):
        return {k: _copy(v) if isinstance(v, (dict, list)) else v for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) if isinstance(v, (dict, list)) else v for v in value]
    return value
