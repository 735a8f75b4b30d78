"""Batch reads in a store: a BatchGetSecretValue's answers stored as if each key was loaded.

``Batches`` is the part of ``store.Store`` that takes a batch's sequence number before
the call and stores (or remembers the failure of) each id it answered after it, by the
same ordering rules as a load: an answer never replaces an answer to a later request.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Generic, TypeVar

from .entries import Batch, _Failure, fresh_copy

if TYPE_CHECKING:
    import itertools
    import threading

    from ..exceptions import SecretCacheError
    from .entries import Entry, Load, _Flight

__all__ = ["Batches"]

V = TypeVar("V")
K = TypeVar("K", bound=Hashable)


class Batches(Generic[K, V]):
    """Begin, store and end batch reads (see ``store.Store``)."""

    data: dict[K, Entry[V]]
    _failures: dict[K, _Failure]
    _batches: set[Batch[K]]
    _lock: threading.Lock
    _seq: itertools.count[int]

    if TYPE_CHECKING:  # Store's, which this half of it calls

        def _commit(
            self,
            key: K,
            loaded: Load[V],
            seq: int,
            token: _Flight[V] | Batch[K],
            base_read_at: float | None,
        ) -> tuple[Entry[V] | _Failure, V | None, bool]: ...

        def _fail(
            self,
            key: K,
            exc: SecretCacheError,
            entry: Entry[V] | None,
            failure: _Failure | None,
            force: bool,
            seq: int,
            token: _Flight[V] | Batch[K],
        ) -> tuple[Entry[V] | None, bool]: ...

        def _report(self, key: K, replaced: V | None, value: V) -> None: ...

    def begin_batch(self) -> Batch[K]:
        """Start a batch read: call before sending it, end it with ``end_batch``."""
        with self._lock:
            batch: Batch[K] = Batch(next(self._seq))
            self._batches.add(batch)
            return batch

    def end_batch(self, batch: Batch[K]) -> None:
        """Forget a batch read whose answers are all stored."""
        with self._lock:
            self._batches.discard(batch)

    def put(self, key: K, loaded: Load[V], batch: Batch[K]) -> V:
        """Store a value read by ``batch``, as if ``key`` had been loaded; return the kept one.

        The value kept is this one, or a newer one that was stored while the batch was
        out (or this one, unkept, if invalidate() covered the key meanwhile).
        """
        entry, replaced, stored = self._commit(key, loaded, batch.seq, batch, None)
        if isinstance(entry, _Failure):
            raise fresh_copy(entry.error)
        if stored:
            self._report(key, replaced, entry.value)
        return entry.value

    def put_failure(self, key: K, error: SecretCacheError, batch: Batch[K]) -> None:
        """Remember a failure read by ``batch``, as if loading ``key`` had failed."""
        with self._lock:
            entry = self.data.get(key)
            failure = self._failures.get(key)
        self._fail(key, error, entry, failure, True, batch.seq, batch)
