"""Map botocore errors to secretcache's exception tree: the one table, used once.

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
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from botocore import exceptions as bce

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

#: botocore client-side error type -> exception class; the most specific base wins.
BOTOCORE_TABLE: Mapping[type[Exception], type[SecretCacheError]] = {
    bce.NoCredentialsError: SecretCredentialsError,
    bce.PartialCredentialsError: SecretCredentialsError,
    bce.CredentialRetrievalError: SecretCredentialsError,
    bce.NoRegionError: SecretCredentialsError,
    bce.NoAuthTokenError: SecretCredentialsError,
    bce.TokenRetrievalError: SecretCredentialsError,
    bce.SSOTokenLoadError: SecretCredentialsError,
    bce.ParamValidationError: InvalidSecretRequestError,
    bce.EndpointConnectionError: SecretsManagerUnavailableError,
    bce.ConnectionError: SecretsManagerUnavailableError,
    bce.ConnectTimeoutError: SecretsManagerUnavailableError,
    bce.ReadTimeoutError: SecretsManagerUnavailableError,
    bce.HTTPClientError: SecretsManagerUnavailableError,
    bce.ResponseStreamingError: SecretsManagerUnavailableError,
}

#: What to do about a client-side error that is about the caller's set-up.
_HINTS: Mapping[type[Exception], str] = {
    bce.NoRegionError: (
        "no AWS region is configured: set AWS_REGION (or AWS_DEFAULT_REGION), or give the "
        "cache a client or session built with region_name="
    ),
    bce.NoCredentialsError: (
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


def _from_client_error(exc: bce.ClientError, context: dict[str, Any]) -> SecretCacheError:
    response: Mapping[str, Any] = exc.response or {}
    error: Mapping[str, Any] = response.get("Error") or {}
    meta: Mapping[str, Any] = response.get("ResponseMetadata") or {}
    code = str(error.get("Code") or "")
    message = str(error.get("Message") or "")
    status = meta.get("HTTPStatusCode")
    inner = re.search(_XML_CODE, message)
    if inner:
        code = inner.group(1)
        found = re.search(_XML_MESSAGE, message)
        message = found.group(1) if found else message
    cls = CODE_TABLE.get(code)
    if cls is None:
        cls = _class_for_status(status if isinstance(status, int) else None)
    if code == "InvalidRequestException" and re.search(_DELETED, message):
        cls = SecretDeletedError
    if cls is SecretAccessDeniedError and re.search(_KMS_REFUSED, message):
        message = f"{_KMS_MESSAGE}: {message}"
    return cls(
        message or code or "unknown error",
        code=code or None,
        status_code=status if isinstance(status, int) else None,
        request_id=meta.get("RequestId"),
        operation=getattr(exc, "operation_name", None),
        **context,
    )


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
    if isinstance(exc, bce.ClientError):
        return _from_client_error(exc, context)
    if isinstance(exc, bce.BotoCoreError):
        for klass in type(exc).__mro__:
            target = BOTOCORE_TABLE.get(klass)
            if target is not None:
                break
        else:
            target = SecretCacheError
        hint = next((text for klass, text in _HINTS.items() if isinstance(exc, klass)), None)
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
    except (bce.ClientError, bce.BotoCoreError) as exc:
        mapped = map_error(exc, **context)
        assert mapped is not None
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
    except (SecretCacheError, bce.ClientError, bce.BotoCoreError):
        raise  # typed already (some are ValueErrors too)
    except UNREADABLE as exc:
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
