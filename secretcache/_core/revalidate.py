"""How one key is loaded or revalidated, written once for the sync and async caches.

The plan is a generator that yields the API calls it wants (``Get``, ``Describe``) and
is sent their results (or thrown their ``SecretCacheError``): no I/O here, so
``SecretCache`` drives it with a blocking source and ``AsyncSecretCache`` with an
awaiting one, and both follow the same rules:

- a VersionId key is fetched by VersionId;
- a stage key is fetched by stage; the same VersionId again keeps the cached object
  (and its parsed JSON); a new one is a rotation;
- in "describe" mode, a cached stage key is revalidated with DescribeSecret first:
  unchanged -> re-armed with no GetSecretValue; changed -> fetched by VersionId;
  freshness is capped at NextRotationDate; a denied DescribeSecret falls back to
  "get" for that secret, for good and silently. But a value confirmed only by
  DescribeSecret for too long (``must_read``: the cache decides the bound) is read
  again with GetSecretValue, so a revoked GetSecretValue grant or a disabled KMS key
  is noticed in describe mode too;
- an answer that ``lags`` behind the cached version (a fallback region's replica that
  has not caught up with a rotation yet) keeps the cached version: a failover never
  moves a stage back.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from ..exceptions import SecretAccessDeniedError, SecretDeletedError, SecretNotFoundError
from .models import Secret, SecretMetadata
from .store import Load

if TYPE_CHECKING:
    from .bounded import BoundedSet

__all__ = ["Describe", "Get", "Lags", "Plan", "Request", "plan_load", "settle"]


class Get:
    """Call GetSecretValue with exactly one of ``version_stage`` and ``version_id``."""

    # Plain slotted classes, not dataclasses: see store.Load.
    __slots__ = ("secret_id", "version_id", "version_stage")
    operation = "GetSecretValue"

    def __init__(self, secret_id: str, version_stage: str | None, version_id: str | None) -> None:
        self.secret_id = secret_id
        self.version_stage = version_stage
        self.version_id = version_id

    def ask(self, source: Any, past_cache: bool = False) -> Any:
        """Ask ``source``: the answer (a sync source) or an awaitable of it (async).

        ``past_cache``: through ``refresh_secret_value`` where the source has one (the
        Lambda extension's: past its own cache), for refresh() and rotation_candidate().
        """
        read = getattr(source, "refresh_secret_value", None) if past_cache else None
        return (read or source.get_secret_value)(
            self.secret_id, version_stage=self.version_stage, version_id=self.version_id
        )


class Describe:
    """Call DescribeSecret."""

    __slots__ = ("secret_id",)
    operation = "DescribeSecret"

    def __init__(self, secret_id: str) -> None:
        self.secret_id = secret_id

    def ask(self, source: Any, past_cache: bool = False) -> Any:
        """Ask ``source``: the answer (a sync source) or an awaitable of it (async)."""
        return source.describe_secret(self.secret_id)


Request = Get | Describe
Plan = Generator[Request, Secret | SecretMetadata, Load[Secret]]
#: (answer, cached) -> True when the answer is a replica's older version (see regions).
Lags = Callable[[Secret, Secret], bool]


def plan_load(
    key: tuple[str, str | None, str | None],
    previous: Secret | None,
    *,
    describe: bool,
    describe_denied: BoundedSet[str],
    must_read: bool = False,
    lags: Lags | None = None,
) -> Plan:
    """Yield the calls that load ``key``; return what to store."""
    secret_id, stage, version_id = key
    if stage is None:
        fetched = yield Get(secret_id, None, version_id)
        assert isinstance(fetched, Secret)
        return Load(fetched)
    if previous is not None and describe and not must_read and secret_id not in describe_denied:
        try:
            meta = yield Describe(secret_id)
        except SecretAccessDeniedError:
            # Least privilege: no DescribeSecret grant. Stop asking, for good, quietly.
            describe_denied.add(secret_id)
        else:
            assert isinstance(meta, SecretMetadata)
            return (yield from _after_describe(secret_id, stage, previous, meta, lags))
    fetched = yield Get(secret_id, stage, None)
    assert isinstance(fetched, Secret)
    return settle(previous, fetched, lags)


def settle(
    previous: Secret | None, fetched: Secret, lags: Lags | None, fresh_cap: float | None = None
) -> Load[Secret]:
    """Return what to store after reading ``fetched`` where ``previous`` was cached."""
    if previous is not None:
        if fetched == previous:
            return Load(previous, fresh_cap)  # same version: keep the object and its JSON
        if lags is not None and lags(fetched, previous):
            return Load(previous, fresh_cap, reused=True)  # a replica not caught up yet
    return Load(fetched, fresh_cap)


def _after_describe(
    secret_id: str, stage: str, previous: Secret, meta: SecretMetadata, lags: Lags | None
) -> Plan:
    if meta.deleted:
        raise SecretDeletedError(
            "the secret is scheduled for deletion",
            secret_id=secret_id,
            version_stage=stage,
            code="InvalidRequestException",
            operation="DescribeSecret",
        )
    current = meta.version_for_stage(stage)
    if current is None:
        raise SecretNotFoundError(
            f"no version of the secret carries the stage {stage!r}",
            secret_id=secret_id,
            version_stage=stage,
            code="ResourceNotFoundException",
            operation="DescribeSecret",
        )
    if current == previous.version_id:
        return Load(previous, meta.rotates_in, reused=True)
    fetched = yield Get(secret_id, None, current)
    assert isinstance(fetched, Secret)
    return settle(previous, fetched, lags, meta.rotates_in)
