"""secretcache: a fast, correct, rotation-aware cache for AWS Secrets Manager secrets.

The manual is in ``docs/`` (README.md links to every page); the public names are
re-exported here.
"""

import typing

from ._cache import SecretCache, default_cache
from ._core.models import (
    AWSCURRENT,
    AWSPENDING,
    AWSPREVIOUS,
    CacheStats,
    RotationEvent,
    Secret,
    SecretMetadata,
)
from ._sources.botocore import BatchPage, BotocoreSource, SecretSource
from ._version import __version__
from .exceptions import (
    InvalidSecretRequestError,
    SecretAccessDeniedError,
    SecretCacheError,
    SecretCredentialsError,
    SecretDecryptionError,
    SecretDeletedError,
    SecretFieldError,
    SecretFormatError,
    SecretNotFoundError,
    SecretsManagerThrottledError,
    SecretsManagerUnavailableError,
)

if typing.TYPE_CHECKING:
    from ._core.redact import install_log_scrubber, remove_log_scrubber
    from ._sources.extension import ExtensionSource
    from ._sources.failover import FailoverSource
    from .decorators import inject_secret

__all__ = [
    "AWSCURRENT",
    "AWSPENDING",
    "AWSPREVIOUS",
    "BatchPage",
    "BotocoreSource",
    "CacheStats",
    "ExtensionSource",
    "FailoverSource",
    "InvalidSecretRequestError",
    "RotationEvent",
    "Secret",
    "SecretAccessDeniedError",
    "SecretCache",
    "SecretCacheError",
    "SecretCredentialsError",
    "SecretDecryptionError",
    "SecretDeletedError",
    "SecretFieldError",
    "SecretFormatError",
    "SecretMetadata",
    "SecretNotFoundError",
    "SecretSource",
    "SecretsManagerThrottledError",
    "SecretsManagerUnavailableError",
    "__version__",
    "default_cache",
    "inject_secret",
    "install_log_scrubber",
    "remove_log_scrubber",
]


def __getattr__(name: str) -> object:
    # Imported when first asked for, so that what a handler does not use costs its cold
    # start nothing: the failover machinery (caches without fallback regions) and the
    # decorator, the Lambda extension's source (and http.client with it).
    if name in ("install_log_scrubber", "remove_log_scrubber"):
        from ._core import redact  # its logging.Filter needs logging: a cold start does not

        return getattr(redact, name)
    if name == "ExtensionSource":
        from ._sources.extension import ExtensionSource

        return ExtensionSource
    if name == "FailoverSource":
        from ._sources.failover import FailoverSource

        return FailoverSource
    if name == "inject_secret":
        from .decorators import inject_secret

        return inject_secret
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
