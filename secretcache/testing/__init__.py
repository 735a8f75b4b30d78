"""Test kit for code that uses secretcache: a fake clock, fault injection, fake sources.

- ``FakeClock``: pass as ``SecretCache(clock=...)``; ``advance(seconds)`` moves time.
- ``FaultInjector``: make a real boto3 client (moto or not) answer an error code, a
  connection error or a timeout, through botocore's own retry path.
- ``InMemorySource``: a counting, in-process ``SecretSource`` (no boto3, no moto);
  ``AsyncInMemorySource``: the same for ``AsyncSecretCache``.
- ``rotate_secret`` / ``start_rotation`` / ``finish_rotation``: rotate a secret in moto
  (or AWS) the way a rotation Lambda does.
"""

from __future__ import annotations

import itertools
import json
import threading
import time as _time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from .._core.errors import map_error
from .._core.models import AWSCURRENT, AWSPENDING, AWSPREVIOUS, Secret, SecretMetadata
from .._sources.botocore import BatchPage
from ..exceptions import InvalidSecretRequestError, SecretCacheError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from types import TracebackType

    from mypy_boto3_secretsmanager import SecretsManagerClient

__all__ = [
    "AsyncInMemorySource",
    "FakeClock",
    "FaultInjector",
    "InMemorySource",
    "counting_calls",
    "finish_rotation",
    "new_version_id",
    "rotate_secret",
    "start_rotation",
]


class FakeClock:
    """A clock that moves only when told to; thread-safe."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` and return the new time."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._now += seconds
            return self._now

    def __repr__(self) -> str:
        return f"FakeClock({self._now})"


def new_version_id() -> str:
    """Return a fresh VersionId (a ClientRequestToken of the right length)."""
    return str(uuid.uuid4())


# -- fault injection on a real boto3 client ----------------------------------------


@dataclass
class _Fault:
    operation: str
    kind: str  # "code" | "connection" | "read_timeout" | "connect_timeout"
    code: str = ""
    status: int = 400
    message: str = ""
    remaining: int | None = None  # None: until healed


class _SleepShim:
    """Stands in for ``time`` inside botocore.endpoint so retry sleeps are recorded."""

    def __init__(self, sleep: Callable[[float], object]) -> None:
        self._sleep = sleep

    def sleep(self, seconds: float) -> None:
        self._sleep(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(_time, name)


class FaultInjector:
    """Make a boto3 Secrets Manager client fail on demand, through botocore's retries.

    Faults are answered from ``before-send``, the last step before the HTTP request,
    so botocore parses and retries them exactly as it would a real response::

        with FaultInjector(client) as faults:
            faults.fail("ThrottlingException")        # every GetSecretValue, until healed
            faults.fail("InternalServiceError", status=500, times=2)
            faults.connection_error(); faults.read_timeout()
            faults.heal()

    While active, botocore's retry sleeps go to ``sleep`` (default: recorded in
    ``slept`` and not slept); ``attempts`` counts HTTP attempts per operation.
    """

    def __init__(
        self,
        client: SecretsManagerClient,
        *,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.client = client
        self.slept: list[float] = []
        self.attempts: Counter[str] = Counter()
        self._sleep = sleep if sleep is not None else self.slept.append
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._saved_time: Any = None
        self._active = False

    # -- what to inject ----------------------------------------------------------------
    def fail(
        self,
        code: str,
        *,
        status: int | None = None,
        message: str | None = None,
        operation: str = "GetSecretValue",
        times: int | None = None,
    ) -> FaultInjector:
        """Answer ``operation`` with the error ``code`` (HTTP ``status``) ``times`` times."""
        if status is None:
            status = 500 if code in {"InternalServiceError", "InternalFailure"} else 400
        self._add(_Fault(operation, "code", code, status, message or f"injected {code}", times))
        return self

    def connection_error(
        self, *, operation: str = "GetSecretValue", times: int | None = None
    ) -> FaultInjector:
        """Fail ``operation`` as if the endpoint refused the connection."""
        self._add(_Fault(operation, "connection", remaining=times))
        return self

    def read_timeout(
        self, *, operation: str = "GetSecretValue", times: int | None = None
    ) -> FaultInjector:
        """Fail ``operation`` as if the response never came (read timeout)."""
        self._add(_Fault(operation, "read_timeout", remaining=times))
        return self

    def connect_timeout(
        self, *, operation: str = "GetSecretValue", times: int | None = None
    ) -> FaultInjector:
        """Fail ``operation`` as if the connection attempt timed out."""
        self._add(_Fault(operation, "connect_timeout", remaining=times))
        return self

    def heal(self, operation: str | None = None) -> None:
        """Stop injecting (for one operation, or all)."""
        with self._lock:
            self._faults = [f for f in self._faults if operation not in (None, f.operation)]

    def _add(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    # -- wiring ------------------------------------------------------------------------
    def __enter__(self) -> FaultInjector:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Hook into the client (and redirect botocore's retry sleeps)."""
        if self._active:
            return
        import botocore.endpoint

        # botocore sleeps between retries with the module-level ``time``; swap it.
        self._saved_time = vars(botocore.endpoint)["time"]
        setattr(botocore.endpoint, "time", _SleepShim(self._sleep))  # noqa: B010
        self.client.meta.events.register_first(
            "before-send.secrets-manager", self._before_send, unique_id=f"faults-{id(self)}"
        )
        self._active = True

    def stop(self) -> None:
        """Unhook; the client behaves normally again."""
        if not self._active:
            return
        import botocore.endpoint

        self.client.meta.events.unregister(
            "before-send.secrets-manager", unique_id=f"faults-{id(self)}"
        )
        setattr(botocore.endpoint, "time", self._saved_time)  # noqa: B010
        self._active = False

    def _take(self, operation: str) -> _Fault | None:
        with self._lock:
            self.attempts[operation] += 1
            for fault in self._faults:
                if fault.operation == operation:
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def _before_send(self, request: Any, **kwargs: Any) -> Any:
        from botocore import exceptions as bce
        from botocore.awsrequest import AWSResponse, HTTPHeaders

        target = request.headers.get("X-Amz-Target", b"")
        operation = (target.decode() if isinstance(target, bytes) else target).split(".")[-1]
        fault = self._take(operation)
        if fault is None:
            return None
        if fault.kind == "connection":
            raise bce.EndpointConnectionError(endpoint_url=request.url)
        if fault.kind == "read_timeout":
            raise bce.ReadTimeoutError(endpoint_url=request.url)
        if fault.kind == "connect_timeout":
            raise bce.ConnectTimeoutError(endpoint_url=request.url)
        body = json.dumps({"__type": fault.code, "message": fault.message}).encode()
        headers = HTTPHeaders()
        headers["x-amzn-requestid"] = str(uuid.uuid4())
        headers["content-type"] = "application/x-amz-json-1.1"
        return AWSResponse(request.url, fault.status, headers, _Raw(body))


