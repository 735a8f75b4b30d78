"""A drop-in for aws-secretsmanager-caching 1.2: same names, same module paths.

Replace ``aws_secretsmanager_caching`` with ``secretcache.compat`` in your imports::

    from secretcache.compat import SecretCache, SecretCacheConfig
    from secretcache.compat.decorators import InjectKeywordedSecretString

The official package's own public-API unit tests pass against it unchanged. Reads keep
the official semantics (``None`` for a missing stage or value, botocore exceptions,
DescribeSecret then GetSecretValue by VersionId) on secretcache's engine: lock-free
hits, one request however many threads miss, and no value served after access is
revoked or the secret is deleted. The manual's page "Migrating from
aws-secretsmanager-caching" (docs/migration.md) lists every difference.
"""

# aws_secretsmanager_caching imports botocore.session when it is imported, and code
# written for it relies on that: ``import botocore`` then ``botocore.session.get_session()``
# (its own test suite does). ``import secretcache`` stays without it; the compat
# package is the drop-in, so it keeps the official import's side effect.
import botocore.session  # noqa: F401

from .cache.secret_cache_hook import SecretCacheHook
from .config import SecretCacheConfig
from .decorators import InjectKeywordedSecretString, InjectSecretString
from .secret_cache import SecretCache

__all__ = [
    "InjectKeywordedSecretString",
    "InjectSecretString",
    "SecretCache",
    "SecretCacheConfig",
    "SecretCacheHook",
]
