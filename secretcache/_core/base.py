"""What SecretCache and AsyncSecretCache share: settings, the store, counters, events.

Everything here is free of I/O. The two caches differ only in how they drive a load
(``_revalidate.plan_load``) and a rotation look (``_recovery.look_plan``): blocking
calls in one, awaits in the other.
"""

from __future__ import annotations

import importlib
import logging
import sys
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, cast

from . import forksafe as _forksafe
from . import parse as _parse
from .bounded import BoundedSet
from .forksafe import ForkSafeLock
from .identity import Identity, identity
from .models import CacheStats, RotationEvent, Secret
from .revalidate import plan_load
from .rules import secret_wide
from .store import Entry, Store
from .validate import (
    check_callable,
    check_fraction,
    check_rng,
    check_seconds,
    check_secret_id,
    check_size,
    check_stage,
    check_version_id,
    env_seconds,
)

if TYPE_CHECKING:
    import random
    from collections.abc import Iterable
    from datetime import datetime

    from ..exceptions import SecretCacheError
    from .models import SecretMetadata
    from .recovery import Recovery
    from .regions import Regions
    from .revalidate import Plan
    from .store import Ticket

__all__ = [
    "DEFAULT_TTL",
    "DESCRIBE_REREAD",
    "CacheBase",
    "Key",
    "RotationCallback",
    "make_key",
]

log = logging.getLogger("secretcache")

RotationCallback = Callable[[RotationEvent], object]
# (secret_id, version_stage, version_id): exactly one of the last two is None, so a
# stage label and a VersionId can never collide, and AWSPREVIOUS never answers for
# AWSCURRENT.
Key = tuple[str, "str | None", "str | None"]

DEFAULT_TTL = 300.0
#: In describe mode, read the value itself (GetSecretValue) at least this often when
#: max_stale is None; otherwise every max(ttl, max_stale) seconds.
DESCRIBE_REREAD = 900.0


def make_key(secret_id: str, version_stage: str, version_id: str | None) -> Key:
    """Return the cache key for a stage, or for a VersionId when one is given."""
    return (secret_id, version_stage, None) if version_id is None else (secret_id, None, version_id)


