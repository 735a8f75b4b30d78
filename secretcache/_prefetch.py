"""Batch warm-up: BatchGetSecretValue in chunks of 20, per-id errors typed and remembered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._models import AWSCURRENT, Secret
from ._store import Load
from ._validate import check_secret_id
from .exceptions import SecretAccessDeniedError, SecretCacheError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from ._cache import SecretCache

__all__ = ["BATCH_SIZE", "prefetch"]

BATCH_SIZE = 20  # the API's limit for SecretIdList


def prefetch(
    cache: SecretCache,
    secret_ids: Iterable[str] | None,
    filters: Sequence[Mapping[str, Any]] | None,
) -> Mapping[str, Secret | SecretCacheError]:
    """Load AWSCURRENT of many secrets into ``cache``; return each one's Secret or error."""
    if (secret_ids is None) == (filters is None):
        raise TypeError("pass exactly one of secret_ids and filters")
    results: dict[str, Secret | SecretCacheError] = {}
    if secret_ids is not None:
        ids = list(dict.fromkeys(check_secret_id(s) for s in secret_ids))
        for start in range(0, len(ids), BATCH_SIZE):
            chunk = ids[start : start + BATCH_SIZE]
            try:
                _page(cache, results, secret_ids=chunk)
            except SecretAccessDeniedError:
                # BatchGetSecretValue needs its own IAM action: one by one still works.
                for secret_id in chunk:
                    results[secret_id] = _single(cache, secret_id)
        return results
    token: str | None = None
    while True:
        token = _page(cache, results, filters=filters, next_token=token)
        if not token:
            return results


def _page(
    cache: SecretCache,
    results: dict[str, Secret | SecretCacheError],
    **kwargs: Any,
) -> str | None:
    cache._count("BatchGetSecretValue")
    page = cache._source.batch_get_secret_value(**kwargs)
    for secret in page.secrets:
        key = (secret.secret_id, AWSCURRENT, None)
        results[secret.secret_id] = cache._store.put(key, Load(secret))
    for secret_id, error in page.errors.items():
        cache._store.put_failure((secret_id, AWSCURRENT, None), error)
        results[secret_id] = error
    return page.next_token


def _single(cache: SecretCache, secret_id: str) -> Secret | SecretCacheError:
    try:
        return cache.get_secret(secret_id)
    except SecretCacheError as exc:
        return exc
