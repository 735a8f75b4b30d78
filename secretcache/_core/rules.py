"""What a failed read means for what the cache holds: the failure rules, in one place.

- ``keeps_stale``: the error is about the path to Secrets Manager (an outage,
  throttling, credentials that expired or could not be fetched), not an answer about
  the secret: a cached value may still be served within ``max_stale``.
- Anything else is an answer, and the value goes: nothing stale after a denial.
- ``not_ready``: the Lambda extension is not serving yet (starting, or Lambda's INIT
  phase). With no value to serve, it is not remembered for a backoff step: the next
  read (the first invocation after INIT) asks again at once.
- ``secret_wide``: the answer speaks for every version and stage of the secret
  (scheduled for deletion, its KMS key refused to decrypt), so the secret's other
  cached keys go too. An AccessDenied or NotFound is about the request that got it
  (an IAM condition may allow AWSCURRENT and not AWSPENDING; a stage may not exist),
  so it touches only that key.
"""

from __future__ import annotations

from ..exceptions import (
    SecretCacheError,
    SecretCredentialsError,
    SecretDecryptionError,
    SecretDeletedError,
    SecretsManagerUnavailableError,
)

__all__ = [
    "EXPIRED_CREDENTIAL_CODES",
    "NOT_READY",
    "REVOKED_CREDENTIAL_CODES",
    "keeps_stale",
    "not_ready",
    "renews_client",
    "secret_wide",
]

#: A deactivated or unknown access key: a revocation, not a hiccup.
REVOKED_CREDENTIAL_CODES = frozenset({"InvalidClientTokenId", "UnrecognizedClientException"})
#: Temporary credentials that ran out: a client built anew reads the chain again.
EXPIRED_CREDENTIAL_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
)

#: The code of every "extension not ready yet" outage (refused, reset, 503, INIT).
NOT_READY = "ExtensionNotReady"


def not_ready(error: SecretCacheError) -> bool:
    """Return True for an extension that is not serving yet (a retry soon may work)."""
    return isinstance(error, SecretsManagerUnavailableError) and error.code == NOT_READY


def keeps_stale(error: SecretCacheError) -> bool:
    """Return True for errors after which a cached value may still be served."""
    # Credentials a new client may cure are about the path too.
    return isinstance(error, SecretsManagerUnavailableError) or renews_client(error)


def secret_wide(error: SecretCacheError) -> bool:
    """Return True for answers that hold for every stage and version of the secret."""
    return isinstance(error, (SecretDeletedError, SecretDecryptionError))


def renews_client(error: SecretCacheError) -> bool:
    """Return True if a client built anew may cure ``error`` (credentials, not revoked).

    Temporary credentials that ran out, or a credentials file written since the client
    was built: a new client reads the credential chain again. A deactivated or unknown
    key is a revocation, which no new client cures.
    """
    return isinstance(error, SecretCredentialsError) and error.code not in REVOKED_CREDENTIAL_CODES
