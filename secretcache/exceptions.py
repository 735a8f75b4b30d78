"""The public exception tree of secretcache.

Every error a read can raise is a ``SecretCacheError``; AWS errors are mapped to it
exactly once, at the source boundary (``secretcache._errors``), with the original
botocore exception chained as ``__cause__``::

    SecretCacheError                       base: secret_id, version_stage, version_id,
    │                                      code, status_code, request_id, retryable
    ├── SecretNotFoundError                ResourceNotFoundException (also unknown stage/VersionId)
    ├── SecretAccessDeniedError            AccessDeniedException, AccessDenied, any HTTP 403;
    │                                      also a KMS key that refuses the caller (message says so)
    ├── SecretDeletedError                 InvalidRequestException: scheduled for deletion
    ├── SecretDecryptionError              DecryptionFailure (KMS key disabled, wrong key)
    ├── InvalidSecretRequestError          InvalidParameterException, ValidationException, ...
    ├── SecretCredentialsError             no/expired/invalid credentials, no region
    ├── SecretsManagerUnavailableError     5xx, InternalServiceError, timeouts, connection errors
    │   └── SecretsManagerThrottledError   ThrottlingException and its cousins
    └── SecretFormatError (ValueError)     not JSON / binary when a string was asked / not an object
        └── SecretFieldError (LookupError) the JSON object has no such field

No message ever contains any part of a secret value. Misuse of the API itself (an empty
secret id, a negative TTL) raises plain ``TypeError``/``ValueError`` instead.
"""

from __future__ import annotations

__all__ = [
    "InvalidSecretRequestError",
    "SecretAccessDeniedError",
    "SecretCacheError",
    "SecretCredentialsError",
    "SecretDecryptionError",
    "SecretDeletedError",
    "SecretFieldError",
    "SecretFormatError",
    "SecretNotFoundError",
    "SecretsManagerThrottledError",
    "SecretsManagerUnavailableError",
]


class SecretCacheError(Exception):
    """Base class of every error secretcache raises while reading a secret."""

    #: Whether retrying the same request later may succeed.
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        secret_id: str | None = None,
        version_stage: str | None = None,
        version_id: str | None = None,
        code: str | None = None,
        status_code: int | None = None,
        request_id: str | None = None,
        operation: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.secret_id = secret_id
        self.version_stage = version_stage
        self.version_id = version_id
        self.code = code
        self.status_code = status_code
        self.request_id = request_id
        self.operation = operation
        if retryable is not None:
            self.retryable = retryable

    def __str__(self) -> str:
        where = []
        if self.secret_id is not None:
            where.append(f"secret_id={self.secret_id!r}")
        if self.version_id is not None:
            where.append(f"version_id={self.version_id!r}")
        elif self.version_stage is not None:
            where.append(f"version_stage={self.version_stage!r}")
        prefix = f"[{self.code}] " if self.code else ""
        suffix = f" ({', '.join(where)})" if where else ""
        return f"{prefix}{self.message}{suffix}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only attributes survive pickling and copy.copy (used to re-raise a
        # remembered error without growing one shared traceback).
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(
    cls: type[SecretCacheError], message: str, state: dict[str, object]
) -> SecretCacheError:
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    exc.__dict__.update(state)
    return exc


class SecretNotFoundError(SecretCacheError):
    """The secret, or the requested stage or VersionId of it, does not exist."""


class SecretAccessDeniedError(SecretCacheError):
    """The caller may not read the secret (IAM, resource policy, or the secret's KMS key)."""


class SecretDeletedError(SecretCacheError):
    """The secret is scheduled for deletion; restore it to read it again."""


class SecretDecryptionError(SecretCacheError):
    """Secrets Manager could not decrypt the value with its KMS key (disabled, wrong key).

    A caller that may not use the key gets SecretAccessDeniedError instead.
    """


class InvalidSecretRequestError(SecretCacheError):
    """Secrets Manager rejected the request's parameters or the secret's state."""


class SecretCredentialsError(SecretCacheError):
    """No usable AWS credentials or region: the request was not authenticated."""


class SecretsManagerUnavailableError(SecretCacheError):
    """Secrets Manager could not be reached or failed (5xx, timeout, connection)."""

    retryable = True


class SecretsManagerThrottledError(SecretsManagerUnavailableError):
    """Secrets Manager throttled the request; back off and retry."""


class SecretFormatError(SecretCacheError, ValueError):
    """The value is not in the asked form (not JSON, not an object, not text)."""


class SecretFieldError(SecretFormatError, LookupError):
    """The secret's JSON object has no such field."""
