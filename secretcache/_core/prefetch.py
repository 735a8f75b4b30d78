"""Batch warm-up: BatchGetSecretValue in chunks of 20, per-id errors typed and remembered.

Written once for both caches, like ``_revalidate``: ``plan_prefetch`` is a generator
that yields ``Batch`` (one BatchGetSecretValue call) and ``Singles`` (read these ids one
by one through the cache's own get) and is sent their results; it stores what comes
back in the cache's store. ``prefetch`` drives it with blocking calls, ``aprefetch``
with awaits. The rules:

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

import asyncio
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from ..exceptions import SecretAccessDeniedError, SecretCacheError
from .base import Key
from .models import AWSCURRENT, Secret
from .revalidate import settle
from .rules import keeps_stale
from .validate import check_secret_id

if TYPE_CHECKING:
    from .._cache import SecretCache
    from .._sources.botocore import BatchPage
    from ..aio import AsyncSecretCache
    from .revalidate import Lags
    from .store import Batch as StoreBatch
    from .store import Store

__all__ = ["BATCH_SIZE", "Batch", "Singles", "aprefetch", "plan_prefetch", "prefetch"]

BATCH_SIZE = 20  # the API's limit for SecretIdList

Results = dict[str, "Secret | SecretCacheError"]


@dataclass(frozen=True, slots=True)
class Batch:
    """Call BatchGetSecretValue once, with ids or with filters (and a page token)."""

    secret_ids: tuple[str, ...] | None = None
    filters: tuple[Mapping[str, Any], ...] | None = None
    next_token: str | None = None

    operation = "BatchGetSecretValue"


@dataclass(frozen=True, slots=True)
class Singles:
    """Read each id through the cache's get; answer with id -> Secret or error."""

    secret_ids: tuple[str, ...]


PrefetchPlan = Generator["Batch | Singles", "BatchPage | Results", Results]
OnTerminal = Callable[[Key, SecretCacheError, int], None]


def plan_prefetch(
    store: Store[Key, Secret],
    secret_ids: Iterable[str] | None,
    filters: Sequence[Mapping[str, Any]] | None,
    on_terminal: OnTerminal,
    lags: Lags | None = None,
) -> PrefetchPlan:
    """Check the arguments now; return the plan that warms ``store`` with them."""
    if (secret_ids is None) == (filters is None):
        raise TypeError("pass exactly one of secret_ids and filters")
    if secret_ids is not None:
        if isinstance(secret_ids, (str, bytes)):
            raise TypeError("secret_ids must be an iterable of ids, not a single string")
        ids = tuple(dict.fromkeys(check_secret_id(s) for s in secret_ids))
        return _by_ids(store, ids, on_terminal, lags)
    assert filters is not None
    if isinstance(filters, (str, bytes, Mapping)) or not all(
        isinstance(f, Mapping) for f in filters
    ):
        raise TypeError("filters must be a sequence of mappings like {'Key': ..., 'Values': [...]}")
    return _by_filters(store, tuple(filters), on_terminal, lags)


def _by_ids(
    store: Store[Key, Secret], ids: tuple[str, ...], on_terminal: OnTerminal, lags: Lags | None
) -> PrefetchPlan:
    results: Results = {}
    batch_denied = False
    for start in range(0, len(ids), BATCH_SIZE):
        chunk = ids[start : start + BATCH_SIZE]
        if not batch_denied:
            token = store.begin_batch()
            try:
                page = yield Batch(secret_ids=chunk)
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
                assert not isinstance(page, dict)
                _absorb(store, token, page, results, frozenset(chunk), on_terminal, lags)
        missing = tuple(sid for sid in chunk if sid not in results)
        if missing:
            # Denied batch, or ids the batch answered under another name (a partial ARN).
            singles = yield Singles(missing)
            assert isinstance(singles, dict)
            results.update(singles)
    return {sid: results[sid] for sid in ids if sid in results}


