"""In-memory sources: a counting SecretSource and its async twin (no boto3, no moto)."""

from __future__ import annotations

import itertools
import threading
import time as _time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from .._core.errors import map_error
from .._core.models import AWSCURRENT, AWSPENDING, AWSPREVIOUS, Secret, SecretMetadata
from .._sources.botocore import BatchPage
from ..exceptions import InvalidSecretRequestError, SecretCacheError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


__all__ = ["AsyncInMemorySource", "InMemorySource"]


# -- an in-memory source -------------------------------------------------------------


@dataclass
class _Version:
    version_id: str
    value: str | bytes
    created: datetime
    stages: set[str] = field(default_factory=set)


# CreatedDate of an InMemorySource version: one second apart, in the order they were put.
_EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


class InMemorySource:
    """A SecretSource over a dict: counts calls, injects errors, rotates; thread-safe.

    ``calls`` counts API calls by AWS operation name; ``fail(error, secret_id)``
    makes reads of one secret raise ``error`` until ``heal()``; ``latency`` (seconds,
    really slept) widens race windows in concurrency tests; ``replica(region)`` is the
    same secrets in another region (for ``FailoverSource``).
    """

    def __init__(
        self,
        secrets: Mapping[str, str | bytes] | None = None,
        *,
        latency: float = 0.0,
        region: str = "us-east-1",
        account: str = "123456789012",
    ) -> None:
        self.calls: Counter[str] = Counter()
        self.latency = latency
        self._region = region
        self._account = account
        self._versions: dict[str, list[_Version]] = {}
        self._failures: dict[str | None, SecretCacheError] = {}
        self._rotates_in: dict[str, float] = {}
        self._deleted: set[str] = set()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        for name, value in (secrets or {}).items():
            self.put(name, value)

    # -- changing the world ------------------------------------------------------------
    def put(self, name: str, value: str | bytes, *, stages: Sequence[str] = (AWSCURRENT,)) -> str:
        """Add a version carrying ``stages`` (moving them off older versions); return its id."""
        number = next(self._ids)
        version = _Version(
            f"{number:08d}-0000-4000-8000-{uuid.uuid4().hex[:12]}",
            value,
            _EPOCH + timedelta(seconds=number),
        )
        with self._lock:
            versions = self._versions.setdefault(name, [])
            for stage in stages:
                for old in versions:
                    if stage in old.stages:
                        old.stages.discard(stage)
                        if stage == AWSCURRENT:
                            for older in versions:
                                older.stages.discard(AWSPREVIOUS)
                            old.stages.add(AWSPREVIOUS)
                version.stages.add(stage)
            versions.append(version)
        return version.version_id

    def rotate(self, name: str, value: str | bytes) -> str:
        """Put a new AWSCURRENT version; return its VersionId."""
        return self.put(name, value)

    def move_stage(self, name: str, stage: str, version_id: str) -> None:
        """Move ``stage`` to ``version_id`` (AWSCURRENT leaves AWSPREVIOUS behind)."""
        with self._lock:
            versions = self._versions[name]
            target = next(v for v in versions if v.version_id == version_id)
            for v in versions:
                if stage in v.stages and v is not target:
                    v.stages.discard(stage)
                    if stage == AWSCURRENT:
                        for older in versions:
                            older.stages.discard(AWSPREVIOUS)
                        v.stages.add(AWSPREVIOUS)
            target.stages.add(stage)
            if stage == AWSCURRENT:
                target.stages.discard(AWSPENDING)

    def delete(self, name: str) -> None:
        """Schedule the secret for deletion: reads fail with SecretDeletedError."""
        with self._lock:
            self._deleted.add(name)

    def set_next_rotation(self, name: str, seconds_from_now: float | None) -> None:
        """Make DescribeSecret report a NextRotationDate this far ahead."""
        with self._lock:
            if seconds_from_now is None:
                self._rotates_in.pop(name, None)
            else:
                self._rotates_in[name] = seconds_from_now

    def fail(self, error: SecretCacheError, secret_id: str | None = None) -> None:
        """Raise ``error`` (a copy) on every read of ``secret_id`` (None: of any secret).

        With None the whole service fails: a batch call raises it too, where a failure
        of one secret is that secret's entry in the batch's errors.
        """
        with self._lock:
            self._failures[secret_id] = error

    def heal(self) -> None:
        """Stop failing."""
        with self._lock:
            self._failures.clear()

    # -- regions ---------------------------------------------------------------------
    @property
    def region_name(self) -> str:
        """Return the region this source stands for (its ARNs name it)."""
        return self._region

    def replica(self, region: str) -> InMemorySource:
        """Return a replica of every secret here in ``region``: the same VersionIds.

        Replication is instant (as in moto): a version put here is there at once. The
        replica counts its own ``calls`` and has its own ``fail()``.
        """
        twin = InMemorySource(latency=self.latency, region=region, account=self._account)
        twin._versions, twin._deleted = self._versions, self._deleted
        twin._rotates_in, twin._lock, twin._ids = self._rotates_in, self._lock, self._ids
        return twin

    # -- the SecretSource protocol -----------------------------------------------------
    def _check(self, operation: str, secret_id: str) -> None:
        with self._lock:
            error = self._failures.get(secret_id) or self._failures.get(None)
            deleted = secret_id in self._deleted
        if error is not None:
            raise _copy_error(error, secret_id)
        if deleted:
            raise _not_readable(secret_id, "InvalidRequestException", operation)

    def _call(self, operation: str) -> None:
        with self._lock:
            self.calls[operation] += 1
        if self.latency:
            _time.sleep(self.latency)

    def _arn(self, name: str) -> str:
        return f"arn:aws:secretsmanager:{self._region}:{self._account}:secret:{name}-AbCdEf"

    def get_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        """Return one version, as GetSecretValue would."""
        self._call("GetSecretValue")
        return self._read(secret_id, version_stage, version_id, "GetSecretValue")

    def _read(
        self, secret_id: str, version_stage: str | None, version_id: str | None, operation: str
    ) -> Secret:
        self._check(operation, secret_id)
        with self._lock:
            versions = self._versions.get(secret_id, [])
            stage = version_stage or AWSCURRENT
            for v in versions:
                if (version_id is not None and v.version_id == version_id) or (
                    version_id is None and stage in v.stages
                ):
                    return Secret(
                        secret_id=secret_id,
                        name=secret_id,
                        arn=self._arn(secret_id),
                        version_id=v.version_id,
                        version_stages=tuple(sorted(v.stages)),
                        created_date=v.created,
                        secret_string=v.value if isinstance(v.value, str) else None,
                        secret_binary=v.value if isinstance(v.value, bytes) else None,
                    )
        raise _not_readable(secret_id, "ResourceNotFoundException", operation)

    def describe_secret(self, secret_id: str) -> SecretMetadata:
        """Return the stage map, as DescribeSecret would."""
        self._call("DescribeSecret")
        with self._lock:
            error = self._failures.get(secret_id) or self._failures.get(None)
            versions = self._versions.get(secret_id)
            deleted = secret_id in self._deleted
            rotates_in = self._rotates_in.get(secret_id)
        if error is not None:
            raise _copy_error(error, secret_id)
        if versions is None:
            raise _not_readable(secret_id, "ResourceNotFoundException", "DescribeSecret")
        return SecretMetadata(
            name=secret_id,
            arn=self._arn(secret_id),
            version_ids_to_stages={
                v.version_id: tuple(sorted(v.stages)) for v in versions if v.stages
            },
            rotates_in=rotates_in,
            deleted=deleted,
            deleted_date=datetime(2026, 1, 1, tzinfo=timezone.utc) if deleted else None,
        )

    def batch_get_secret_value(
        self,
        *,
        secret_ids: Sequence[str] | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        next_token: str | None = None,
    ) -> BatchPage:
        """Return AWSCURRENT of up to 20 secrets, as BatchGetSecretValue would."""
        self._call("BatchGetSecretValue")
        with self._lock:
            names = list(secret_ids) if secret_ids is not None else sorted(self._versions)
            everything = self._failures.get(None)
        if everything is not None:  # the whole service fails, not one secret
            raise _copy_error(everything, None)
        if secret_ids is None:
            start = int(next_token or 0)
            page_names, more = names[start : start + 20], start + 20 < len(names)
            token = str(start + 20) if more else None
        else:
            if len(names) > 20:
                raise InvalidSecretRequestError(
                    "SecretIdList holds more than 20 ids", code="InvalidParameterException"
                )
            page_names, token = names, None
        secrets: list[Secret] = []
        errors: dict[str, SecretCacheError] = {}
        for name in page_names:
            try:
                secrets.append(self._read(name, None, None, "BatchGetSecretValue"))
            except SecretCacheError as exc:
                errors[name] = exc
        return BatchPage(secrets, errors, token)


