"""Fault injection on a real boto3 client, and a counter of its API calls."""

from __future__ import annotations

import json
import threading
import time as _time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import TracebackType

    from mypy_boto3_secretsmanager import SecretsManagerClient

__all__ = ["FaultInjector", "counting_calls"]


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
