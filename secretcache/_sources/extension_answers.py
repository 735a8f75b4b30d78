"""Read what the Lambda extension or the Secrets Manager Agent answered, without I/O.

``answer(secret_id, status, body)`` returns the ``Secret`` a 200 carries or raises the
typed error any other answer means, through the one code table (``_core.errors``).

What an answer means (checked against the Agent's server):

- 200: GetSecretValue's JSON (CreatedDate as epoch seconds, a numeric string or ISO
  text; SecretBinary base64). Anything unreadable is an outage, code MalformedResponse.
- an error with a JSON body carrying ``__type``: that AWS code, through the table, whatever
  the status (moto answers 404 where AWS answers 400); the Agent's 504 ``TimeoutError``
  and 502 ``ConnectionError`` are not AWS codes and fall back to their status: outages.
- 403 without a code ("Bad Token"): SecretCredentialsError, code BadToken.
- 429 (too many connections): throttled; other 5xx: outages.
- not ready (503, or a 400 whose text says "not ready", as during Lambda's INIT phase):
  code ExtensionNotReady, which the transports retry briefly.
- anything else without a code (a 404 page: not an extension at that port): an outage,
  code ExtensionProtocolError, never a value and never a terminal answer.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .._core.errors import error_from_code
from .._core.rules import NOT_READY
from ..exceptions import (
    InvalidSecretRequestError,
    SecretCacheError,
    SecretCredentialsError,
    SecretsManagerThrottledError,
    SecretsManagerUnavailableError,
)
from .answers import secret_from_response

if TYPE_CHECKING:
    from .._core.models import Secret

__all__ = ["answer", "error_answer"]

_NOT_READY_TEXT = r"(?i)not\s+ready"
_OPERATION = "GetSecretValue"


def answer(
    secret_id: str,
    status: int,
    body: bytes,
    *,
    version_stage: str | None = None,
    version_id: str | None = None,
) -> Secret:
    """Return the Secret a 200 carries, or raise the typed error any other answer means."""
    context: dict[str, Any] = {
        "secret_id": secret_id,
        "version_stage": None if version_id is not None else version_stage or "AWSCURRENT",
        "version_id": version_id,
    }
    if status == 200:
        try:
            return secret_from_response(secret_id, _fields(secret_id, body))
        except BaseException:
            body = b""  # error trackers read this frame's locals after it ends
            raise
    raise error_answer(status, body, context)


def error_answer(status: int, body: bytes, context: dict[str, Any]) -> SecretCacheError:
    """Return the typed error for a non-200 answer (its body holds no secret value)."""
    text = body[:4096].decode("utf-8", "replace").strip()
    code, message = _error_code(text)
    if code:
        return error_from_code(code, message, status=status, operation=_OPERATION, **context)
    if status == 503 or re.search(_NOT_READY_TEXT, text):
        return SecretsManagerUnavailableError(
            f"the extension is not ready yet (HTTP {status})",
            code=NOT_READY,
            status_code=status,
            operation=_OPERATION,
            **context,
        )
    if status == 403:
        return SecretCredentialsError(
            "the extension refused its token (HTTP 403): the token sent is not the one it "
            "expects (in Lambda: AWS_SESSION_TOKEN; for the Agent: its token file)",
            code="BadToken",
            status_code=status,
            operation=_OPERATION,
            **context,
        )
    if status == 429:
        return SecretsManagerThrottledError(
            "the extension is serving too many connections (HTTP 429)",
            code="TooManyConnections",
            status_code=status,
            operation=_OPERATION,
            **context,
        )
    if status == 400 and text.lower().startswith("unknown parameter"):
        return InvalidSecretRequestError(
            f"the endpoint does not accept this request: {text[:120]}",
            code="UnsupportedParameter",
            status_code=status,
            operation=_OPERATION,
            **context,
        )
    if status >= 500:
        return SecretsManagerUnavailableError(
            f"the extension failed (HTTP {status})",
            code="InternalFailure",
            status_code=status,
            operation=_OPERATION,
            **context,
        )
    return SecretsManagerUnavailableError(
        f"the endpoint answered HTTP {status} without an AWS error code: is the Lambda "
        "extension or the Secrets Manager Agent listening there?",
        code="ExtensionProtocolError",
        status_code=status,
        operation=_OPERATION,
        **context,
    )


def _error_code(text: str) -> tuple[str, str]:
    """Return (``__type``, message) from a JSON error body; ("", "") if it has none."""
    if not text.startswith("{"):
        return "", ""
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return "", ""
    if not isinstance(parsed, dict) or not isinstance(parsed.get("__type"), str):
        return "", ""
    # AWS JSON protocols may prefix the code: "com.amazonaws.secretsmanager#Code".
    code = parsed["__type"].rsplit("#", 1)[-1].strip()
    message = parsed.get("message", parsed.get("Message", ""))
    return code, message if isinstance(message, str) else ""


def _malformed(secret_id: str, what: str) -> SecretsManagerUnavailableError:
    return SecretsManagerUnavailableError(
        f"the extension's answer is not a GetSecretValue result ({what})",
        code="MalformedResponse",
        secret_id=secret_id,
        operation=_OPERATION,
    )


_TEXT_FIELDS = ("ARN", "Name", "VersionId", "SecretString")


def _fields(secret_id: str, body: bytes) -> dict[str, Any]:
    """Return GetSecretValue's fields from a 200's JSON, typed as botocore types them."""
    problem = None
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        parsed, problem = None, "not JSON"
    body = b""  # the value is in ``parsed`` alone from here, and leaves this frame with it
    if problem is None and not isinstance(parsed, dict):
        parsed, problem = None, "not a JSON object"
    if problem is None:
        assert isinstance(parsed, dict)
        problem = _check_types(parsed)
    if problem is not None:
        parsed = None
        raise _malformed(secret_id, problem)
    assert isinstance(parsed, dict)
    binary = parsed.get("SecretBinary")
    if binary is not None:
        try:
            parsed["SecretBinary"] = base64.b64decode(binary, validate=True)
        except (binascii.Error, ValueError):
            parsed = binary = None
            raise _malformed(secret_id, "SecretBinary is not base64") from None
        binary = None
    parsed["CreatedDate"] = _moment(parsed.get("CreatedDate"))
    return parsed


def _check_types(parsed: dict[str, Any]) -> str | None:
    for name in _TEXT_FIELDS:
        if parsed.get(name) is not None and not isinstance(parsed[name], str):
            return f"{name} is not a string"
    if parsed.get("SecretBinary") is not None and not isinstance(parsed["SecretBinary"], str):
        return "SecretBinary is not base64 text"
    stages = parsed.get("VersionStages")
    if stages is not None and not (
        isinstance(stages, list) and all(isinstance(s, str) for s in stages)
    ):
        return "VersionStages is not a list of strings"
    return None


def _moment(raw: object) -> datetime | None:
    """Return CreatedDate as an aware datetime: epoch seconds (number or text) or ISO."""
    try:
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return datetime.fromtimestamp(raw, timezone.utc)
        if isinstance(raw, str) and raw.strip():
            text = raw.strip()
            try:
                return datetime.fromtimestamp(float(text), timezone.utc)
            except ValueError:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
                return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError, OSError):
        pass
    return None  # absent or unreadable: the cache then orders versions without it
