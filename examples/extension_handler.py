"""A Lambda handler that reads its secret through the Parameters and Secrets extension.

Deployed by ``examples/template.yaml`` as ``ExtensionFunction``, with the AWS Parameters
and Secrets Lambda Extension layer (its ARN is a template parameter: it differs per
region and architecture). What it shows:

- ``SecretCache()`` at module level chooses the extension by itself: in Lambda, with the
  layer configured (``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT``, set by the template),
  it reads over HTTP on localhost with the function's ``AWS_SESSION_TOKEN``. No
  botocore is imported on this path: the cold start pays for the interpreter and
  ``http.client``. Building the cache makes no request, so nothing runs during INIT;
- the first read happens in the handler, in the INVOKE phase, where the extension
  serves. A read it refuses as not ready (or any outage) is a 503 with Retry-After,
  never a value cached as if it were the secret;
- a replica region (``FALLBACK_REGIONS``) is read through the SDK, built only if the
  extension fails (its botocore import is paid then, not at the cold start);
- typed errors as HTTP answers, as in ``lambda_handler.py``, and no value in a log.

Run it locally against ``secretcache.testing.ExtensionEmulator`` (see
``tests/test_example_extension.py``).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from secretcache import (
    SecretAccessDeniedError,
    SecretCache,
    SecretCacheError,
    SecretDeletedError,
    SecretNotFoundError,
    SecretsManagerUnavailableError,
)

SECRET_ID = os.environ["SECRET_ID"]
FALLBACK_REGIONS = tuple(r for r in os.environ.get("FALLBACK_REGIONS", "").split(",") if r)
RETRY_AFTER_SECONDS = 1

logger = logging.getLogger("extension_handler")
# No request here: the extension serves only once INIT is over.
cache = SecretCache(fallback_regions=FALLBACK_REGIONS)


# Which HTTP status each typed error becomes (the first class that matches).
STATUS_FOR: tuple[tuple[type[SecretCacheError] | tuple[type[SecretCacheError], ...], int], ...] = (
    (SecretAccessDeniedError, 403),
    ((SecretNotFoundError, SecretDeletedError), 404),
    (SecretsManagerUnavailableError, 503),  # the extension not ready yet, or an outage
)


def error_response(exc: SecretCacheError) -> dict[str, Any]:
    """Turn a typed secretcache error into an HTTP answer (its text holds no value)."""
    status = next((code for kind, code in STATUS_FOR if isinstance(exc, kind)), 500)
    logger.warning("secret %s not readable: %s (%s)", SECRET_ID, type(exc).__name__, exc.code)
    retry = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else {}
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **retry},
        "body": json.dumps({"error": type(exc).__name__, "code": exc.code}),
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer with the database user name (never the password), or a typed error."""
    try:
        username = cache.get_secret_field(SECRET_ID, "username")
        has_password = bool(cache.get_secret_field(SECRET_ID, "password"))
    except SecretCacheError as exc:
        return error_response(exc)
    body = {
        "username": username,
        "has_password": has_password,
        "api_calls": cache.stats().api_calls,
    }
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }
