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
  is noticed in describe mode too.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

from ._models import Secret, SecretMetadata
from ._store import Load
from .exceptions import SecretAccessDeniedError, SecretDeletedError, SecretNotFoundError

if TYPE_CHECKING:
    from ._bounded import BoundedSet

__all__ = ["Describe", "Get", "Plan", "Request", "plan_load"]


class Get:
    """Call GetSecretValue with exactly one of ``version_stage`` and ``version_id``."""

    # Plain slotted classes, not dataclasses: see _store.Load.
    __slots__ = ("secret_id", "version_id", "version_stage")
    operation = "GetSecretValue"

    def __init__(self, secret_id: str, version_stage: str | None, version_id: str | None) -> None:
        self.secret_id = secret_id
        self.version_stage = version_stage
        self.version_id = version_id


class Describe:
    """Call DescribeSecret."""

    __slots__ = ("secret_id",)
    operation = "DescribeSecret"

    def __init__(self, secret_id: str) -> None:
        self.secret_id = secret_id


Request = Get | Describe
Plan = Generator[Request, Secret | SecretMetadata, Load[Secret]]


def plan_load(
    key: tuple[str, str | None, str | None],
    previous: Secret | None,
    *,
    describe: bool,
    describe_denied: BoundedSet[str],
    must_read: bool = False,
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
            return (yield from _after_describe(secret_id, stage, previous, meta))
    fetched = yield Get(secret_id, stage, None)
    assert isinstance(fetched, Secret)
    if previous is not None and fetched == previous:
        return Load(previous)  # same version: keep the object and its parsed JSON
    return Load(fetched)


def _after_describe(secret_id: str, stage: str, previous: Secret, meta: SecretMetadata) -> Plan:
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
    return Load(fetched, meta.rotates_in)
