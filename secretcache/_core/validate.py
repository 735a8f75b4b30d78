"""Argument checks for the public API: misuse raises plain TypeError/ValueError at once."""

from __future__ import annotations

import inspect
import math
import os
import random
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "check_callable",
    "check_client",
    "check_fallbacks",
    "check_fraction",
    "check_rng",
    "check_seconds",
    "check_secret_id",
    "check_size",
    "check_source",
    "check_stage",
    "check_version_id",
    "env_seconds",
]

# Compiled (and cached) by ``re`` on first use, not at import (a Lambda cold start).
_CONTROL = r"[\x00-\x1f\x7f]"
_VERSION_ID = r"[\x21-\x7e]{32,64}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_secret_id(secret_id: Any) -> str:
    """Return a valid secret id (name or ARN, 1-2048 chars, no control characters)."""
    if not isinstance(secret_id, str):
        raise TypeError(f"secret_id must be a str, not {type(secret_id).__name__}")
    if not secret_id.strip():
        raise ValueError("secret_id must not be empty or whitespace")
    if len(secret_id) > 2048:
        raise ValueError(f"secret_id is {len(secret_id)} characters long; the maximum is 2048")
    if re.search(_CONTROL, secret_id):
        raise ValueError("secret_id must not contain control characters")
    return secret_id


def check_stage(stage: Any) -> str:
    """Return a valid version stage label (1-256 chars)."""
    if not isinstance(stage, str):
        raise TypeError(f"version_stage must be a str, not {type(stage).__name__}")
    if not stage or len(stage) > 256 or re.search(_CONTROL, stage) or stage != stage.strip():
        raise ValueError("version_stage must be 1-256 printable characters")
    return stage


def check_version_id(version_id: Any) -> str:
    """Return a valid VersionId (32-64 printable ASCII characters, no spaces)."""
    if not isinstance(version_id, str):
        raise TypeError(f"version_id must be a str, not {type(version_id).__name__}")
    if not re.fullmatch(_VERSION_ID, version_id):
        raise ValueError("version_id must be 32-64 printable ASCII characters without spaces")
    return version_id


def check_seconds(name: str, value: Any, *, allow_none: bool = False) -> float | None:
    """Return a finite, non-negative number of seconds (or None when allowed)."""
    if value is None and allow_none:
        return None
    if not _is_number(value):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        hint = " (use None for no bound)" if allow_none else ""
        raise ValueError(f"{name} must be a finite number of seconds, got {number}{hint}")
    if number < 0:
        raise ValueError(f"{name} must not be negative, got {number}")
    return number


def check_fraction(name: str, value: Any) -> float:
    """Return a number in [0, 1)."""
    if not _is_number(value):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    number = float(value)
    if not 0.0 <= number < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {number}")
    return number


def check_rng(value: Any) -> random.Random | None:
    """Return ``value`` if it is None or a ``random.Random`` (``SystemRandom`` included)."""
    if value is not None and not isinstance(value, random.Random):
        raise TypeError(f"rng must be a random.Random or None, not {type(value).__name__}")
    return value


def check_size(name: str, value: Any) -> int:
    """Return a whole number >= 1."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def check_callable(name: str, value: Any) -> Callable[..., Any]:
    """Return ``value`` if it can be called."""
    if not callable(value):
        raise TypeError(f"{name} must be callable, not {type(value).__name__}")
    return value  # type: ignore[no-any-return]


_SOURCE_METHODS = ("get_secret_value", "describe_secret", "batch_get_secret_value")


def check_source(source: Any, *, asynchronous: bool) -> None:
    """Raise TypeError unless ``source`` reads the way its cache calls it: awaited or not."""
    if source is None:
        return
    kind = type(source).__name__
    if not callable(getattr(source, "get_secret_value", None)):
        raise TypeError(f"source must be a SecretSource with get_secret_value, not {kind}")
    for name in _SOURCE_METHODS:
        method = getattr(source, name, None)
        if inspect.iscoroutinefunction(method):
            if not asynchronous:
                raise TypeError(
                    f"{kind}.{name} is a coroutine function: an async source goes with "
                    "secretcache.aio.AsyncSecretCache, not SecretCache"
                )
        # Only a plain function is surely sync: a mock or a partial may return awaitables.
        elif asynchronous and (inspect.isfunction(method) or inspect.ismethod(method)):
            raise TypeError(
                f"{kind}.{name} is not a coroutine function: AsyncSecretCache awaits an "
                "AsyncSecretSource (async def methods); a sync SecretSource goes with "
                "SecretCache (tests: secretcache.testing.AsyncInMemorySource)"
            )


def check_client(client: Any, *, cache: str = "SecretCache") -> None:
    """Raise TypeError unless ``client`` looks like a Secrets Manager client.

    The usual mistakes get their fix in the message: a number where ``ttl=`` was meant
    (``client`` is the first positional parameter), a session where ``session=`` was
    meant, or a client of another service.
    """
    if client is None:
        return
    if _is_number(client):
        raise TypeError(f"ttl is keyword-only: {cache}(ttl={client!r})")
    kind = type(client).__name__
    service = getattr(
        getattr(getattr(client, "meta", None), "service_model", None), "service_name", None
    )
    if callable(getattr(client, "get_secret_value", None)) and service in (None, "secretsmanager"):
        return
    if service is not None:
        raise TypeError(
            f"client is a {service!r} client; {cache} needs a Secrets Manager client"
            " (boto3.client('secretsmanager'))"
        )
    if callable(getattr(client, "client", None)) or callable(
        getattr(client, "create_client", None)
    ):
        raise TypeError(f"client is a session ({kind}): pass it as {cache}(session=...)")
    raise TypeError(
        f"client must be a Secrets Manager client (boto3.client('secretsmanager')), not {kind}"
    )


def env_seconds(variable: str, default: float) -> float:
    """Read a number of seconds from the environment, or return the default."""
    raw = os.environ.get(variable)
    if raw is None or not raw.strip():
        return default
    try:
        number = float(raw)
    except ValueError:
        raise ValueError(f"environment variable {variable} must be a number of seconds") from None
    checked = check_seconds(variable, number)
    assert checked is not None
    return checked


def check_fallbacks(
    fallback_regions: Any, fallback_clients: Any, *, client: Any, source: Any
) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """Check a cache's fallback arguments; return them as tuples (TypeError/ValueError)."""
    regions = _sequence("fallback_regions", fallback_regions)
    clients = _sequence("fallback_clients", fallback_clients)
    for region in regions:
        if not isinstance(region, str):
            raise TypeError(f"a fallback region must be a str, not {type(region).__name__}")
        if not region.strip() or region != region.strip():
            raise ValueError(f"{region!r} is not a region name")
    if len(set(regions)) != len(regions):
        raise ValueError(f"fallback_regions names a region twice: {regions!r}")
    if regions and clients:
        raise TypeError("pass fallback_regions or fallback_clients, not both")
    # The Lambda extension's source fails over to the SDK (its class says so).
    fails_over = bool(getattr(type(source), "fails_over_by_sdk", False))
    if source is not None and (regions or clients) and not fails_over:
        raise TypeError(
            "a source= reads where it reads: compose failover with FailoverSource instead"
        )
    if client is not None and regions:
        raise TypeError(
            "fallback_regions builds clients from session= (or the default credentials), "
            "not from a client=: pass ready clients as fallback_clients"
        )
    return regions, clients


def _sequence(name: str, value: Any) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a sequence, e.g. ({value!r},), not a single string")
    try:
        return tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be a sequence, not {type(value).__name__}") from None
