"""SecretCache: the store, a source and parsing joined, with rotation detection."""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from ._core import parse as _parse
from ._core import run
from ._core.base import DEFAULT_TTL, CacheBase, Key, RotationCallback, make_key
from ._core.forksafe import ForkSafeLock
from ._core.models import AWSCURRENT, Secret
from ._core.validate import check_client
from ._sources import build_source, default_primary
from ._sources.botocore import BotocoreSource, check_session
from .exceptions import SecretCacheError

if TYPE_CHECKING:
    import random
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from types import TracebackType

    from mypy_boto3_secretsmanager import SecretsManagerClient

    from ._core.models import BatchPage, SecretMetadata
    from ._core.prefetch import Batch, Singles
    from ._core.recovery import Look
    from ._core.revalidate import Request
    from ._core.store import Entry, Load, Ticket
    from ._refresher import RefreshAhead
    from ._sources.botocore import AnySession, SecretSource

__all__ = [
    "DEFAULT_TTL",
    "Key",
    "RotationCallback",
    "SecretCache",
    "default_cache",
]


class SecretCache(CacheBase):
    """A TTL cache of Secrets Manager secrets, keyed by secret and stage or VersionId.

    Fresh reads come from memory with no lock and no API call; an expired entry is
    revalidated by one caller while the others keep reading it (within ``max_stale``);
    a changed VersionId behind a stage is a rotation, reported to ``on_rotation``.

    Args:
        client: a boto3 (or botocore) Secrets Manager client to read with. ``None``
            builds one on the first read, with botocore alone: standard retries, short
            timeouts, region and credentials from the environment.
        session: or a ``boto3.Session`` (or botocore session) to build the client from.
        ttl: seconds a value is fresh; ``None`` reads ``SECRETCACHE_TTL``, else 300.
            Keyword-only, like everything below.
        jitter: each refresh's freshness is drawn from ``[ttl*(1-jitter), ttl]``.
        cold_jitter: the first load's freshness, from ``[ttl*(1-cold_jitter), ttl]``,
            so a fleet that starts together does not refresh together. ``jitter=0``
            turns all randomness off.
        max_size: entries kept (least recently used evicted beyond it).
        max_stale: seconds past freshness an expired value may still be served while
            Secrets Manager fails transiently; ``None``: no bound.
        revalidate: ``"get"`` (GetSecretValue, least privilege) or ``"describe"``
            (DescribeSecret first; GetSecretValue only for a new version, and at least
            every ``max(ttl, max_stale)`` seconds).
        clock: a zero-argument callable returning seconds (tests pass a ``FakeClock``).
        rng: a ``random.Random`` for the jitter draws (reproducible tests).
        on_rotation: ``callback(RotationEvent)`` called once per rotation seen.
        refresh_ahead: one daemon thread refreshes entries in use before they expire
            (long-running services; not Lambda).
        source: a ``SecretSource`` instead of a client (tests: ``InMemorySource``).
        fallback_regions: regions holding replicas, read while the primary region
            fails transiently (clients built like the primary's).
        fallback_clients: or ready clients for the replica regions.
    """

    _kind = "SecretCache"
    _asynchronous = False
    _sourcing = staticmethod(partial(build_source, BotocoreSource, False))
    _default_source = staticmethod(default_primary)

    def __init__(
        self,
        client: SecretsManagerClient | None = None,
        session: AnySession | None = None,
        *,
        ttl: float | None = None,
        jitter: float = 0.1,
        cold_jitter: float = 0.9,
        max_size: int = 1024,
        max_stale: float | None = 900.0,
        revalidate: Literal["get", "describe"] = "get",
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        on_rotation: RotationCallback | None = None,
        refresh_ahead: bool = False,
        source: SecretSource | None = None,
        fallback_regions: Sequence[str] = (),
        fallback_clients: Sequence[SecretsManagerClient] = (),
    ) -> None:
        if not isinstance(refresh_ahead, bool):
            raise TypeError("refresh_ahead must be a bool")
        super().__init__(
            client,
            session,
            ttl=ttl,
            jitter=jitter,
            cold_jitter=cold_jitter,
            max_size=max_size,
            max_stale=max_stale,
            revalidate=revalidate,
            clock=clock,
            rng=rng,
            on_rotation=on_rotation,
            source=source,
            fallback_regions=fallback_regions,
            fallback_clients=fallback_clients,
        )
        self._source: SecretSource
        self._refresh_ahead = refresh_ahead
        self._refresher: RefreshAhead | None = None
        self._refresher_lock = ForkSafeLock()
        # What the inlined hit paths probe: the store's map, or (in a forked child that
        # has not yet restarted refresh-ahead) an empty one, so that the first read, hit
        # or miss, goes the long way and restarts it.
        self._hits: dict[Key, Entry[Secret]] = self._data
        if refresh_ahead:
            self._start_refresh_ahead()

    def _check_arguments(self, client: Any, session: Any, source: Any) -> None:
        check_client(client)
        check_session(session)

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
            entry = self._hits.get(key)
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
            entry = self._hits.get(key)
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
        return self._json(self._entry(secret_id, version_stage, version_id))

    def get_secret_field(
        self,
        secret_id: str,
        field: str,
        version_stage: str = AWSCURRENT,
        *,
        version_id: str | None = None,
    ) -> Any:
        """Return one field of the secret's JSON object (SecretFieldError if missing)."""
        self._check_field(field)
        return self._field(self._entry(secret_id, version_stage, version_id), field)

    def _entry(self, secret_id: str, version_stage: str, version_id: str | None) -> Entry[Secret]:
        key, entry = self._probe(secret_id, version_stage, version_id)
        if self._refresh_ahead and self._refresher is None:
            # Not running: the first read in a forked child, or the first after close().
            # A hit counts: else the child's first expiring entry is a blocking load.
            self._start_refresh_ahead()
        if entry is not None:
            return entry
        return self._get(key)

    def _get(self, key: Key, *, force: bool = False, past_cache: bool = False) -> Entry[Secret]:
        loader = partial(self._load, past_cache=True) if past_cache else self._load
        return self._store.get(key, loader, force=force)

    # -- loading ----------------------------------------------------------------------
    def _load(
        self, ticket: Ticket[Key, Secret], must_read: bool = False, past_cache: bool = False
    ) -> Load[Secret]:
        ask = partial(self._ask, past_cache=True) if past_cache else self._ask
        return run(self._load_plan(ticket, must_read), ask)

    def _ask(self, request: Request, past_cache: bool = False) -> Secret | SecretMetadata:
        return request.ask(self._source, past_cache)  # type: ignore[no-any-return]

    # -- control ----------------------------------------------------------------------
    def refresh(self, secret_id: str, version_stage: str = AWSCURRENT) -> bool:
        """Fetch now (joining a fetch in flight); return True if the version changed."""
        old_version = self._version_before(secret_id, version_stage)
        # Past the source's own cache, if it has one (the Lambda extension's).
        entry = self._get(make_key(secret_id, version_stage, None), force=True, past_cache=True)
        return old_version is not None and entry.value.version_id != old_version

    def rotation_candidate(self, secret_id: str, failed_version_id: str) -> Secret | None:
        """Return a version to retry with after a login failed with ``failed_version_id``.

        A newer AWSCURRENT if there is one (the cache then serves it too); else, during
        a rotation window (AWSPENDING set, AWSCURRENT not yet moved), AWSPENDING if it
        is newer; else AWSPREVIOUS when the refused version is AWSCURRENT (it moved
        before the database changed); else None. Never a version that failed, nor
        one older than a version that failed (but AWSCURRENT again once its rollback
        to AWSPREVIOUS is refused). A version reported for the first time gets a
        fresh look; repeated reports are answered from it for a second, then a look
        at AWSCURRENT alone: a new version is offered at most a second after it is
        stored, and Secrets Manager is asked about once a second per secret (and backs
        off while it throttles).
        """
        news, look = self._known_look(secret_id, failed_version_id)
        if look is None:
            look = self._recovery.looks.get(
                secret_id, partial(self._look, secret_id, news), force=news
            )
        return self._candidate(secret_id, look)

    def _look(self, secret_id: str, full: bool, ticket: Ticket[str, Look]) -> Load[Look]:
        last = None if full else ticket.previous  # a repeat reads AWSCURRENT first
        return run(self._look_plan(secret_id, last), self._read_afresh)

    def _read_afresh(self, key: Key) -> Secret:
        loader = partial(self._load, must_read=True, past_cache=True)
        return self._store.get(key, loader, force=True, ignore_backoff=True).value

    def prefetch(
        self,
        secret_ids: Iterable[str] | None = None,
        *,
        filters: Sequence[Mapping[str, Any]] | None = None,
    ) -> Mapping[str, Secret | SecretCacheError]:
        """Warm the cache with BatchGetSecretValue (20 ids a call); errors per id."""
        from ._core.prefetch import Singles, plan_prefetch

        def ask(request: Batch | Singles) -> BatchPage | dict[str, Secret | SecretCacheError]:
            if isinstance(request, Singles):
                return {sid: self._read_or_error(sid) for sid in request.secret_ids}
            return request.ask(self._source)  # type: ignore[no-any-return]

        return run(plan_prefetch(self, secret_ids, filters), ask)

    def _read_or_error(self, secret_id: str) -> Secret | SecretCacheError:
        try:
            return self.get_secret(secret_id)
        except SecretCacheError as exc:
            return exc

    def close(self) -> None:
        """Stop refresh-ahead and forget every value; the cache may be used again.

        Used again, it starts refresh-ahead again (if it was asked for) on its next read.
        """
        with self._refresher_lock:
            refresher, self._refresher = self._refresher, None
        if refresher is not None:
            refresher.stop()
        self._store.invalidate()

    def _start_refresh_ahead(self) -> None:
        from ._refresher import RefreshAhead

        with self._refresher_lock:
            if self._refresher is None:
                self._refresher = RefreshAhead(self)
            self._hits = self._data

    def _after_fork_in_child(self) -> None:
        super()._after_fork_in_child()
        # The refresh-ahead thread was the parent's: the child starts its own on its
        # first read, a hit included (the hit paths then go the long way once).
        self._refresher = None
        if self._refresh_ahead:
            self._hits = {}

    def __enter__(self) -> SecretCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


_default: SecretCache | None = None
_default_lock = ForkSafeLock()


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
