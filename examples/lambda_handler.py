"""A Lambda handler that reads database credentials through secretcache.

Deployed by ``examples/template.yaml`` (AWS SAM). What it shows:

- one module-level ``SecretCache``, reused across warm invocations: the first
  invocation costs one GetSecretValue, later ones none until the TTL runs out, and
  a rotated secret is picked up after the TTL without a redeploy;
- ``@inject_secret``: the secret is read when the function is called, never at import;
- a Powertools ``Logger`` with structured logs that name the secret, never its value;
- typed errors turned into HTTP answers: denied -> 403, not found or scheduled for
  deletion -> 404, Secrets Manager unavailable or throttling -> 503 with Retry-After;
- a regional outage survived: the secret is replicated, and the cache reads the
  replica when the function's own region fails (``fallback_regions``).

Configuration comes from the environment: ``SECRET_ID`` (the template passes the
secret's ARN), ``FALLBACK_REGIONS`` (comma-separated regions holding replicas),
``SECRETCACHE_TTL`` (seconds; read by ``SecretCache`` itself) and
``POWERTOOLS_SERVICE_NAME`` / ``POWERTOOLS_LOG_LEVEL`` (read by the Logger).
"""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools import Logger

from secretcache import (
    SecretAccessDeniedError,
    SecretCache,
    SecretCacheError,
    SecretDeletedError,
    SecretNotFoundError,
    SecretsManagerUnavailableError,
    inject_secret,
)

SECRET_ID = os.environ["SECRET_ID"]
FALLBACK_REGIONS = tuple(r for r in os.environ.get("FALLBACK_REGIONS", "").split(",") if r)
RETRY_AFTER_SECONDS = 5

logger = Logger()
# Built once per execution environment; no API call (and no client) is made here.
cache = SecretCache(fallback_regions=FALLBACK_REGIONS)


@inject_secret(SECRET_ID, into="credentials", transform="json", cache=cache)
def open_session(*, credentials: dict[str, Any] | None = None) -> dict[str, Any]:
    """Log in to the database (a stand-in here); return a summary without any value."""
    assert credentials is not None  # injected
    # A real handler would pass credentials["username"] and ["password"] to its driver.
    return {"authenticated": bool(credentials.get("password")), "fields": sorted(credentials)}


def _response(status: int, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **headers},
        "body": json.dumps(body),
    }


def error_response(exc: SecretCacheError) -> dict[str, Any]:
    """Turn a typed secretcache error into an HTTP answer (its text holds no value)."""
    headers: dict[str, str] = {}
    if isinstance(exc, SecretAccessDeniedError):
        status = 403
    elif isinstance(exc, (SecretNotFoundError, SecretDeletedError)):
        status = 404
    elif isinstance(exc, SecretsManagerUnavailableError):
        status = 503
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    else:
        status = 500
    logger.warning(
        "secret not readable",
        secret_id=SECRET_ID,
        error=type(exc).__name__,
        code=exc.code,
        status=status,
    )
    return _response(status, {"error": type(exc).__name__, "code": exc.code}, **headers)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer an API Gateway-style event with the session summary, or a typed error."""
    try:
        session = open_session()
    except SecretCacheError as exc:
        return error_response(exc)
    stats = cache.stats()
    logger.info(
        "secret read",
        secret_id=SECRET_ID,
        cache_hits=stats.hits,
        cache_misses=stats.misses,
        api_calls=dict(stats.api_calls),
    )
    return _response(200, session)
