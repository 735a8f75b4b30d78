"""The source seam: what a SecretCache reads through (``SecretSource``).

A source knows nothing of caching and raises only ``SecretCacheError``s: every error of
the layer below is mapped, once, at the source (``_core.errors``). The async twin,
``AsyncSecretSource``, is ``aiobotocore``'s, imported only with ``secretcache.aio``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .._core.models import BatchPage, Secret, SecretMetadata

__all__ = ["SecretSource"]


@runtime_checkable
class SecretSource(Protocol):
    """Where a cache reads secrets from; raises only ``SecretCacheError``s."""

    def get_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        """Read one version of a secret (GetSecretValue)."""
        ...

    def describe_secret(self, secret_id: str) -> SecretMetadata:
        """Read a secret's metadata and stage map (DescribeSecret), never its value."""
        ...

    def batch_get_secret_value(
        self,
        *,
        secret_ids: Sequence[str] | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        next_token: str | None = None,
    ) -> BatchPage:
        """Read the AWSCURRENT version of up to 20 secrets (BatchGetSecretValue)."""
        ...
