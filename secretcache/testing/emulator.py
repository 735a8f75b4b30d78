"""ExtensionEmulator: a local stand-in for the Lambda extension and the Secrets Manager Agent.

It serves the protocol the Agent's own server speaks (``GET /secretsmanager/get`` and
the ``/v1/<id>`` path form, ``/ping``), on 127.0.0.1 and a free port, from any Secrets
Manager client (moto's in tests, a real one to try a handler locally):

- the token check (``X-Aws-Parameters-Secrets-Token`` or ``X-Vault-Token``; 403
  "Bad Token"), ``X-Forwarded-For`` refused (400), GET only (405), unknown paths 404,
  unknown query parameters 400;
- its own cache: each (secret, stage or VersionId) answer kept ``ttl`` seconds on its
  ``clock``; ``refresh_now="honour"`` (the Agent) bypasses and updates it, ``"ignore"``
  serves the cached answer anyway, ``"reject"`` answers 400 "unknown parameter";
- answers as the Agent writes them: 200 with GetSecretValue's JSON (CreatedDate as a
  string of epoch seconds, SecretBinary base64); a Secrets Manager error with its own
  status and ``{"__type": code, "message": ...}``; a client connection error 502
  ``ConnectionError``, a timeout 504 ``TimeoutError``, anything else 500 ``InternalFailure``;
- knobs: ``not_ready()`` (503, the INIT phase's 400 "not ready", connections reset, or
  refused: not listening at all) and ``fail()`` (any status and body, for a number of
  requests), ``ready()``/``heal()`` to undo them; ``calls`` counts the client's calls,
  ``requests`` records each request's path and query (never its token).

Not reproduced: the real extension's process model (it runs beside the function, frozen
between invocations), its own credentials and IAM role (the client's are used), its
connection limit (429), TLS, Lambda's INIT-phase timing (``not_ready`` is switched by
hand), the classic layer's exact error texts, and the Agent's configuration file.
"""

from __future__ import annotations

import base64
import json
import secrets as _secrets
import socket
import struct
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

__all__ = ["ExtensionEmulator", "Recorded"]

NotReady = Literal["503", "init", "reset", "refuse"]
_TOKEN_HEADERS = ("X-Aws-Parameters-Secrets-Token", "X-Vault-Token")
_PARAMS = {"secretId", "versionId", "versionStage", "refreshNow"}


class Recorded:
    """One request the emulator received: what was asked, never the token sent."""

    __slots__ = ("forwarded", "path", "query", "status", "token_ok")

    def __init__(self, path: str, query: dict[str, str], token_ok: bool, forwarded: bool) -> None:
        self.path = path
        self.query = query
        self.token_ok = token_ok
        self.forwarded = forwarded
        self.status = 0

    def __repr__(self) -> str:
        return f"Recorded({self.path!r}, {self.query!r}, status={self.status})"


class _Fault:
    __slots__ = ("body", "left", "status")

    def __init__(self, status: int, body: bytes, left: int | None) -> None:
        self.status = status
        self.body = body
        self.left = left