class CacheBase:
    """Settings, store, counters and rotation events of a secrets cache."""

    def __init__(
        self,
        *,
        ttl: float | None,
        jitter: float,
        cold_jitter: float,
        max_size: int,
        max_stale: float | None,
        revalidate: Literal["get", "describe"],
        clock: Callable[[], float],
        rng: random.Random | None,
        on_rotation: RotationCallback | None,
    ) -> None:
        if ttl is None:
            ttl = env_seconds("SECRETCACHE_TTL", DEFAULT_TTL)
        checked_ttl = check_seconds("ttl", ttl)
        assert checked_ttl is not None
        if revalidate not in ("get", "describe"):
            raise ValueError(f"revalidate must be 'get' or 'describe', not {revalidate!r}")
        self._ttl = checked_ttl
        self._revalidate = revalidate
        self._clock = check_callable("clock", clock)
        size = check_size("max_size", max_size)
        stale = check_seconds("max_stale", max_stale, allow_none=True)
        self._store: Store[Key, Secret] = Store(
            ttl=checked_ttl,
            jitter=check_fraction("jitter", jitter),
            cold_jitter=check_fraction("cold_jitter", cold_jitter),
            max_size=size,
            max_stale=stale,
            clock=self._clock,
            rng=check_rng(rng),
            on_replace=self._replaced,
        )
        self._reread_every = max(checked_ttl, DESCRIBE_REREAD if stale is None else stale)
        # The hit paths read these directly: one attribute load each instead of two.
        self._data = self._store.data
        self._count_hit = self._store.count_hit
        self._callbacks: list[RotationCallback] = []
        if on_rotation is not None:
            self.on_rotation(on_rotation)
        self._counter_lock = ForkSafeLock()
        self._api_calls: dict[str, int] = {}
        self._rotations = 0
        self._failovers = 0
        # A source spanning regions (FailoverSource): set by the subclass with its source.
        self._regions: Regions | None = None
        self._lags: Callable[[Secret, Secret], bool] | None = None
        # (account, name, stage) -> the VersionId last reported: one event per change,
        # however many ids (name, ARN) of the secret see it.
        self._reported: dict[tuple[str | None, frozenset[str], str], str] = {}
        self._describe_denied: BoundedSet[str] = BoundedSet(size)
        self._recovery_state: Recovery | None = None  # built on the first failed login
        _forksafe.register(self)
        _register_snapstart(self)

    # -- arguments and parsing -----------------------------------------------------------
    @staticmethod
    def _check(secret_id: Any, version_stage: Any, version_id: Any) -> None:
        check_secret_id(secret_id)
        if version_id is not None:
            check_version_id(version_id)
        else:
            check_stage(version_stage)

    def _parsed(self, entry: Entry[Secret]) -> Any:
        """Return the entry's JSON, parsed once per version."""
        cached = entry.parsed
        version_id = entry.value.version_id
        if isinstance(cached, tuple) and cached[0] == version_id:
            return cached[1]
        # The previous version's JSON: not in this frame's locals (which error trackers
        # record) if parsing this version fails.
        del cached
        parsed = _parse.parse_json(entry.value)
        entry.parsed = (version_id, parsed)
        return parsed

    @staticmethod
    def _check_field(field: Any) -> None:
        if not isinstance(field, str):
            raise TypeError(f"field must be a str, not {type(field).__name__}")

    def _json(self, entry: Entry[Secret]) -> Any:
        return _parse.copy_json(entry.value, self._parsed(entry))

    def _field(self, entry: Entry[Secret], field: str) -> Any:
        return _parse.copy_json(
            entry.value, _parse.field_of(entry.value, self._parsed(entry), field)
        )

    def _plan_load(self, ticket: Ticket[Key, Secret], must_read: bool) -> Plan:
        """Return the load plan for a ticket (``must_read``: GetSecretValue, no describe)."""
        entry = ticket.entry
        return plan_load(
            ticket.key,
            ticket.previous,
            describe=self._revalidate == "describe",
            describe_denied=self._describe_denied,
            # Describe mode reads the value itself at least every _reread_every seconds.
            must_read=must_read
            or (entry is not None and self._clock() - entry.read_at >= self._reread_every),
            lags=self._lags,
        )

    # -- one secret, many ids ------------------------------------------------------------
    def _identities(self) -> dict[str, Identity]:
        """Return what each id the cache holds a value for names (a snapshot)."""
        return {key[0]: identity(key[0], value) for key, value in self._store.items()}

    def _same_secret(self, secret_id: str) -> Callable[[Key], bool]:
        """Return a predicate matching every key of the secret ``secret_id`` may name."""
        return self._secret_of(secret_id)[0]

    def _secret_of(self, secret_id: str) -> tuple[Callable[[Key], bool], Identity]:
        """Return a predicate matching every key of that secret, and its identity."""
        known = self._identities()
        target = known.get(secret_id) or identity(secret_id)

        def matches(key: Key) -> bool:
            other = key[0]
            if other == secret_id:
                return True
            return target.overlaps(known.get(other) or identity(other))

        return matches, target

    def _on_terminal(self, key: Key, error: SecretCacheError, seq: int) -> None:
        """After ``key`` failed for good, apply a secret-wide answer to its other keys.

        ``seq`` is the failed request's sequence number: keys holding an answer to a
        later request keep it.
        """
        if not secret_wide(error):
            return
        same, target = self._secret_of(key[0])

        def others(candidate: Key) -> bool:
            return candidate != key and same(candidate)

        if target.exact:
            self._store.fail_keys(others, error, seq)
        else:
            # Which secret the id names is a guess (a partial ARN that looks like a full
            # one): forget the candidates, but remember nothing against them.
            self._store.invalidate(others)

    # -- events and counters ---------------------------------------------------------------
    def _use_source(self, source: object) -> None:
        """Note whether ``source`` spans regions: its counters and lag rule then apply."""
        # A FailoverSource (its class says so; checked without importing it).
        spans = getattr(type(source), "spans_regions", False)
        self._regions = cast("Regions", source) if spans else None
        self._lags = self._regions.lags if self._regions is not None else None

    def _count(self, operation: str) -> None:
        with self._counter_lock:
            self._api_calls[operation] = self._api_calls.get(operation, 0) + 1

    def _from_fallback(self, answer: Secret | SecretMetadata) -> bool:
        """Return True if a fallback region gave ``answer``."""
        regions = self._regions
        return regions is not None and regions.answered_by_fallback(answer)

    def _count_failovers(self, answers: Iterable[Secret | SecretMetadata]) -> None:
        """Count one failover if a fallback region gave any of one load's ``answers``."""
        if any(self._from_fallback(answer) for answer in answers):
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
        data = self._data

        def holds_old(k: Key) -> bool:
            entry = data.get(k)
            return entry is not None and entry.value.version_id != new.version_id

        self._store.expire(
            lambda k: k[1] == stage and k != key and same(k) and holds_old(k), servable=False
        )
        self._store.expire(lambda k: k[1] != stage and same(k), servable=True)
        who = identity(secret_id, new)
        with self._counter_lock:
            marker = (who.account, who.names, stage)
            if self._reported.get(marker) == new.version_id:
                return  # seen already under another id of the secret
            self._reported.pop(marker, None)
            if len(self._reported) >= self._store.max_size:
                del self._reported[next(iter(self._reported))]
            self._reported[marker] = new.version_id
            self._rotations += 1
        event = RotationEvent(secret_id, stage, old.version_id, new.version_id)
        for callback in list(self._callbacks):
            try:
                callback(event)
            except Exception:
                log.exception("on_rotation callback %r failed for %s", callback, secret_id)

    def on_rotation(self, callback: RotationCallback) -> RotationCallback:
        """Register ``callback(RotationEvent)``; return it, so this works as a decorator."""
        self._callbacks.append(check_callable("callback", callback))
        return callback

    def invalidate(self, secret_id: str | None = None) -> None:
        """Forget one secret (all its stages, versions and ids: name, ARN), or everything."""
        if secret_id is None:
            self._store.invalidate()
            return
        check_secret_id(secret_id)
        self._store.invalidate(self._same_secret(secret_id))

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

    def _version_before(self, secret_id: str, version_stage: str) -> str | None:
        """Check refresh()'s arguments; return the VersionId cached for them, if any."""
        self._check(secret_id, version_stage, None)
        before = self._data.get(make_key(secret_id, version_stage, None))
        return before.value.version_id if before is not None else None

    # -- rotation-window recovery ----------------------------------------------------------
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

    def _note_failure(self, secret_id: str, failed_version_id: str) -> bool:
        """Check rotation_candidate()'s arguments; record the failure; True if news."""
        check_secret_id(secret_id)
        check_version_id(failed_version_id)
        return self._recovery.note_failure(
            secret_id, failed_version_id, lambda: self._created(failed_version_id)
        )

    def _created(self, version_id: str) -> datetime | None:
        for value in self._store.values():
            if value.version_id == version_id:
                return value.created_date
        return None

    def _acceptable(self, secret_id: str) -> Callable[[Secret], bool]:
        recovery = self._recovery
        return lambda secret: recovery.acceptable(secret_id, secret)

    def _after_fork_in_child(self) -> None:
        """Forget what belonged to the parent's threads and event loops (see subclasses)."""

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} ttl={self._ttl:g}s revalidate={self._revalidate!r} "
            f"size={len(self._store)}/{self._store.max_size}>"
        )


