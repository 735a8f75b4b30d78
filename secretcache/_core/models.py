"""Value objects: Secret, SecretMetadata, RotationEvent, CacheStats, the stage names, keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from ..exceptions import SecretCacheError

__all__ = [
    "AWSCURRENT",
    "AWSPENDING",
    "AWSPREVIOUS",
    "BatchPage",
    "CacheStats",
    "Key",
    "RotationCallback",
    "RotationEvent",
    "Secret",
    "SecretMetadata",
    "make_key",
]

AWSCURRENT: Final = "AWSCURRENT"
AWSPENDING: Final = "AWSPENDING"
AWSPREVIOUS: Final = "AWSPREVIOUS"


@dataclass(frozen=True, slots=True, repr=False, eq=True)
class Secret:
    """One version of a secret, as read from Secrets Manager.

    Exactly one of ``secret_string`` and ``secret_binary`` is set. ``repr`` and ``str``
    never show either: read them (or ``value``) explicitly.
    """

    secret_id: str
    name: str
    arn: str
    version_id: str
    version_stages: tuple[str, ...]
    created_date: datetime | None
    secret_string: str | None = field(default=None, compare=True)
    secret_binary: bytes | None = field(default=None, compare=True)

    @property
    def value(self) -> str | bytes:
        """Return the SecretString, or the SecretBinary when there is no string."""
        if self.secret_string is not None:
            return self.secret_string
        return self.secret_binary if self.secret_binary is not None else b""

    @property
    def is_binary(self) -> bool:
        """Return True when the secret holds SecretBinary rather than SecretString."""
        return self.secret_string is None

    def __repr__(self) -> str:
        kind = "binary" if self.is_binary else "string"
        return (
            f"Secret(name={self.name!r}, version_id={self.version_id!r}, "
            f"version_stages={list(self.version_stages)!r}, value=<{kind}, redacted>)"
        )

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class SecretMetadata:
    """What DescribeSecret tells about a secret: never a value."""

    name: str
    arn: str
    version_ids_to_stages: Mapping[str, tuple[str, ...]]
    #: Seconds from the response's own Date to NextRotationDate (server clock, no skew).
    rotates_in: float | None = None
    deleted: bool = False
    rotation_enabled: bool = False
    next_rotation_date: datetime | None = None
    last_rotated_date: datetime | None = None
    deleted_date: datetime | None = None
    kms_key_id: str | None = None

    def version_for_stage(self, stage: str) -> str | None:
        """Return the VersionId that carries ``stage``, or None."""
        for version_id, stages in self.version_ids_to_stages.items():
            if stage in stages:
                return version_id
        return None


@dataclass(frozen=True, slots=True)
class RotationEvent:
    """The VersionId behind a stage changed: the cache now serves the new version."""

    secret_id: str
    version_stage: str
    old_version_id: str
    new_version_id: str


@dataclass(frozen=True, slots=True)
class CacheStats:
    """A snapshot of a cache's counters, each counted since the cache was built.

    Every read is counted as a hit or a miss: ``hits + misses`` is the number of reads
    (``get_secret*`` calls, decorator injections), plus one more miss for each time a
    read had to plan again because the load it waited for was cancelled or interrupted.
    A snapshot is plain data: ``dataclasses.asdict``, ``pickle`` and ``copy.deepcopy``
    work on it.

    Attributes:
        hits: reads answered from memory with a fresh value (no lock, no API call).
        misses: reads that found no fresh value. Each then was served stale (also
            counted in ``stale_served``), waited for a load another caller had started,
            started a load itself (also counted in ``loads``), or raised an error
            remembered from a recent failure (no API call).
        loads: loads started, by reads, ``refresh()``, refresh-ahead and
            ``rotation_candidate()``; each made one or more API calls.
        refreshes: loads that stored a value where one was cached already (a
            revalidation), whether or not its version changed.
        rotations: changes of the VersionId behind a stage that the cache saw; each is
            reported once to ``on_rotation`` callbacks, however many ids (name, ARN)
            of the secret saw it.
        stale_served: reads answered with an expired value, within ``max_stale``,
            because a load was in flight or Secrets Manager failed transiently.
        errors: failed loads, and per-id errors of ``prefetch`` batches.
        size: values cached now.
        api_calls: AWS operation name -> calls made, e.g.
            ``{"GetSecretValue": 3, "DescribeSecret": 1}`` (botocore's own retries of
            one call are one call here). With fallback regions, a call the primary
            fails and a fallback then answers counts once here, and once in each of
            the two regions in ``calls_by_region``.
        failovers: loads a fallback region answered (the primary failed or was backing
            off), and values a fallback's ``prefetch`` batch read, one each. Always 0
            without ``fallback_regions``/``fallback_clients``.
        calls_by_region: region -> API calls made there, e.g.
            ``{"us-east-1": 12, "us-west-2": 40}``, every operation and every attempt
            at failing over included. Empty without fallback regions.
    """

    hits: int
    misses: int
    refreshes: int
    rotations: int
    stale_served: int
    errors: int
    size: int
    api_calls: dict[str, int]
    loads: int = 0
    failovers: int = 0
    calls_by_region: dict[str, int] = field(default_factory=dict)


class BatchPage:
    """One BatchGetSecretValue page: values, per-id typed errors, and the next token."""

    # A plain slotted class, not a dataclass: see store.Load.
    __slots__ = ("errors", "next_token", "secrets")

    def __init__(
        self,
        secrets: Sequence[Secret],
        errors: Mapping[str, SecretCacheError] | None = None,
        next_token: str | None = None,
    ) -> None:
        self.secrets = secrets
        self.errors: Mapping[str, SecretCacheError] = {} if errors is None else errors
        self.next_token = next_token


RotationCallback = Callable[[RotationEvent], object]
# (secret_id, version_stage, version_id): exactly one of the last two is None, so a
# stage label and a VersionId can never collide, and AWSPREVIOUS never answers for
# AWSCURRENT.
Key = tuple[str, "str | None", "str | None"]


def make_key(secret_id: str, version_stage: str, version_id: str | None) -> Key:
    """Return the cache key for a stage, or for a VersionId when one is given."""
    return (secret_id, version_stage, None) if version_id is None else (secret_id, None, version_id)
