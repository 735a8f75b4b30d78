"""SecretCache with aws-secretsmanager-caching's API, on secretcache's engine.

The call sequence is the official one: DescribeSecret maps the stage to a VersionId
(re-asked every ``secret_refresh_interval``, jittered to [interval/2, interval]), then
GetSecretValue by that VersionId, once per version (a version's value never changes).
Each step is a ``secretcache._store.Store``: hits take no lock, one caller loads while
the others wait or keep reading the previous answer, and a failure is remembered for
the configured backoff.

Failures follow secretcache's rules, not the official "serve the last value forever":
a transient error (throttling, 5xx, timeouts, connection, credentials) keeps serving
what is cached; a revocation (AccessDenied, the secret gone or scheduled for
deletion) drops the secret's values, so nothing is served after it.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from .._core import forksafe as _forksafe
from .._core.errors import map_error, reading
from .._core.redact import auto_install
from .._core.rules import keeps_stale
from .._core.store import Load, Store
from .._core.validate import check_callable, check_secret_id, check_stage
from .._sources.botocore import CLIENT_SETTINGS, drop_connections
from ..exceptions import SecretCacheError
from ._cached_secret import CachedSecret
from ._errors import combine
from ._records import Described, Version, describe_record, version_record
from ._settings import read_settings
from .config import SecretCacheConfig

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_secretsmanager import SecretsManagerClient

    from .._core.store import Ticket

__all__ = ["SecretCache"]

_STRING = "SecretString"
_BINARY = "SecretBinary"


def _default_client() -> SecretsManagerClient:
    """Build the client as the official package does (botocore only), with our settings."""
    import botocore.session
    from botocore.config import Config

    session = botocore.session.get_session()
    # NoRegionError surfaces here, at construction, as it does in the official package.
    return cast(
        "SecretsManagerClient",
        session.create_client("secretsmanager", config=Config(**CLIENT_SETTINGS)),
    )


class SecretCache:
    """A drop-in for ``aws_secretsmanager_caching.SecretCache``.

    ``SecretCache(config=SecretCacheConfig(), client=None)``: without a client, one is
    built now from botocore's default session (secretcache's retry, timeout and
    user-agent settings). ``clock`` (keyword only, not in the official API) is for
    tests: a zero-argument callable returning seconds.
    """

    def __init__(
        self,
        config: SecretCacheConfig | None = None,
        client: SecretsManagerClient | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        settings = read_settings(SecretCacheConfig() if config is None else config)
        self._clock = check_callable("clock", clock)
        self._hook = settings.hook
        self._default_stage = settings.default_version_stage
        common: dict[str, Any] = {
            "backoff_base": settings.retry_base,
            "backoff_growth": settings.retry_growth,
            "backoff_cap": settings.retry_max,
            "max_size": settings.max_cache_size,
            "max_stale": None,  # transient errors: serve what we have, as the official does
            "clock": self._clock,
        }
        self._described: Store[str, Described] = Store(
            ttl=settings.refresh_interval, jitter=0.5, **common
        )
        self._versions: Store[tuple[str, str], Version] = Store(ttl=math.inf, jitter=0.0, **common)
        # The hit path reads these directly: one attribute load each instead of two.
        self._described_data = self._described.data
        self._versions_data = self._versions.data
        self._client = client if client is not None else _default_client()
        # The one wall-clock reading: where the injected clock's seconds start, for the
        # datetimes of the official item's view (``_get_cached_secret``); never for logic.
        self._built_at = (datetime.now(timezone.utc), self._clock())
        auto_install()  # botocore's DEBUG logs would show every value read
        _forksafe.register(self)

    # -- reads ------------------------------------------------------------------------
    def get_secret_string(self, secret_id: str, version_stage: str | None = None) -> str | None:
        """Return the SecretString of the stage's version (None if there is none)."""
        # The hit path: no lock, no call but the clock; anything unusual goes the long way.
        try:
            entry = self._described_data.get(secret_id)
            if entry is not None and self._clock() < entry.fresh_until:
                stages = entry.value.stages
                if stages is not None:
                    version_id = stages.get(version_stage or self._default_stage)
                    if version_id is not None:
                        version = self._versions_data.get((secret_id, version_id))
                        if version is not None:
                            entry.referenced = version.referenced = True
                            return version.value.string
        except TypeError:  # an unhashable argument: the checks below explain it
            pass
        return cast("str | None", self._read(secret_id, version_stage, _STRING))

    def get_secret_binary(self, secret_id: str, version_stage: str | None = None) -> bytes | None:
        """Return the SecretBinary of the stage's version (None if there is none)."""
        return cast("bytes | None", self._read(secret_id, version_stage, _BINARY))

    def refresh_secret_now(self, secret_id: str) -> bool:
        """Ask DescribeSecret now (joining a request in flight); return True if it answered.

        Never sleeps; while backing off after a failure it returns False at once.
        """
        check_secret_id(secret_id)
        try:
            self._describe(secret_id, force=True)
        except SecretCacheError:  # every error a load raises (botocore's classes too)
            return False
        return True

    def _get_cached_secret(self, secret_id: str) -> CachedSecret:
        """Return the secret's handle: the official private seam users call.

        ``cache._get_cached_secret(secret_id).refresh_secret_now()`` works as it does in
        aws-secretsmanager-caching (its issue #16); no request is made until then.
        """
        return CachedSecret(self, check_secret_id(secret_id))

    def _refresh_due(self, secret_id: str) -> tuple[datetime, float]:
        """Return (when the cache was built, seconds after it the stage map is due)."""
        built_at, origin = self._built_at
        entry = self._described_data.get(secret_id)
        due = entry.fresh_until - origin if entry is not None else 0.0
        return built_at, due if math.isfinite(due) else 0.0

    def _read(self, secret_id: str, version_stage: str | None, field: str) -> Any:
        check_secret_id(secret_id)
        stage = check_stage(version_stage) if version_stage else self._default_stage
        version_id = self._describe(secret_id).version_id(stage, self._hook)
        if version_id is None:
            return None
        key = (secret_id, version_id)
        entry = self._versions.lookup(key) or self._versions.get(
            key, partial(self._load_version, secret_id, version_id)
        )
        return entry.value.field(field, self._hook)

    # -- loading ----------------------------------------------------------------------
    def _describe(self, secret_id: str, *, force: bool = False) -> Described:
        entry = None if force else self._described.lookup(secret_id)  # lock-free when fresh
        if entry is None:
            loader = partial(self._load_description, secret_id)
            entry = self._described.get(secret_id, loader, force=force)
        return entry.value

    def _load_description(self, secret_id: str, ticket: Ticket[str, Described]) -> Load[Described]:
        previous = ticket.previous
        try:
            with reading("DescribeSecret", secret_id=secret_id):
                response = self._client.describe_secret(SecretId=secret_id)
        except (ClientError, BotoCoreError) as exc:
            error = self._error(exc, secret_id)
            if not keeps_stale(error):
                self._forget_versions(secret_id)  # a revocation: drop the values too
            raise error from exc
        described = describe_record(response, self._hook)
        if described.deleted or (previous is not None and previous.deleted):
            # Scheduled for deletion: the next read asks GetSecretValue, which says so.
            # Restored: forget the remembered refusals, so reads work at once.
            self._forget_versions(secret_id)
        return Load(described)

    def _load_version(
        self, secret_id: str, version_id: str, ticket: Ticket[tuple[str, str], Version]
    ) -> Load[Version]:
        return Load(version_record(self._get_value(secret_id, version_id), self._hook))

    def _get_value(self, secret_id: str, version_id: str) -> Any:
        try:
            with reading("GetSecretValue", secret_id=secret_id, version_id=version_id):
                return self._client.get_secret_value(SecretId=secret_id, VersionId=version_id)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, secret_id, version_id) from exc

    def _forget_versions(self, secret_id: str) -> None:
        self._versions.invalidate(lambda key: key[0] == secret_id)

    @staticmethod
    def _error(
        exc: ClientError | BotoCoreError, secret_id: str, version_id: str | None = None
    ) -> SecretCacheError:
        mapped = map_error(exc, secret_id=secret_id, version_id=version_id)
        assert mapped is not None
        return combine(mapped, exc)

    def _after_fork_in_child(self) -> None:
        # The client outlives a fork (it was built at construction, as the official
        # package does), its pooled connections must not: they are the parent's.
        drop_connections(self._client)

    def __repr__(self) -> str:
        return (
            f"<secretcache.compat.SecretCache secrets={len(self._described)} "
            f"versions={len(self._versions)} refresh_interval={self._described.ttl:g}s>"
        )
