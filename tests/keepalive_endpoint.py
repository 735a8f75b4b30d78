"""A Secrets Manager stand-in on 127.0.0.1 that keeps connections alive, like AWS does.

moto's server answers every request with ``Connection: close``, so no connection
outlives a request and no pooled connection crosses a fork: it cannot show what a
forked gunicorn worker does to a connection it inherited. This endpoint speaks
HTTP/1.1 keep-alive and answers GetSecretValue and DescribeSecret (the JSON protocol
botocore uses) after
an optional delay, which widens the window in which two processes sharing one
inherited socket read each other's answers.

Run as a script it serves until killed, printing its URL on the first line.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACCOUNT = "123456789012"
_KEY = re.compile(r"Credential=([^/]+)/")
# What the endpoint answers a request signed with an access key it was told about.
_KEY_ANSWERS = {
    "expired": ("ExpiredTokenException", "The security token included in the request is expired"),
    "revoked": (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    ),
}


def value_of(secret_id: str) -> str:
    """Return the value the endpoint holds for ``secret_id`` (names its secret)."""
    return f"value-of-{secret_id}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the connection outlives the request
    server: _Server
    noted = False

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
        request = json.loads(body or b"{}")
        self.server.note(self)
        time.sleep(self.server.delay)
        secret_id = str(request.get("SecretId", ""))
        found = _KEY.search(self.headers.get("Authorization", ""))
        key = found.group(1) if found else ""
        self.server.keys_seen.append(key)
        answer = _KEY_ANSWERS.get(self.server.key_states.get(key, "ok"))
        if answer is not None:
            self._answer(400, {"__type": answer[0], "message": answer[1]})
            return
        arn = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{secret_id}-AbCdEf"
        version_id = str(uuid.uuid5(uuid.NAMESPACE_URL, secret_id))
        if operation == "DescribeSecret":
            self._answer(
                200,
                {"ARN": arn, "Name": secret_id, "VersionIdsToStages": {version_id: ["AWSCURRENT"]}},
            )
            return
        if operation != "GetSecretValue":
            self._answer(400, {"__type": "InvalidRequestException", "message": operation})
            return
        self._answer(
            200,
            {
                "ARN": arn,
                "Name": secret_id,
                "VersionId": version_id,
                "SecretString": value_of(secret_id),
                "VersionStages": [request.get("VersionStage", "AWSCURRENT")],
                "CreatedDate": 1767225600.0,
            },
        )

    def _answer(self, status: int, document: dict[str, Any]) -> None:
        payload = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, delay: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay = delay
        self.requests = 0
        # One count per accepted connection that sent a request. Not distinct peer
        # addresses: the OS reuses an ephemeral port once its connection has closed, so
        # over many rounds two connections can share an address.
        self.connections = 0
        # access key id -> "ok" | "expired" | "revoked"; unknown keys are "ok"
        self.key_states: dict[str, str] = {}
        self.keys_seen: list[str] = []
        self._lock = threading.Lock()

    def note(self, handler: _Handler) -> None:
        with self._lock:
            self.requests += 1
            if not handler.noted:  # one handler serves one connection
                handler.noted = True
                self.connections += 1


class KeepAliveEndpoint:
    """Serve GetSecretValue on 127.0.0.1 with keep-alive connections, in a thread."""

    def __init__(self, delay: float = 0.0) -> None:
        self._server = _Server(delay)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Return the endpoint URL to give botocore."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def key_states(self) -> dict[str, str]:
        """Return the map of access key id -> "ok", "expired" or "revoked" (to edit)."""
        return self._server.key_states

    @property
    def keys_seen(self) -> list[str]:
        """Return the access key id of every request, in order."""
        return self._server.keys_seen

    @property
    def connections(self) -> int:
        """Return how many distinct client connections have sent requests."""
        return self._server.connections

    def __enter__(self) -> KeepAliveEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


if __name__ == "__main__":
    with KeepAliveEndpoint(delay=float(sys.argv[1]) if len(sys.argv) > 1 else 0.0) as ep:
        print(ep.url, flush=True)
        threading.Event().wait()
