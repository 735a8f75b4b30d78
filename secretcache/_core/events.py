"""A cache's counters and rotation events, and rotation_candidate's memory of failed logins.

``Events`` is what ``stats()`` and ``on_rotation`` report; ``Candidates`` keeps the failed
versions and the looks that answer them (the rules are ``recovery``'s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from .identity import identity
from .logs import log
from .models import CacheStats, RotationEvent
from .validate import check_callable, check_secret_id, check_version_id

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from .forksafe import ForkSafeLock
    from .identity import Identity
    from .models import Key, RotationCallback, Secret, SecretMetadata
    from .recovery import Look, LookPlan, Recovery
    from .regions import Regions
    from .store import Entry, Store

__all__ = ["Candidates", "Events"]


class Events:
    """Counters, the regions a source spans, and the rotation events of a cache."""

    _store: Store[Key, Secret]
    _counter_lock: ForkSafeLock
    _callbacks: list[RotationCallback]
    _api_calls: dict[str, int]
    _rotations: int
    _failovers: int
    _regions: Regions[Any] | None
    _lags: Callable[[Secret, Secret], bool] | None
    _reported: dict[tuple[str | None, frozenset[str], str], str]

    if TYPE_CHECKING:  # CacheBase's, which this part of it calls

        def _same_secret(self, secret_id: str) -> Callable[[Key], bool]: ...

    def _start_events(self) -> None:
        self._callbacks = []
        self._api_calls = {}
        self._rotations = 0
        self._failovers = 0
        # A source spanning regions (FailoverSource): set with the cache's source.
        self._regions = None
        self._lags = None
        # (account, name, stage) -> the VersionId last reported: one event per change,
        # however many ids (name, ARN) of the secret see it.
        self._reported = {}

    def _use_source(self, source: object) -> None:
        """Note whether ``source`` spans regions: its counters and lag rule then apply."""
        # A FailoverSource (its class says so; checked without importing it).
        spans = getattr(type(source), "spans_regions", False)
        self._regions = cast("Regions[Any]", source) if spans else None
        self._lags = self._regions.lags if self._regions is not None else None

    def _count(self, operation: str) -> None:
        with self._counter_lock:
            self._api_calls[operation] = self._api_calls.get(operation, 0) + 1

    def _from_fallback(self, answer: Secret | SecretMetadata) -> bool:
        """Return True if a fallback region gave ``answer``."""
        regions = self._regions
        return regions is not None and regions.answered_by_fallback(answer)

    def _count_failover(self) -> None:
        """Count one load (or one batch value) that a fallback region answered."""
        with self._counter_lock:
            self._failovers += 1

    def _replaced(self, key: Key, old: Secret | None, new: Secret) -> None:
        secret_id, stage, _ = key
        if old is None or stage is None or old.version_id == new.version_id:
            return
        # Other stages of this secret moved too (AWSCURRENT became AWSPREVIOUS), and
        # other ids of it hold the old version: revalidate them on their next read.
        # The same stage under another id must not serve the old version meanwhile.
        same = self._same_secret(secret_id)
        data = self._store.data

        def holds_old(k: Key) -> bool:
            entry = data.get(k)
            return entry is not None and entry.value.version_id != new.version_id

        self._store.expire(
            lambda k: k[1] == stage and k != key and same(k) and holds_old(k), servable=False
        )
        self._store.expire(lambda k: k[1] != stage and same(k), servable=True)
        if self._reported_before(identity(secret_id, new), stage, new.version_id):
            return  # seen already under another id of the secret
        event = RotationEvent(secret_id, stage, old.version_id, new.version_id)
        for callback in list(self._callbacks):
            try:
                callback(event)
            except Exception:
                log.exception("on_rotation callback %r failed for %s", callback, secret_id)

    def _reported_before(self, who: Identity, stage: str, version_id: str) -> bool:
        """Note a rotation to ``version_id``; return True if another id reported it."""
        with self._counter_lock:
            marker = (who.account, who.names, stage)
            if self._reported.get(marker) == version_id:
                return True
            self._reported.pop(marker, None)
            if len(self._reported) >= self._store.max_size:
                del self._reported[next(iter(self._reported))]
            self._reported[marker] = version_id
            self._rotations += 1
            return False

    def on_rotation(self, callback: RotationCallback) -> RotationCallback:
        """Register ``callback(RotationEvent)``; return it, so this works as a decorator."""
        self._callbacks.append(check_callable("callback", callback))
        return callback

    def stats(self) -> CacheStats:
        """Return a snapshot of the counters."""
        store = self._store
        with self._counter_lock:
            api_calls = dict(self._api_calls)
            rotations = self._rotations
            failovers = self._failovers
        regions = self._regions
        return CacheStats(
            hits=store.hits,
            misses=store.misses,
            refreshes=store.refreshes,
            rotations=rotations,
            stale_served=store.stale_served,
            errors=store.errors,
            size=len(store),
            api_calls=api_calls,
            loads=store.loads,
            failovers=failovers,
            calls_by_region={} if regions is None else regions.calls_by_region(),
        )


class Candidates:
    """The memory of failed logins, and the looks that answer them, built on first use."""

    _store: Store[Key, Secret]
    _clock: Callable[[], float]
    _counter_lock: ForkSafeLock
    _recovery_state: Recovery | None

    @property
    def _recovery(self) -> Recovery:
        """Return rotation_candidate's memory, built (and its module imported) on first use."""
        state = self._recovery_state
        if state is None:
            from .recovery import Recovery

            with self._counter_lock:
                state = self._recovery_state
                if state is None:
                    state = Recovery(clock=self._clock, max_size=self._store.max_size)
                    self._recovery_state = state
        return state

    def _known_look(
        self, secret_id: str, failed_version_id: str
    ) -> tuple[bool, Entry[Look] | None]:
        """Check rotation_candidate()'s arguments and record the failure.

        Return whether the failure is news (the look must be fresh) and, when it is not,
        the last look if it is still good: the shells look again only without one.
        """
        check_secret_id(secret_id)
        check_version_id(failed_version_id)
        news = self._recovery.note_failure(
            secret_id, failed_version_id, lambda: self._created(failed_version_id)
        )
        return news, None if news else self._recovery.looks.lookup(secret_id)

    def _created(self, version_id: str) -> datetime | None:
        for value in self._store.values():
            if value.version_id == version_id:
                return value.created_date
        return None

    def _look_plan(self, secret_id: str, last: Look | None) -> LookPlan:
        """Return the plan of a look at ``secret_id`` (both caches drive it).

        ``last`` is the previous look when the failure is a repeat, None for a full look.
        """
        from .observe import during
        from .recovery import look_plan

        recovery = self._recovery
        plan = look_plan(
            secret_id,
            lambda secret: recovery.acceptable(secret_id, secret),
            lambda secret: recovery.refused(secret_id, secret),
            last,
            self._clock(),
        )
        return during("rotation_look", plan)

    def _candidate(self, secret_id: str, look: Entry[Look]) -> Secret | None:
        return self._recovery.choose(secret_id, look.value)