def _by_filters(
    store: Store[Key, Secret],
    filters: tuple[Mapping[str, Any], ...],
    on_terminal: OnTerminal,
    lags: Lags | None,
) -> PrefetchPlan:
    results: Results = {}
    next_token: str | None = None
    while True:
        token = store.begin_batch()
        try:
            page = yield Batch(filters=filters, next_token=next_token)
        except BaseException:
            store.end_batch(token)
            raise
        assert not isinstance(page, dict)
        _absorb(store, token, page, results, None, on_terminal, lags)
        next_token = page.next_token
        if not next_token:
            return results


def _absorb(
    store: Store[Key, Secret],
    token: StoreBatch[Key],
    page: BatchPage,
    results: Results,
    asked: frozenset[str] | None,
    on_terminal: OnTerminal,
    lags: Lags | None,
) -> None:
    try:
        for secret in page.secrets:
            if asked is not None and secret.secret_id not in asked:
                continue  # answered under another name: the id asked is read singly
            key: Key = (secret.secret_id, AWSCURRENT, None)
            current = store.data.get(key)
            # The same version keeps the object and its parsed JSON; a fallback region's
            # replica that has not caught up keeps the version cached.
            loaded = settle(current.value if current is not None else None, secret, lags)
            try:
                results[secret.secret_id] = store.put(key, loaded, token)
            except SecretCacheError as exc:  # a later read was denied: that stands
                results[secret.secret_id] = exc
        for secret_id, error in page.errors.items():
            key = (secret_id, AWSCURRENT, None)
            store.put_failure(key, error, token)
            if not keeps_stale(error):
                on_terminal(key, error, token.seq)
            results[secret_id] = error
    finally:
        store.end_batch(token)


# -- drivers --------------------------------------------------------------------------
def prefetch(
    cache: SecretCache,
    secret_ids: Iterable[str] | None,
    filters: Sequence[Mapping[str, Any]] | None,
) -> Mapping[str, Secret | SecretCacheError]:
    """Warm ``cache`` (blocking); return each secret's Secret or typed error."""
    plan = plan_prefetch(cache._store, secret_ids, filters, cache._on_terminal, cache._lags)
    step: Callable[[], Batch | Singles] = partial(next, plan)
    while True:
        try:
            request = step()
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if isinstance(request, Singles):
            step = partial(plan.send, {sid: _single(cache, sid) for sid in request.secret_ids})
            continue
        cache._count(request.operation)
        try:
            page = cache._source.batch_get_secret_value(
                secret_ids=request.secret_ids,
                filters=request.filters,
                next_token=request.next_token,
            )
        except SecretCacheError as exc:
            step = partial(plan.throw, exc)
        else:
            for secret in page.secrets:  # each value a fallback region read: a failover
                cache._count_failovers((secret,))
            step = partial(plan.send, page)


def _single(cache: SecretCache, secret_id: str) -> Secret | SecretCacheError:
    try:
        return cache.get_secret(secret_id)
    except SecretCacheError as exc:
        return exc


async def aprefetch(
    cache: AsyncSecretCache,
    secret_ids: Iterable[str] | None,
    filters: Sequence[Mapping[str, Any]] | None,
) -> Mapping[str, Secret | SecretCacheError]:
    """Warm ``cache`` (awaiting); single reads of a fallback run concurrently."""
    plan = plan_prefetch(cache._store, secret_ids, filters, cache._on_terminal, cache._lags)
    step: Callable[[], Batch | Singles] = partial(next, plan)
    while True:
        try:
            request = step()
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if isinstance(request, Singles):
            ids = request.secret_ids
            read = await asyncio.gather(*(_asingle(cache, sid) for sid in ids))
            step = partial(plan.send, dict(zip(ids, read, strict=True)))
            continue
        cache._count(request.operation)
        try:
            page = await cache._source.batch_get_secret_value(
                secret_ids=request.secret_ids,
                filters=request.filters,
                next_token=request.next_token,
            )
        except SecretCacheError as exc:
            step = partial(plan.throw, exc)
        else:
            for secret in page.secrets:  # each value a fallback region read: a failover
                cache._count_failovers((secret,))
            step = partial(plan.send, page)


async def _asingle(cache: AsyncSecretCache, secret_id: str) -> Secret | SecretCacheError:
    try:
        return await cache.get_secret(secret_id)
    except SecretCacheError as exc:
        return exc
