"""Map AWS errors to secretcache's exception tree: the one table, used once.

The table is keyed by AWS error codes and botocore class *names*, so it works without
importing botocore: the Lambda extension's answers (``__type`` codes in JSON) go
through ``error_from_code`` exactly as botocore's ``ClientError`` does, and
``import secretcache`` costs no botocore.

Classification is by error code, never by HTTP status alone (moto answers 404 where
AWS answers 400) and never by message text where a code says enough. Text is read in
two places: InvalidRequestException, whose code covers both "scheduled for deletion"
and other bad states (a least-privilege caller has no other signal), and an
AccessDeniedException that KMS caused ("Access to KMS is not allowed"), which stays a
SecretAccessDeniedError but whose message says the secret's KMS key refused.
"""

from __future__ import annotations

import copy
import re
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..exceptions import (
    InvalidSecretRequestError,
    SecretAccessDeniedError,
    SecretCacheError,
    SecretCredentialsError,
    SecretDecryptionError,
    SecretDeletedError,
    SecretNotFoundError,
    SecretsManagerThrottledError,
    SecretsManagerUnavailableError,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = [
    "BOTOCORE_TABLE",
    "CODE_TABLE",
    "UNREADABLE",
    "error_from_code",
    "malformed",
    "map_error",
    "mapping_errors",
    "reading",
]

#: AWS error code -> exception class. The single source of truth.
CODE_TABLE: Mapping[str, type[SecretCacheError]] = {
    "ResourceNotFoundException": SecretNotFoundError,
    "AccessDeniedException": SecretAccessDeniedError,
    "AccessDenied": SecretAccessDeniedError,
    "DecryptionFailure": SecretDecryptionError,
    "InvalidParameterException": InvalidSecretRequestError,
    "ValidationException": InvalidSecretRequestError,
    "InvalidNextTokenException": InvalidSecretRequestError,
    "InvalidRequestException": InvalidSecretRequestError,  # refined: see _DELETED
    "ExpiredTokenException": SecretCredentialsError,
    "ExpiredToken": SecretCredentialsError,
    "UnrecognizedClientException": SecretCredentialsError,
    "InvalidClientTokenId": SecretCredentialsError,
    "InvalidSignatureException": SecretCredentialsError,
    "SignatureDoesNotMatch": SecretCredentialsError,
    "IncompleteSignature": SecretCredentialsError,
    "MissingAuthenticationToken": SecretCredentialsError,
    "InternalServiceError": SecretsManagerUnavailableError,
    "InternalFailure": SecretsManagerUnavailableError,
    "ServiceUnavailable": SecretsManagerUnavailableError,
    "ServiceUnavailableException": SecretsManagerUnavailableError,
    "RequestTimeout": SecretsManagerUnavailableError,
    "RequestTimeoutException": SecretsManagerUnavailableError,
    "ThrottlingException": SecretsManagerThrottledError,
    "Throttling": SecretsManagerThrottledError,
    "TooManyRequestsException": SecretsManagerThrottledError,
    "RequestLimitExceeded": SecretsManagerThrottledError,
    "ProvisionedThroughputExceededException": SecretsManagerThrottledError,
}

#: botocore client-side error class name -> exception class; the most specific base
#: wins (names, not classes: matching them needs no botocore import).
BOTOCORE_TABLE: Mapping[str, type[SecretCacheError]] = {
    "NoCredentialsError": SecretCredentialsError,
    "PartialCredentialsError": SecretCredentialsError,
    "CredentialRetrievalError": SecretCredentialsError,
    "NoRegionError": SecretCredentialsError,
    "NoAuthTokenError": SecretCredentialsError,
    "TokenRetrievalError": SecretCredentialsError,
    "SSOTokenLoadError": SecretCredentialsError,
    "ParamValidationError": InvalidSecretRequestError,
    "EndpointConnectionError": SecretsManagerUnavailableError,
    "ConnectionError": SecretsManagerUnavailableError,
    "ConnectTimeoutError": SecretsManagerUnavailableError,
    "ReadTimeoutError": SecretsManagerUnavailableError,
    "HTTPClientError": SecretsManagerUnavailableError,
    "ResponseStreamingError": SecretsManagerUnavailableError,
}

#: What to do about a client-side error that is about the caller's set-up.
_HINTS: Mapping[str, str] = {
    "NoRegionError": (
        "no AWS region is configured: set AWS_REGION (or AWS_DEFAULT_REGION), or give the "
        "cache a client or session built with region_name="
    ),
    "NoCredentialsError": (
        "no AWS credentials were found: on AWS the role's credentials are found for you; "
        "elsewhere set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    ),
}

# Patterns as text, compiled (and cached) by ``re`` when an error is first mapped rather
# than at import, which a Lambda cold start pays for.
# InvalidRequestException is also what a soft-deleted secret answers (AWS: "marked for
# deletion", moto: "marked deleted"); the code alone cannot tell them apart.
_DELETED = r"(?i)marked (for )?delet|scheduled for deletion"
# moto wraps IAM denials as Code "403" with an XML body; the real code is inside.
_XML_CODE = r"<Code>([A-Za-z0-9.]+)</Code>"
_XML_MESSAGE = r"(?s)<Message>(.*?)</Message>"
# How Secrets Manager words a denial that came from KMS rather than from IAM on the secret.
_KMS_REFUSED = (
    r"(?i)access to kms is not allowed|not authorized to perform: kms:|"
    r"ciphertext refers to a customer master key|\(Service: AWSKMS"
)
_KMS_MESSAGE = (
    "the secret's KMS key refused this caller (both the caller's IAM policy and the key's "
    "key policy must allow kms:Decrypt)"
)


def _class_for_status(status: int | None) -> type[SecretCacheError]:
    if status == 403:
        return SecretAccessDeniedError
    if status == 429:
        return SecretsManagerThrottledError
    if status is not None and status >= 500:
        return SecretsManagerUnavailableError
    return SecretCacheError


def error_from_code(
    code: str,
    message: str,
    *,
    status: int | None = None,
    request_id: str | None = None,
    operation: str | None = None,
    **context: Any,
) -> SecretCacheError:
    """Return the secretcache error for an AWS error code (the status only if no code)."""
    inner = re.search(_XML_CODE, message)
    if inner:
        code = inner.group(1)
        found = re.search(_XML_MESSAGE, message)
        message = found.group(1) if found else message
    cls = CODE_TABLE.get(code)
    if cls is None:
        cls = _class_for_status(status)
    if code == "InvalidRequestException" and re.search(_DELETED, message):
        cls = SecretDeletedError
    if cls is SecretAccessDeniedError and re.search(_KMS_REFUSED, message):
        message = f"{_KMS_MESSAGE}: {message}"
    return cls(
        message or code or "unknown error",
        code=code or None,
        status_code=status,
        request_id=request_id,
        operation=operation,
        **context,
    )


def _from_client_error(exc: Any, context: dict[str, Any]) -> SecretCacheError:
    response: Mapping[str, Any] = exc.response or {}
    error: Mapping[str, Any] = response.get("Error") or {}
    meta: Mapping[str, Any] = response.get("ResponseMetadata") or {}
    status = meta.get("HTTPStatusCode")
    return error_from_code(
        str(error.get("Code") or ""),
        str(error.get("Message") or ""),
        status=status if isinstance(status, int) else None,
        request_id=meta.get("RequestId"),
        operation=getattr(exc, "operation_name", None),
        **context,
    )


def _botocore_kind(exc: BaseException) -> str | None:
    """Return "client" or "core" for botocore's two error families, else None."""
    bce = sys.modules.get("botocore.exceptions")
    if bce is None:
        return None  # botocore never loaded: nothing raised can be one of its errors
    if isinstance(exc, bce.ClientError):
        return "client"
    if isinstance(exc, bce.BotoCoreError):
        return "core"
    return None


def map_error(
    exc: BaseException,
    *,
    secret_id: str | None = None,
    version_stage: str | None = None,
    version_id: str | None = None,
) -> SecretCacheError | None:
    """Return the secretcache error for a botocore error, or None for anything else."""
    context: dict[str, Any] = {
        "secret_id": secret_id,
        "version_stage": version_stage,
        "version_id": version_id,
    }
    kind = _botocore_kind(exc)
    if kind == "client":
        return _from_client_error(exc, context)
    if kind == "core":
        names = [klass.__name__ for klass in type(exc).__mro__]
        target = next((BOTOCORE_TABLE[n] for n in names if n in BOTOCORE_TABLE), SecretCacheError)
        hint = next((_HINTS[n] for n in names if n in _HINTS), None)
        return target(hint or str(exc), code=type(exc).__name__, **context)
    return None


#: What botocore's parser (or ours) raises on a 200 it cannot read: a JSON list where an
#: object belongs, a date or base64 it cannot decode, a number where a list belongs.
UNREADABLE = (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError)


@contextmanager
def mapping_errors(
    *,
    secret_id: str | None = None,
    version_stage: str | None = None,
    version_id: str | None = None,
    operation: str | None = None,
) -> Iterator[None]:
    """Re-raise botocore errors raised inside the block as secretcache errors.

    With ``operation`` (the block makes that call), an untyped error is an answer that
    could not be read, as ``reading`` says.
    """
    context = {"secret_id": secret_id, "version_stage": version_stage, "version_id": version_id}
    try:
        if operation is None:
            yield
        else:
            with reading(operation, **context):
                yield
    except Exception as exc:
        mapped = map_error(exc, **context)
        if mapped is None:
            raise  # not botocore's: ours, typed already, or not an error to map
        raise mapped from exc


@contextmanager
def reading(operation: str, **context: Any) -> Iterator[None]:
    """Re-raise an untyped error of the ``operation`` call inside the block as an outage.

    Such an error is an answer that could not be read: a SecretsManagerUnavailableError
    with code "MalformedResponse" (retryable: the stale value is served, the backoff
    kept), never a bare TypeError. botocore's and our own errors pass as they are.
    """
    try:
        yield
        return
    except UNREADABLE as exc:
        if isinstance(exc, SecretCacheError) or _botocore_kind(exc) is not None:
            raise  # typed already (some are ValueErrors too)
        error = malformed(operation, f"{type(exc).__name__} while reading it", **context)
        # The parser's frames hold the body, a value in it: chain a copy without them,
        # and raise outside this handler, so that it is not the context either.
        cause = _untraced(exc)
    raise error from cause


def malformed(operation: str, why: str, **context: Any) -> SecretsManagerUnavailableError:
    """Return the outage error for an answer of ``operation`` that cannot be used."""
    return SecretsManagerUnavailableError(
        f"Secrets Manager's answer to {operation} could not be read ({why})",
        code="MalformedResponse",
        operation=operation,
        **context,
    )


def _untraced(exc: BaseException) -> BaseException:
    try:
        clone = copy.copy(exc)
    except Exception:  # an uncopyable error: the type and message still tell
        clone = RuntimeError(f"{type(exc).__name__}: {exc}")
    clone.__traceback__ = None
    return clone
