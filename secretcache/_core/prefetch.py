"""Batch warm-up: BatchGetSecretValue in chunks of 20, per-id errors typed and remembered.

Written once for both caches, like ``revalidate``: ``plan_prefetch`` is a generator
that yields ``Batch`` (one BatchGetSecretValue call) and ``Singles`` (read these ids one
by one through the cache's own get) and is sent their results; it stores what comes
back in the cache's store and counts the calls. ``SecretCache.prefetch`` drives it with
blocking calls, ``AsyncSecretCache.prefetch`` with awaits. The rules:

- every value returned is stored fresh for AWSCURRENT (a rotation is reported as usual),
  unless a newer value was stored while the batch was out (a load sent after it
  landed first), or invalidate() covered the id meanwhile, or it is a fallback
  region's replica that lags behind the version cached: the mapping then holds what
  the cache keeps, and an older answer never replaces a newer one;
- every per-id error is typed, remembered for its backoff step like a failed get, and
  returned in the mapping (one that speaks for the whole secret, like a deletion, also
  drops the secret's other stages);
- a denied batch (its own IAM action) falls back to one GetSecretValue per id, for the
  rest of the call; any other non-transient batch failure falls back for that chunk;
- a transient or credentials failure of a batch call stops the warm-up: each id not
  read yet maps to that error, which is not remembered (the next get tries again);
- with ``filters`` a failed batch call raises: there are no ids to attribute it to.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..exceptions import SecretAccessDeniedError, SecretCacheError
from .models import AWSCURRENT, BatchPage, Secret
from .observe import during
from .revalidate import settle
from .rules import keeps_stale
from .validate import check_secret_id

if TYPE_CHECKING:
    from .base import CacheBase
    from .models import Key
    from .store import Batch as StoreBatch
    from .store import Store

__all__ = ["BATCH_SIZE", "Batch", "PrefetchPlan", "Singles", "plan_prefetch"]

BATCH_SIZE = 20  # the API's limit for SecretIdList

Results = dict[str, "Secret | SecretCacheError"]


@dataclass(frozen=True, slots=True)
class Batch:
    """Call BatchGetSecretValue once, with ids or with filters (and a page token)."""

    secret_ids: tuple[str, ...] | None = None
    filters: tuple[Mapping[str, Any], ...] | None = None
    next_token: str | None = None

    operation = "BatchGetSecretValue"

    def ask(self, source: Any) -> Any:
        """Ask ``source``: the page (a sync source) or an awaitable of it (async)."""
        return source.batch_get_secret_value(
            secret_ids=self.secret_ids, filters=self.filters, next_token=self.next_token
        )


@dataclass(frozen=True, slots=True)
class Singles:
    """Read each id through the cache's get; answer with id -> Secret or error."""

    secret_ids: tuple[str, ...]


PrefetchPlan = Generator["Batch | Singles", "BatchPage | Results", Results]


def plan_prefetch(
    cache: CacheBase,
    secret_ids: Iterable[str] | None,
    filters: Sequence[Mapping[str, Any]] | None,
) -> PrefetchPlan:
    """Check the arguments now; return the plan that warms ``cache`` with them.

    A cache whose source has no BatchGetSecretValue (the Lambda extension) reads every
    id singly, and refuses ``filters``, which only a batch can apply.
    """
    if (secret_ids is None) == (filters is None):
        raise TypeError("pass exactly one of secret_ids and filters")
    if secret_ids is not None:
        if isinstance(secret_ids, (str, bytes)):
            raise TypeError("secret_ids must be an iterable of ids, not a single string")
        ids = tuple(dict.fromkeys(check_secret_id(s) for s in secret_ids))
        return during("prefetch", _by_ids(cache, ids, batch_denied=not cache._batches))
    assert filters is not None
    if isinstance(filters, (str, bytes, Mapping)) or not all(
        isinstance(f, Mapping) for f in filters
    ):
        raise TypeError("filters must be a sequence of mappings like {'Key': ..., 'Values': [...]}")
    if not cache._batches:
        raise ValueError(
            "prefetch(filters=...) needs BatchGetSecretValue, which this cache's source "
            "(the Lambda extension or the Secrets Manager Agent) cannot ask: pass secret_ids"
        )
    return during("prefetch", _by_filters(cache, tuple(filters)))


def _ask(cache: CacheBase, batch: Batch) -> Generator[Batch, Any, BatchPage]:
    """Yield one batch call, counted; return its page (each fallback value: a failover)."""
    cache._count(batch.operation)
    page = yield batch
    assert isinstance(page, BatchPage)
    for secret in page.secrets:
        if cache._from_fallback(secret):
            cache._count_failover()
    return page


def _by_ids(cache: CacheBase, ids: tuple[str, ...], *, batch_denied: bool) -> PrefetchPlan:
    store = cache._store
    results: Results = {}
    for start in range(0, len(ids), BATCH_SIZE):
        chunk = ids[start : start + BATCH_SIZE]
        if not batch_denied:
            token = store.begin_batch()
            try:
                page = yield from _ask(cache, Batch(secret_ids=chunk))
            except SecretCacheError as exc:
                store.end_batch(token)
                if keeps_stale(exc):
                    # Throttled, down or no credentials: more calls would not help.
                    results.update((sid, exc) for sid in ids[start:])
                    break
                batch_denied = isinstance(exc, SecretAccessDeniedError)
            except BaseException:
                store.end_batch(token)
                raise
            else:
                _absorb(cache, token, page, results, frozenset(chunk))
        missing = tuple(sid for sid in chunk if sid not in results)
        if missing:
            # Denied batch, or ids the batch answered under another name (a partial ARN).
            singles = yield Singles(missing)
            assert isinstance(singles, dict)
            results.update(singles)
    return {sid: results[sid] for sid in ids if sid in results}


def _by_filters(cache: CacheBase, filters: tuple[Mapping[str, Any], ...]) -> PrefetchPlan:
    store = cache._store
    results: Results = {}
    next_token: str | None = None
    while True:
        token = store.begin_batch()
        try:
            page = yield from _ask(cache, Batch(filters=filters, next_token=next_token))
        except BaseException:
            store.end_batch(token)
            raise
        _absorb(cache, token, page, results, None)
        next_token = page.next_token
        if not next_token:
            return results


def _absorb(
    cache: CacheBase,
    token: StoreBatch[Key],
    page: BatchPage,
    results: Results,
    asked: frozenset[str] | None,
) -> None:
    store: Store[Key, Secret] = cache._store
    try:
        for secret in page.secrets:
            if asked is not None and secret.secret_id not in asked:
                continue  # answered under another name: the id asked is read singly
            key: Key = (secret.secret_id, AWSCURRENT, None)
            current = store.data.get(key)
            # The same version keeps the object and its parsed JSON; a fallback region's
            # replica that has not caught up keeps the version cached.
            loaded = settle(current.value if current is not None else None, secret, cache._lags)
            try:
                results[secret.secret_id] = store.put(key, loaded, token)
            except SecretCacheError as exc:  # a later read was denied: that stands
                results[secret.secret_id] = exc
        for secret_id, error in page.errors.items():
            key = (secret_id, AWSCURRENT, None)
            store.put_failure(key, error, token)
            if not keeps_stale(error):
                cache._on_terminal(key, error, token.seq)
            results[secret_id] = error
    finally:
        store.end_batch(token)