class _Raw:
    """The minimal raw-response object AWSResponse reads its body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self._body


# -- rotation helpers for moto (or a real account) -----------------------------------


def rotate_secret(client: SecretsManagerClient, secret_id: str, value: str | bytes) -> str:
    """Put a new AWSCURRENT version (the old one becomes AWSPREVIOUS); return its id."""
    version_id = new_version_id()
    kwargs: dict[str, Any] = {"SecretId": secret_id, "ClientRequestToken": version_id}
    kwargs["SecretBinary" if isinstance(value, bytes) else "SecretString"] = value
    client.put_secret_value(**kwargs)
    return version_id


def start_rotation(client: SecretsManagerClient, secret_id: str, value: str | bytes) -> str:
    """Put a new version as AWSPENDING only (a rotation's createSecret); return its id."""
    version_id = new_version_id()
    kwargs: dict[str, Any] = {
        "SecretId": secret_id,
        "ClientRequestToken": version_id,
        "VersionStages": [AWSPENDING],
    }
    kwargs["SecretBinary" if isinstance(value, bytes) else "SecretString"] = value
    client.put_secret_value(**kwargs)
    return version_id


def finish_rotation(client: SecretsManagerClient, secret_id: str, version_id: str) -> None:
    """Move AWSCURRENT to ``version_id`` and drop its AWSPENDING (a rotation's finishSecret)."""
    described = client.describe_secret(SecretId=secret_id)
    current = next(
        vid for vid, stages in described["VersionIdsToStages"].items() if AWSCURRENT in stages
    )
    client.update_secret_version_stage(
        SecretId=secret_id,
        VersionStage=AWSCURRENT,
        MoveToVersionId=version_id,
        RemoveFromVersionId=current,
    )
    client.update_secret_version_stage(
        SecretId=secret_id, VersionStage=AWSPENDING, RemoveFromVersionId=version_id
    )


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


@contextmanager
def counting_calls(client: SecretsManagerClient) -> Iterator[Counter[str]]:
    """Count logical API calls a boto3 client makes, by operation name, in a block."""
    counts: Counter[str] = Counter()

    def count(model: Any, **kwargs: Any) -> None:
        counts[model.name] += 1

    unique = f"secretcache-count-{id(counts)}"
    client.meta.events.register("before-call.secrets-manager", count, unique_id=unique)
    try:
        yield counts
    finally:
        client.meta.events.unregister("before-call.secrets-manager", unique_id=unique)
