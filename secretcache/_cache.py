"""SecretCache: the store, a source and parsing joined, with rotation detection."""

from __future__ import annotations

import threading
import time
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from . import _parse
from ._base import (
    DEFAULT_TTL,
    RECHECK_INTERVAL,
    CacheBase,
    Key,
    RotationCallback,
    copy_parsed,
    make_key,
)
from ._models import AWSCURRENT, Secret, SecretMetadata
from ._revalidate import Get, plan_load
from ._source import BotocoreSource, SecretSource, check_session
from ._validate import check_source
from .exceptions import SecretCacheError, SecretNotFoundError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from types import TracebackType

    from mypy_boto3_secretsmanager import SecretsManagerClient

    from ._refresher import RefreshAhead
    from ._source import AnySession
    from ._store import Entry, Load

__all__ = [
    "DEFAULT_TTL",
    "RECHECK_INTERVAL",
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
    """

    def __init__(
        self,
        client: SecretsManagerClient | None = None,
        session: AnySession | None = None,
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
        if not isinstance(refresh_ahead, bool):
            raise TypeError("refresh_ahead must be a bool")
        check_session(session)
        check_source(source, asynchronous=False)
        super().__init__(
            ttl=ttl,
            jitter=jitter,
            max_size=max_size,
            max_stale=max_stale,
            revalidate=revalidate,
            clock=clock,
            on_rotation=on_rotation,
        )
        self._source: SecretSource = source or BotocoreSource(client, session)
        self._refresher: RefreshAhead | None = None
        self._refresher_lock = threading.Lock()
        if refresh_ahead:
            from ._refresher import RefreshAhead

            self._refresher = RefreshAhead(self)

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
        return copy_parsed(entry, self._parsed(entry))

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
        key = make_key(secret_id, version_stage, version_id)
        try:
            entry = self._store.lookup(key)
        except TypeError:
            entry = None  # an unhashable argument: let the checks below explain it
        if entry is not None:
            return entry
        self._check(secret_id, version_stage, version_id)
        if self._refresher is not None and self._refresher.stopped:
            self._restart_refresh_ahead()
        return self._get(key)

    def _get(self, key: Key, *, force: bool = False, ignore_backoff: bool = False) -> Entry[Secret]:
        try:
            return self._store.get(
                key, self._loader(key), force=force, ignore_backoff=ignore_backoff
            )
        except SecretCacheError as exc:
            self._forget_siblings(key, exc)
            raise

    # -- loading ----------------------------------------------------------------------
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

    # -- control ----------------------------------------------------------------------
    def refresh(self, secret_id: str, version_stage: str = AWSCURRENT) -> bool:
        """Fetch now (joining a fetch in flight); return True if the version changed."""
        old_version = self._version_before(secret_id, version_stage)
        entry = self._get(make_key(secret_id, version_stage, None), force=True)
        return old_version is not None and entry.value.version_id != old_version

    def rotation_candidate(self, secret_id: str, failed_version_id: str) -> Secret | None:
        """Return a version to retry with after a login failed with ``failed_version_id``.

        A newer AWSCURRENT if there is one; else, during a rotation window (AWSPENDING
        set, AWSCURRENT not yet moved), the AWSPENDING version if it differs; else
        None. Secrets Manager is asked at most once per second per secret for this.
        """
        plan = self.rotation_plan(secret_id, failed_version_id)
        try:
            key, reread = next(plan)
            while True:
                try:
                    found = None if reread else self._recent(key)
                    if found is None:
                        found = self._get(key, force=True, ignore_backoff=True).value
                except SecretNotFoundError as exc:
                    key, reread = plan.throw(exc)
                else:
                    key, reread = plan.send(found)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def prefetch(
        self,
        secret_ids: Iterable[str] | None = None,
        *,
        filters: Sequence[Mapping[str, Any]] | None = None,
    ) -> Mapping[str, Secret | SecretCacheError]:
        """Warm the cache with BatchGetSecretValue (20 ids a call); errors per id."""
        from ._prefetch import prefetch

        return prefetch(self, secret_ids, filters)

    def close(self) -> None:
        """Stop refresh-ahead and forget every value; the cache may be used again.

        Used again, it starts refresh-ahead again (if it was asked for) on its next miss.
        """
        with self._refresher_lock:
            if self._refresher is not None:
                self._refresher.stop()
        self._store.invalidate()

    def _restart_refresh_ahead(self) -> None:
        from ._refresher import RefreshAhead

        with self._refresher_lock:
            if self._refresher is not None and self._refresher.stopped:
                self._refresher = RefreshAhead(self)

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