# Lambda SnapStart: one restore hook for every cache of the process (the runtime keeps
# each hook registered for good: one per cache would grow with every cache built).
_snapstart_caches: weakref.WeakSet[CacheBase] = weakref.WeakSet()
_snapstart_lock = ForkSafeLock()
_snapstart_module: object = None  # the runtime module our hook is registered with
_snapstart_missing = False  # the import failed once: do not search the path again


def _register_snapstart(cache: CacheBase) -> None:
    """Mark every entry stale after a Lambda SnapStart restore, if the runtime has hooks."""
    global _snapstart_module, _snapstart_missing
    module: Any = sys.modules.get("snapshot_restore_py")
    if module is None:
        if _snapstart_missing:
            return
        try:
            module = importlib.import_module("snapshot_restore_py")
        except ImportError:
            _snapstart_missing = True
            return
    with _snapstart_lock:
        _snapstart_caches.add(cache)
        if _snapstart_module is not module:
            module.register_after_restore(_after_restore)
            _snapstart_module = module


def _after_restore() -> None:
    for cache in list(_snapstart_caches):
        # A snapshot may be restored long after it was taken: don't serve its values,
        # not even stale, before they are revalidated.
        cache._store.expire(servable=False)
        cache._store.diverge()  # copies of one snapshot: same deadlines, same RNG state
