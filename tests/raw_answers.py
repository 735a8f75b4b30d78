"""Answer a botocore client's requests with raw bytes, as an endpoint would write them.

For bodies that moto never writes: a key spelled with JSON escapes, a malformed 200.
The answer goes through botocore's own parsing (and its DEBUG logging), like a real one.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import TYPE_CHECKING, Any

from botocore.awsrequest import AWSResponse, HTTPHeaders

if TYPE_CHECKING:
    from collections.abc import Iterator


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self._body


class RawAnswers:
    """Bodies to answer each operation with (HTTP 200); ``sent`` counts the requests."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.sent: dict[str, int] = {}

    def __call__(self, request: Any, **kwargs: Any) -> AWSResponse | None:
        target = request.headers.get("X-Amz-Target", b"")
        operation = (target.decode() if isinstance(target, bytes) else target).split(".")[-1]
        body = self.bodies.get(operation)
        if body is None:
            return None  # on to moto
        self.sent[operation] = self.sent.get(operation, 0) + 1
        headers = HTTPHeaders()
        headers["x-amzn-requestid"] = str(uuid.uuid4())
        headers["content-type"] = "application/x-amz-json-1.1"
        return AWSResponse(request.url, 200, headers, _Raw(body))


@contextlib.contextmanager
def raw_answers(client: Any) -> Iterator[RawAnswers]:
    """Answer ``client``'s requests from ``RawAnswers.bodies`` while inside the block."""
    answers = RawAnswers()
    event = "before-send.secrets-manager"
    client.meta.events.register_first(event, answers, unique_id="raw-answers")
    try:
        yield answers
    finally:
        client.meta.events.unregister(event, unique_id="raw-answers")