def _copy_error(error: SecretCacheError, secret_id: str | None) -> SecretCacheError:
    return type(error)(
        error.message,
        secret_id=secret_id,
        code=error.code,
        status_code=error.status_code,
        retryable=error.retryable,
    )


def _not_readable(secret_id: str, code: str, operation: str) -> SecretCacheError:
    from botocore.exceptions import ClientError

    message = {
        "ResourceNotFoundException": "Secrets Manager can't find the specified secret.",
        "InvalidRequestException": (
            "You can't perform this operation on the secret because it was marked for deletion."
        ),
    }[code]
    cause = ClientError({"Error": {"Code": code, "Message": message}}, operation)
    mapped = map_error(cause, secret_id=secret_id)
    assert mapped is not None
    mapped.__cause__ = cause
    return mapped


class AsyncInMemorySource:
    """An AsyncSecretSource over a dict: ``InMemorySource``'s helpers, awaited reads.

    ``calls`` counts API calls by AWS operation name when they start; ``latency``
    (seconds) is awaited with ``asyncio.sleep`` before each answer, so it never blocks
    the event loop.
    """

    def __init__(
        self,
        secrets: Mapping[str, str | bytes] | None = None,
        *,
        latency: float = 0.0,
        region: str = "us-east-1",
        account: str = "123456789012",
    ) -> None:
        self.calls: Counter[str] = Counter()
        self.latency = latency
        self._memory = InMemorySource(secrets, region=region, account=account)
        self._lock = threading.Lock()  # loads may run on several threads' event loops

    # -- changing the world (InMemorySource's helpers) ---------------------------------
    def put(self, name: str, value: str | bytes, *, stages: Sequence[str] = (AWSCURRENT,)) -> str:
        """Add a version carrying ``stages`` (moving them off older versions); return its id."""
        return self._memory.put(name, value, stages=stages)

    def rotate(self, name: str, value: str | bytes) -> str:
        """Put a new AWSCURRENT version; return its VersionId."""
        return self._memory.rotate(name, value)

    def move_stage(self, name: str, stage: str, version_id: str) -> None:
        """Move ``stage`` to ``version_id`` (AWSCURRENT leaves AWSPREVIOUS behind)."""
        self._memory.move_stage(name, stage, version_id)

    def delete(self, name: str) -> None:
        """Schedule the secret for deletion: reads fail with SecretDeletedError."""
        self._memory.delete(name)

    def set_next_rotation(self, name: str, seconds_from_now: float | None) -> None:
        """Make DescribeSecret report a NextRotationDate this far ahead."""
        self._memory.set_next_rotation(name, seconds_from_now)

    def fail(self, error: SecretCacheError, secret_id: str | None = None) -> None:
        """Raise ``error`` (a copy) on every read of ``secret_id`` (None: of any secret)."""
        self._memory.fail(error, secret_id)

    def heal(self) -> None:
        """Stop failing."""
        self._memory.heal()

    # -- the AsyncSecretSource protocol ------------------------------------------------
    async def _call(self, operation: str) -> None:
        with self._lock:
            self.calls[operation] += 1
        if self.latency:
            import asyncio  # only async tests pay for importing it

            await asyncio.sleep(self.latency)

    async def get_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        """Return one version, as GetSecretValue would."""
        await self._call("GetSecretValue")
        return self._memory.get_secret_value(
            secret_id, version_stage=version_stage, version_id=version_id
        )

    async def describe_secret(self, secret_id: str) -> SecretMetadata:
        """Return the stage map, as DescribeSecret would."""
        await self._call("DescribeSecret")
        return self._memory.describe_secret(secret_id)

    async def batch_get_secret_value(
        self,
        *,
        secret_ids: Sequence[str] | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        next_token: str | None = None,
    ) -> BatchPage:
        """Return AWSCURRENT of up to 20 secrets, as BatchGetSecretValue would."""
        await self._call("BatchGetSecretValue")
        return self._memory.batch_get_secret_value(
            secret_ids=secret_ids, filters=filters, next_token=next_token
        )
