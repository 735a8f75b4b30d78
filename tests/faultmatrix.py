"""The fault matrix as data: what secretcache does under each Secrets Manager failure.

``tests/test_fault_matrix.py`` checks every row against moto (each fault on a cold key
and on a warm key whose freshness has run out); ``tools/failure_table.py`` prints the
same rows as the manual's failure table (docs/freshness.md), so the table cannot drift
from what is tested.
"""

from __future__ import annotations

from dataclasses import dataclass

from secretcache import (
    SecretAccessDeniedError,
    SecretCacheError,
    SecretCredentialsError,
    SecretDecryptionError,
    SecretDeletedError,
    SecretNotFoundError,
    SecretsManagerThrottledError,
    SecretsManagerUnavailableError,
)

# The load each cell is driven with: 100 gets a second for one simulated minute.
GETS_PER_SECOND = 100
SIMULATED_SECONDS = 60
# Backoff is 1 s doubling (x1.0-1.2 jitter): calls at t=0, ~1, ~3, ~7, ~15, ~31; the next
# one is due after t=63, so exactly six calls fall inside a minute, whatever the jitter.
CALLS_PER_MINUTE = 6


@dataclass(frozen=True)
class FaultCase:
    """One failure mode, how it is produced, and what the cache must do under it."""

    id: str
    #: What happened, in the manual's words.
    title: str
    #: The error code as botocore sees it ("" for client-side errors).
    aws_code: str
    #: How the test produces it: "code" (FaultInjector answers aws_code), "connection",
    #: "read_timeout" (FaultInjector), "iam" (moto's IAM: a policy detached), "moto_delete"
    #: (moto: deleted for good), "moto_schedule" (moto: scheduled for deletion).
    inject: str
    error: type[SecretCacheError]
    #: On a warm key past its TTL: is the last value served (within max_stale)?
    serves_stale: bool
    retryable: bool
    calls_per_minute: int = CALLS_PER_MINUTE
    status: int | None = None


FAULTS: tuple[FaultCase, ...] = (
    FaultCase(
        "throttled",
        "Throttled",
        "ThrottlingException",
        "code",
        SecretsManagerThrottledError,
        serves_stale=True,
        retryable=True,
    ),
    FaultCase(
        "internal-error",
        "Service error (HTTP 500)",
        "InternalServiceError",
        "code",
        SecretsManagerUnavailableError,
        serves_stale=True,
        retryable=True,
        status=500,
    ),
    FaultCase(
        "connection-refused",
        "Connection refused",
        "",
        "connection",
        SecretsManagerUnavailableError,
        serves_stale=True,
        retryable=True,
    ),
    FaultCase(
        "read-timeout",
        "Read timeout",
        "",
        "read_timeout",
        SecretsManagerUnavailableError,
        serves_stale=True,
        retryable=True,
    ),
    FaultCase(
        "expired-token",
        "Credentials expired",
        "ExpiredTokenException",
        "code",
        SecretCredentialsError,
        serves_stale=True,
        retryable=False,
    ),
    FaultCase(
        "revoked-key",
        "Access key deactivated or unknown",
        "UnrecognizedClientException",
        "code",
        SecretCredentialsError,
        serves_stale=False,
        retryable=False,
    ),
    FaultCase(
        "access-denied",
        "Access denied",
        "AccessDeniedException",
        "code",
        SecretAccessDeniedError,
        serves_stale=False,
        retryable=False,
    ),
    FaultCase(
        "access-denied-403",
        "Access denied (IAM, HTTP 403)",
        "AccessDenied",
        "iam",
        SecretAccessDeniedError,
        serves_stale=False,
        retryable=False,
    ),
    FaultCase(
        "not-found",
        "Secret not found / deleted for good",
        "ResourceNotFoundException",
        "moto_delete",
        SecretNotFoundError,
        serves_stale=False,
        retryable=False,
    ),
    FaultCase(
        "scheduled-deletion",
        "Secret scheduled for deletion",
        "InvalidRequestException",
        "moto_schedule",
        SecretDeletedError,
        serves_stale=False,
        retryable=False,
    ),
    FaultCase(
        "decryption-failure",
        "KMS cannot decrypt",
        "DecryptionFailure",
        "code",
        SecretDecryptionError,
        serves_stale=False,
        retryable=False,
    ),
)


def _code_cell(case: FaultCase) -> str:
    if case.aws_code:
        return f"`{case.aws_code}`"
    return {"connection": "(EndpointConnectionError)", "read_timeout": "(ReadTimeoutError)"}[
        case.inject
    ]


def markdown_table() -> str:
    """Return the manual's failure table, one row per fault, as markdown."""
    lines = [
        "| Failure | Error class | AWS code | Cold key | Warm key (expired): served stale? "
        "| `retryable` | API calls/min while failing |",
        "|---|---|---|---|---|---|---|",
    ]
    for case in FAULTS:
        stale = (
            "yes, up to `max_stale`, then raises"
            if case.serves_stale
            else "no: value dropped, raises"
        )
        lines.append(
            f"| {case.title} | `{case.error.__name__}` | {_code_cell(case)} "
            f"| raises | {stale} | {str(case.retryable).lower()} | {case.calls_per_minute} |"
        )
    lines.append("")
    lines.append(
        f"API calls per key, per minute, with {GETS_PER_SECOND} gets/s on a key that keeps "
        "failing (logical calls; botocore's own retries inside one call not counted)."
    )
    return "\n".join(lines) + "\n"