class ExtensionEmulator:
    """A local Lambda extension / Secrets Manager Agent over a Secrets Manager client.

    Use as a context manager (or ``start()``/``stop()``); point a source at it with
    ``ExtensionSource(emulator.endpoint, token=emulator.token)``, or a subprocess at it
    with ``emulator.env`` (``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`` and the token).
    """

    def __init__(
        self,
        client: Any = None,
        *,
        token: str | None = None,
        ttl: float = 300.0,
        refresh_now: Literal["honour", "ignore", "reject"] = "honour",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if refresh_now not in ("honour", "ignore", "reject"):
            raise ValueError("refresh_now must be 'honour', 'ignore' or 'reject'")
        if client is None:
            import botocore.session

            client = botocore.session.get_session().create_client("secretsmanager")
        self.client = client
        self.token = token or _secrets.token_urlsafe(24)
        self.ttl = float(ttl)
        self.refresh_now = refresh_now
        self.clock = clock
        self.calls = 0
        self.requests: list[Recorded] = []
        self._cache: dict[tuple[str, str, str], tuple[int, bytes, float]] = {}
        self._lock = threading.Lock()
        self._not_ready: tuple[NotReady, int | None] | None = None
        self._fault: _Fault | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    # -- life cycle ------------------------------------------------------------------
    def start(self) -> ExtensionEmulator:
        """Listen on 127.0.0.1 (a free port the first time, the same one after)."""
        if self._server is None:
            server = ThreadingHTTPServer(("127.0.0.1", self._port), _handler(self))
            server.daemon_threads = True
            self._port = server.server_address[1]
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever,
                args=(0.05,),  # stop() returns within 50 ms
                name="ExtensionEmulator",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (connections are then refused) and end the server thread."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> ExtensionEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """Return the port it listens on (0 before ``start()``)."""
        return self._port

    @property
    def endpoint(self) -> str:
        """Return ``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def env(self) -> dict[str, str]:
        """Return what a process needs to find it as it finds the Lambda extension."""
        return {
            "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(self._port),
            "AWS_SESSION_TOKEN": self.token,
        }

    def __repr__(self) -> str:
        state = "listening" if self._server is not None else "stopped"
        return f"<ExtensionEmulator {self.endpoint} {state} ttl={self.ttl:g}s>"

    # -- knobs -----------------------------------------------------------------------
    def not_ready(self, mode: NotReady = "503", *, count: int | None = None) -> None:
        """Answer the next ``count`` requests (None: all, until ``ready()``) as not ready.

        ``"503"``: HTTP 503; ``"init"``: HTTP 400 "not ready to serve traffic", as the
        extension answers during Lambda's INIT phase; ``"reset"``: the connection is
        reset without an answer; ``"refuse"``: stop listening (connections refused)
        until ``ready()``, whatever ``count`` says.
        """
        if mode not in ("503", "init", "reset", "refuse"):
            raise ValueError(f"unknown not-ready mode {mode!r}")
        if mode == "refuse":
            self.stop()
            return
        with self._lock:
            self._not_ready = (mode, count)

    def ready(self) -> None:
        """Serve normally again (listening again after ``not_ready("refuse")``)."""
        with self._lock:
            self._not_ready = None
        self.start()

    def fail(
        self, status: int, code: str | None = None, message: str = "", *, count: int | None = None
    ) -> None:
        """Answer the next ``count`` requests (None: all) with ``status``.

        With ``code`` the body is the Agent's JSON error (``__type``), else ``message``
        as plain text (``fail(403, message="Bad Token")``).
        """
        if code is not None:
            body = json.dumps({"__type": code, "message": message}).encode()
        else:
            body = message.encode()
        with self._lock:
            self._fault = _Fault(status, body, count)

    def heal(self) -> None:
        """Stop failing (see ``fail``)."""
        with self._lock:
            self._fault = None

    def invalidate(self) -> None:
        """Empty the emulator's own cache."""
        with self._lock:
            self._cache.clear()

    # -- serving ---------------------------------------------------------------------
    def _take_not_ready(self) -> NotReady | None:
        with self._lock:
            if self._not_ready is None:
                return None
            mode, left = self._not_ready
            if left is not None:
                self._not_ready = (mode, left - 1) if left > 1 else None
            return mode

    def _take_fault(self) -> _Fault | None:
        with self._lock:
            fault = self._fault
            if fault is not None and fault.left is not None:
                fault.left -= 1
                if fault.left <= 0:
                    self._fault = None
            return fault

    def _get(self, query: dict[str, str]) -> tuple[int, bytes]:
        secret_id = query.get("secretId", "")
        if not secret_id:
            return 400, b"missing parameter secretId"
        refresh = query.get("refreshNow", "false").lower()
        if refresh not in ("true", "1", "false", "0"):
            return 400, b"invalid refreshNow value"
        if "refreshNow" in query and self.refresh_now == "reject":
            return 400, b"unknown parameter: refreshNow"
        bypass = refresh in ("true", "1") and self.refresh_now == "honour"
        version_id = query.get("versionId")
        stage = query.get("versionStage")
        key = (secret_id, version_id or "", stage or "")
        now = self.clock()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and not bypass and now - cached[2] < self.ttl:
            return cached[0], cached[1]
        status, body = self._fetch(secret_id, version_id, stage)
        if status == 200:
            with self._lock:
                self._cache[key] = (status, body, now)
        return status, body

    def _fetch(
        self, secret_id: str, version_id: str | None, stage: str | None
    ) -> tuple[int, bytes]:
        kwargs: dict[str, str] = {"SecretId": secret_id}
        if version_id:
            kwargs["VersionId"] = version_id
        if stage:
            kwargs["VersionStage"] = stage
        with self._lock:
            self.calls += 1
        try:
            return 200, _gsv_json(self.client.get_secret_value(**kwargs))
        except Exception as exc:  # every failure becomes the Agent's answer for it
            return _error_answer(exc)


def _gsv_json(response: dict[str, Any]) -> bytes:
    out: dict[str, Any] = {
        "ARN": response.get("ARN"),
        "Name": response.get("Name"),
        "VersionId": response.get("VersionId"),
    }
    if response.get("SecretString") is not None:
        out["SecretString"] = response["SecretString"]
    if response.get("SecretBinary") is not None:
        out["SecretBinary"] = base64.b64encode(bytes(response["SecretBinary"])).decode()
    if response.get("VersionStages") is not None:
        out["VersionStages"] = list(response["VersionStages"])
    created = response.get("CreatedDate")
    if isinstance(created, datetime):
        out["CreatedDate"] = f"{created.timestamp():.3f}"  # the Agent writes a string
    return json.dumps(out).encode()


def _error_answer(exc: Exception) -> tuple[int, bytes]:
    """Return the Agent's status and body for a client's failure."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response.get("Error") or {}
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 400
        code = error.get("Code") or ""
        message = error.get("Message") or ""
        if code and message:
            return int(status), json.dumps({"__type": code, "message": message}).encode()
        return 500, b'{"__type":"InternalFailure"}'
    names = {klass.__name__ for klass in type(exc).__mro__}
    if names & {"ReadTimeoutError", "ConnectTimeoutError", "TimeoutError"}:
        return 504, b'{"__type":"TimeoutError", "message":"Timeout"}'
    if names & {"EndpointConnectionError", "ConnectionError", "HTTPClientError"}:
        return 502, b'{"__type":"ConnectionError", "message":"Read Error"}'
    return 500, b'{"__type":"InternalFailure"}'


def _handler(emulator: ExtensionEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "ExtensionEmulator"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # never the request line on stderr (ids), let alone headers

        def _answer(self, status: int, body: bytes, record: Recorded | None = None) -> None:
            if record is not None:
                record.status = status
            self.send_response(status)
            self.send_header(
                "Content-Type", "application/json" if body[:1] == b"{" else "text/plain"
            )
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _reset(self) -> None:
            # SO_LINGER 0: close() sends a TCP reset instead of an orderly FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PUT(self) -> None:
            self._serve("PUT")

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            if parts.path == "/ping":
                self._answer(200, b"healthy")
                return
            sent = [self.headers.get(h) for h in _TOKEN_HEADERS]
            record = Recorded(
                parts.path,
                query,
                token_ok=emulator.token in sent,
                forwarded="X-Forwarded-For" in self.headers,
            )
            with emulator._lock:
                emulator.requests.append(record)
            mode = emulator._take_not_ready()
            if mode == "reset":
                record.status = -1
                self._reset()
                return
            if mode == "503":
                self._answer(503, b"not ready", record)
                return
            if mode == "init":
                self._answer(400, b"not ready to serve traffic, please wait", record)
                return
            fault = emulator._take_fault()
            if fault is not None:
                self._answer(fault.status, fault.body, record)
                return
            if record.forwarded:
                self._answer(400, b"Forwarded", record)
            elif not record.token_ok:
                self._answer(403, b"Bad Token", record)
            elif method != "GET":
                self._answer(405, b"Not allowed", record)
            elif parts.path == "/secretsmanager/get" or parts.path.startswith("/v1/"):
                if parts.path.startswith("/v1/"):
                    query = {"secretId": unquote(parts.path[4:]), **query}
                unknown = sorted(set(query) - _PARAMS)
                if unknown:
                    self._answer(400, f"unknown parameter: {unknown[0]}".encode(), record)
                else:
                    self._answer(*emulator._get(query), record)
            else:
                self._answer(404, b"Not found", record)

    return Handler
