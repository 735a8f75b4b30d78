"""SecretCache: the store, a source and parsing joined, with rotation detection."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Literal

from . import _parse
from ._models import AWSCURRENT, AWSPENDING, CacheStats, RotationEvent, Secret, SecretMetadata
from ._revalidate import Get, plan_load
from ._source import BotocoreSource, SecretSource
from ._store import Entry, Load, Store
from ._validate import (
    check_callable,
    check_fraction,
    check_seconds,
    check_secret_id,
    check_size,
    check_stage,
    check_version_id,
    env_seconds,
)
from .exceptions import (
    SecretAccessDeniedError,
    SecretCacheError,
    SecretDecryptionError,
    SecretDeletedError,
    SecretFormatError,
    SecretNotFoundError,
)

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from ._refresher import RefreshAhead

__all__ = ["RotationCallback", "SecretCache", "default_cache"]

log = logging.getLogger("secretcache")

RotationCallback = Callable[[RotationEvent], object]
# (secret_id, version_stage, version_id): exactly one of the last two is None, so a
# stage label and a VersionId can never collide, and AWSPREVIOUS never answers for
# AWSCURRENT.
Key = tuple[str, "str | None", "str | None"]

DEFAULT_TTL = 300.0
# rotation_candidate() re-asks Secrets Manager at most this often per secret, so a
# tight loop of failing logins cannot turn into a tight loop of API calls.
RECHECK_INTERVAL = 1.0


def _key(secret_id: str, version_stage: str, version_id: str | None) -> Key:
    return (secret_id, version_stage, None) if version_id is None else (secret_id, None, version_id)


class SecretCache:
    """A TTL cache of Secrets Manager secrets, keyed by secret and stage or VersionId.

    Fresh reads come from memory with no lock and no API call; an expired entry is
    revalidated by one caller while the others keep reading it (within ``max_stale``);
    a changed VersionId behind a stage is a rotation, reported to ``on_rotation``.
    """

    def __init__(
        self,
        client: SecretsManagerClient | None = None,
        session: boto3.Session | None = None,
        *,
        ttl: float | None = None,
        jitter: float = 0.1,
        max_size: int = 1024,
        max_stale: float | None = 900.0,
        revalidate: Literal["get", "describe"] = "get",
        clock: Callable[[], float] = time.monotonic,
        on_rotation: RotationCallback | None = None,
        refresh_ahead: bool = False,
        source: SecretSource | None = None,
    ) -> None:
        if sum(x is not None for x in (client, session, source)) > 1:
            raise TypeError("pass at most one of client, session and source")
        if ttl is None:
            ttl = env_seconds("SECRETCACHE_TTL", DEFAULT_TTL)
        checked_ttl = check_seconds("ttl", ttl)
        assert checked_ttl is not None
        if revalidate not in ("get", "describe"):
            raise ValueError(f"revalidate must be 'get' or 'describe', not {revalidate!r}")
        if not isinstance(refresh_ahead, bool):
            raise TypeError("refresh_ahead must be a bool")
        self._ttl = checked_ttl
        self._revalidate = revalidate
        self._clock = check_callable("clock", clock)
        self._source: SecretSource = source or BotocoreSource(client, session)
        self._store: Store[Key, Secret] = Store(
            ttl=checked_ttl,
            jitter=check_fraction("jitter", jitter),
            max_size=check_size("max_size", max_size),
            max_stale=check_seconds("max_stale", max_stale, allow_none=True),
            clock=self._clock,
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
        self._refresher: RefreshAhead | None = None
        if refresh_ahead:
            from ._refresher import RefreshAhead

            self._refresher = RefreshAhead(self)
        _register_snapstart(self)

    # -- reads ------------------------------------------------------------------------
    def get_secret(
        self, secret_id: str, version_stage: str = AWSCURRENT, *, version_id: str | None = None
    ) -> Secret:
        """Return the secret's version for a stage (or a VersionId), from memory if fresh."""
        # The hit path is inlined here and in get_secret_string: no lock, one dict probe.
        key = (
            (secret_id, version_stage, None)
            if version_id is None
            else (secret_id, None, version_id)
        )
        try:
            entry = self._data.get(key)
        except TypeError:  # an unhashable argument: the checks below explain it
            entry = None
        if entry is not None and self._clock() < entry.fresh_until:
            entry.referenced = True
            self._count_hit()
            return entry.value
        return self._entry(secret_id, version_stage, version_id).value

    def get_secret_string(
        self, secret_id: str, version_stage: str = AWSCURRENT, *, version_id: str | None = None
    ) -> str:
        """Return the SecretString (SecretFormatError if the secret is binary)."""
        key = (
            (secret_id, version_stage, None)
            if version_id is None
            else (secret_id, None, version_id)
        )
        try:
            entry = self._data.get(key)
        except TypeError:  # an unhashable argument: the checks below explain it
            entry = None
        if entry is not None and self._clock() < entry.fresh_until:
            value = entry.value.secret_string
            if value is not None:
                entry.referenced = True
                self._count_hit()
                return value
        return _parse.as_string(self._entry(secret_id, version_stage, version_id).value)

    def get_secret_binary(
        self, secret_id: str, version_stage: str = AWSCURRENT, *, version_id: str | None = None
    ) -> bytes:
        """Return the SecretBinary (or the SecretString as UTF-8 bytes)."""
        return _parse.as_binary(self._entry(secret_id, version_stage, version_id).value)

    def get_secret_json(
        self, secret_id: str, version_stage: str = AWSCURRENT, *, version_id: str | None = None
    ) -> Any:
        """Return the SecretString parsed as JSON: a fresh copy the caller may mutate."""
        entry = self._entry(secret_id, version_stage, version_id)
        return _copy(entry, self._parsed(entry))

    def get_secret_field(
        self,
        secret_id: str,
        field: str,
        version_stage: str = AWSCURRENT,
        *,
        version_id: str | None = None,
    ) -> Any:
        """Return one field of the secret's JSON object (SecretFieldError if missing)."""
        if not isinstance(field, str):
            raise TypeError(f"field must be a str, not {type(field).__name__}")
        entry = self._entry(secret_id, version_stage, version_id)
        return _copy(entry, _parse.field_of(entry.value, self._parsed(entry), field))

    def _entry(self, secret_id: str, version_stage: str, version_id: str | None) -> Entry[Secret]:
        key = _key(secret_id, version_stage, version_id)
        try:
            entry = self._store.lookup(key)
        except TypeError:
            entry = None  # an unhashable argument: let the checks below explain it
        if entry is not None:
            return entry
        self._check(secret_id, version_stage, version_id)
        return self._get(key)

    def _get(self, key: Key, *, force: bool = False, ignore_backoff: bool = False) -> Entry[Secret]:
        try:
            return self._store.get(
                key, self._loader(key), force=force, ignore_backoff=ignore_backoff
            )
        except SecretCacheError as exc:
            if isinstance(
                exc, (SecretAccessDeniedError, SecretDeletedError, SecretDecryptionError)
            ):
                # Revoked, deleted or undecryptable: that goes for every stage we hold.
                self._store.invalidate(lambda k: k[0] == key[0] and k != key)
            raise

    @staticmethod
    def _check(secret_id: Any, version_stage: Any, version_id: Any) -> None:
        check_secret_id(secret_id)
        if version_id is not None:
            check_version_id(version_id)
        else:
            check_stage(version_stage)

    def _parsed(self, entry: Entry[Secret]) -> Any:
        cached = entry.parsed
        version_id = entry.value.version_id
        if isinstance(cached, tuple) and cached[0] == version_id:
            return cached[1]
        parsed = _parse.parse_json(entry.value)
        entry.parsed = (version_id, parsed)
        return parsed

    # -- loading ----------------------------------------------------------------------
    def _count(self, operation: str) -> None:
        with self._counter_lock:
            self._api_calls[operation] = self._api_calls.get(operation, 0) + 1

    def _loader(self, key: Key) -> Callable[[Secret | None], Load[Secret]]:
        def load(previous: Secret | None) -> Load[Secret]:
            plan = plan_load(
                key,
                previous,
                describe=self._revalidate == "describe",
                describe_denied=self._describe_denied,
            )
            request = next(plan)
            while True:
                self._count(request.operation)
                try:
                    if isinstance(request, Get):
                        result: Secret | SecretMetadata = self._source.get_secret_value(
                            request.secret_id,
                            version_stage=request.version_stage,
                            version_id=request.version_id,
                        )
                    else:
                        result = self._source.describe_secret(request.secret_id)
                except SecretCacheError as exc:
                    step = partial(plan.throw, exc)
                else:
                    step = partial(plan.send, result)
                try:
                    request = step()
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]

        return load

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

    # -- control ----------------------------------------------------------------------
    def on_rotation(self, callback: RotationCallback) -> RotationCallback:
        """Register ``callback(RotationEvent)``; return it, so this works as a decorator."""
        self._callbacks.append(check_callable("callback", callback))
        return callback

    def refresh(self, secret_id: str, version_stage: str = AWSCURRENT) -> bool:
        """Fetch now (joining a fetch in flight); return True if the version changed."""
        self._check(secret_id, version_stage, None)
        key = _key(secret_id, version_stage, None)
        before = self._store.data.get(key)
        old_version = before.value.version_id if before is not None else None
        entry = self._get(key, force=True)
        return old_version is not None and entry.value.version_id != old_version

    def invalidate(self, secret_id: str | None = None) -> None:
        """Forget one secret (all its stages and versions), or everything."""
        if secret_id is None:
            self._store.invalidate()
            return
        check_secret_id(secret_id)
        self._store.invalidate(lambda k: k[0] == secret_id)

    def rotation_candidate(self, secret_id: str, failed_version_id: str) -> Secret | None:
        """Return a version to retry with after a login failed with ``failed_version_id``.

        A newer AWSCURRENT if there is one; else, during a rotation window (AWSPENDING
        set, AWSCURRENT not yet moved), the AWSPENDING version if it differs; else
        None. Secrets Manager is asked at most once per second per secret for this.
        """
        check_secret_id(secret_id)
        if not isinstance(failed_version_id, str):
            raise TypeError("failed_version_id must be a str")
        current_key = _key(secret_id, AWSCURRENT, None)
        current = self._recheck(current_key)
        if current.version_id != failed_version_id:
            return current
        pending_key = _key(secret_id, AWSPENDING, None)
        asked_before = self._store.failed_at(pending_key)
        try:
            pending = self._recheck(pending_key)
        except SecretNotFoundError:
            if self._store.failed_at(pending_key) == asked_before:
                return None  # a remembered answer: nothing new was asked
            # No rotation under way, or finishSecret ran between our two reads (it
            # moves AWSCURRENT and clears AWSPENDING): look at AWSCURRENT once more.
            again = self._get(current_key, force=True, ignore_backoff=True).value
            return again if again.version_id != failed_version_id else None
        return pending if pending.version_id != failed_version_id else None

    def _recheck(self, key: Key) -> Secret:
        """Return the key's version, asking Secrets Manager at most once a second."""
        now = self._clock()
        entry = self._store.data.get(key)
        if entry is not None and now - entry.loaded_at < RECHECK_INTERVAL:
            return entry.value
        failure_at = self._store.failed_at(key)
        if failure_at is not None and now - failure_at < RECHECK_INTERVAL:
            self._store.raise_failure(key)
        # Our own rate limit stands in for the backoff: a "no AWSPENDING" remembered
        # for 60 s would hide the next rotation window from a failing login for as long.
        return self._get(key, force=True, ignore_backoff=True).value

    def prefetch(
        self,
        secret_ids: Iterable[str] | None = None,
        *,
        filters: Sequence[Mapping[str, Any]] | None = None,
    ) -> Mapping[str, Secret | SecretCacheError]:
        """Warm the cache with BatchGetSecretValue (20 ids a call); errors per id."""
        from ._prefetch import prefetch

        return prefetch(self, secret_ids, filters)

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

    def close(self) -> None:
        """Stop refresh-ahead and forget every value; the cache may be used again."""
        if self._refresher is not None:
            self._refresher.stop()
        self._store.invalidate()

    def __enter__(self) -> SecretCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<SecretCache ttl={self._ttl:g}s revalidate={self._revalidate!r} "
            f"size={len(self._store)}/{self._store.max_size}>"
        )


def _copy(entry: Entry[Secret], value: Any) -> Any:
    try:
        return _parse.copy_json(value)
    except RecursionError:
        raise SecretFormatError(
            "SecretString is JSON nested too deeply to copy",
            code="InvalidJSON",
            secret_id=entry.value.secret_id,
            version_id=entry.value.version_id,
        ) from None


def _register_snapstart(cache: SecretCache) -> None:
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

    snapshot_restore_py.register_after_restore(after_restore)


_default: SecretCache | None = None
_default_lock = threading.Lock()


def default_cache() -> SecretCache:
    """Return the process-wide cache used when no cache is given (built on first use)."""
    global _default
    cache = _default
    if cache is None:
        with _default_lock:
            if _default is None:
                _default = SecretCache()
            cache = _default
    return cache
