"""What SecretCache and AsyncSecretCache share: settings, the store, counters, events.

Everything here is free of I/O. The two caches differ only in how they drive a load
(``_revalidate.plan_load``) and a rotation lookup (``rotation_plan``): blocking calls
in one, awaits in the other.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Generator
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from . import _parse
from ._models import AWSCURRENT, AWSPENDING, CacheStats, RotationEvent, Secret
from ._store import Entry, Store
from ._validate import (
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
from .exceptions import (
    SecretAccessDeniedError,
    SecretDecryptionError,
    SecretDeletedError,
    SecretFormatError,
    SecretNotFoundError,
)

if TYPE_CHECKING:
    import random

__all__ = [
    "DEFAULT_TTL",
    "RECHECK_INTERVAL",
    "TERMINAL",
    "CacheBase",
    "Key",
    "RotationCallback",
    "RotationStep",
    "copy_parsed",
    "make_key",
]

log = logging.getLogger("secretcache")

RotationCallback = Callable[[RotationEvent], object]
# (secret_id, version_stage, version_id): exactly one of the last two is None, so a
# stage label and a VersionId can never collide, and AWSPREVIOUS never answers for
# AWSCURRENT.
Key = tuple[str, "str | None", "str | None"]
# rotation_plan asks for (key, reread): reread=False may be answered from a recent read.
RotationStep = Generator[tuple[Key, bool], Secret, "Secret | None"]

DEFAULT_TTL = 300.0
# rotation_candidate() re-asks Secrets Manager at most this often per secret, so a
# tight loop of failing logins cannot turn into a tight loop of API calls.
RECHECK_INTERVAL = 1.0
# Errors that mean "this secret is not readable at all": every stage we hold goes.
TERMINAL = (SecretAccessDeniedError, SecretDeletedError, SecretDecryptionError)


def make_key(secret_id: str, version_stage: str, version_id: str | None) -> Key:
    """Return the cache key for a stage, or for a VersionId when one is given."""
    return (secret_id, version_stage, None) if version_id is None else (secret_id, None, version_id)


def copy_parsed(entry: Entry[Secret], value: Any) -> Any:
    """Return a caller's own copy of parsed JSON held by ``entry``."""
    try:
        return _parse.copy_json(value)
    except RecursionError:
        raise SecretFormatError(
            "SecretString is JSON nested too deeply to copy",
            code="InvalidJSON",
            secret_id=entry.value.secret_id,
            version_id=entry.value.version_id,
        ) from None


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
        self._store: Store[Key, Secret] = Store(
            ttl=checked_ttl,
            jitter=check_fraction("jitter", jitter),
            cold_jitter=check_fraction("cold_jitter", cold_jitter),
            max_size=check_size("max_size", max_size),
            max_stale=check_seconds("max_stale", max_stale, allow_none=True),
            clock=self._clock,
            rng=check_rng(rng),
            on_replace=self._replaced,
        )
        # The hit paths read these directly: one attribute load each instead of two.
        self._data = self._store.data
        self._count_hit = self._store.count_hit
        self._callbacks: list[RotationCallback] = []
        if on_rotation is not None:
            self.on_rotation(on_rotation)
        self._counter_lock = threading.Lock()
        self._api_calls: dict[str, int] = {}
        self._rotations = 0
        self._describe_denied: set[str] = set()
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
        parsed = _parse.parse_json(entry.value)
        entry.parsed = (version_id, parsed)
        return parsed

    @staticmethod
    def _check_field(field: Any) -> None:
        if not isinstance(field, str):
            raise TypeError(f"field must be a str, not {type(field).__name__}")

    def _field(self, entry: Entry[Secret], field: str) -> Any:
        return copy_parsed(entry, _parse.field_of(entry.value, self._parsed(entry), field))

    def _forget_siblings(self, key: Key, error: Exception) -> None:
        """After a terminal error on ``key``, drop the secret's other stages too."""
        if isinstance(error, TERMINAL):
            self._store.invalidate(lambda k: k[0] == key[0] and k != key)

    # -- events and counters ---------------------------------------------------------------
    def _count(self, operation: str) -> None:
        with self._counter_lock:
            self._api_calls[operation] = self._api_calls.get(operation, 0) + 1

    def _replaced(self, key: Key, old: Secret | None, new: Secret) -> None:
        secret_id, stage, _ = key
        if old is None or stage is None or old.version_id == new.version_id:
            return
        event = RotationEvent(secret_id, stage, old.version_id, new.version_id)
        with self._counter_lock:
            self._rotations += 1
        # Other stages of this secret moved too (AWSCURRENT became AWSPREVIOUS):
        # revalidate them on their next read, serving them meanwhile.
        self._store.expire(lambda k: k[0] == secret_id and k != key, servable=True)
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
        """Forget one secret (all its stages and versions), or everything."""
        if secret_id is None:
            self._store.invalidate()
            return
        check_secret_id(secret_id)
        self._store.invalidate(lambda k: k[0] == secret_id)

    def stats(self) -> CacheStats:
        """Return a snapshot of the counters."""
        store = self._store
        with self._counter_lock:
            api_calls = MappingProxyType(dict(self._api_calls))
            rotations = self._rotations
        return CacheStats(
            hits=store.hits,
            misses=store.misses,
            refreshes=store.refreshes,
            rotations=rotations,
            stale_served=store.stale_served,
            errors=store.errors,
            size=len(store),
            api_calls=api_calls,
        )

    def _version_before(self, secret_id: str, version_stage: str) -> str | None:
        """Check refresh()'s arguments; return the VersionId cached for them, if any."""
        self._check(secret_id, version_stage, None)
        before = self._data.get(make_key(secret_id, version_stage, None))
        return before.value.version_id if before is not None else None

    # -- rotation-window recovery ----------------------------------------------------------
    def _recent(self, key: Key) -> Secret | None:
        """Answer a recheck of ``key`` from the last second, if it was asked that recently."""
        now = self._clock()
        entry = self._data.get(key)
        if entry is not None and now - entry.loaded_at < RECHECK_INTERVAL:
            return entry.value
        failure_at = self._store.failed_at(key)
        if failure_at is not None and now - failure_at < RECHECK_INTERVAL:
            self._store.raise_failure(key)
        return None

    def rotation_plan(self, secret_id: str, failed_version_id: str) -> RotationStep:
        """Yield the keys rotation_candidate must (re)read; return its answer.

        The driver answers ``(key, reread)`` with the key's Secret, read with
        ``force=True, ignore_backoff=True`` (our own once-a-second limit stands in for
        the backoff: a "no AWSPENDING" remembered for 60 s would hide the next rotation
        window); unless ``reread`` is False and ``_recent`` already knows the answer.
        A SecretNotFoundError is thrown back in.
        """
        check_secret_id(secret_id)
        if not isinstance(failed_version_id, str):
            raise TypeError("failed_version_id must be a str")
        current_key = make_key(secret_id, AWSCURRENT, None)
        current = yield current_key, False
        if current.version_id != failed_version_id:
            return current
        pending_key = make_key(secret_id, AWSPENDING, None)
        asked_before = self._store.failed_at(pending_key)
        try:
            pending = yield pending_key, False
        except SecretNotFoundError:
            if self._store.failed_at(pending_key) == asked_before:
                return None  # a remembered answer: nothing new was asked
            # No rotation under way, or finishSecret ran between our two reads (it
            # moves AWSCURRENT and clears AWSPENDING): look at AWSCURRENT once more.
            again = yield current_key, True
            return again if again.version_id != failed_version_id else None
        return pending if pending.version_id != failed_version_id else None

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} ttl={self._ttl:g}s revalidate={self._revalidate!r} "
            f"size={len(self._store)}/{self._store.max_size}>"
        )


def _register_snapstart(cache: CacheBase) -> None:
    """Mark every entry stale after a Lambda SnapStart restore, if the runtime has hooks."""
    try:
        import snapshot_restore_py
    except ImportError:
        return
    ref = weakref.ref(cache)

    def after_restore() -> None:
        alive = ref()
        if alive is not None:
            # A snapshot may be restored long after it was taken: don't serve its values,
            # not even stale, before they are revalidated.
            alive._store.expire(servable=False)
            alive._store.diverge()  # copies of one snapshot: same deadlines, same RNG state

    snapshot_restore_py.register_after_restore(after_restore)
