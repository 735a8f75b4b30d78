"""The Lambda extension's and the Secrets Manager Agent's HTTP protocol, without I/O.

Both serve GetSecretValue on localhost: ``GET /secretsmanager/get?secretId=...`` with
``versionStage``, ``versionId`` or (the Agent only) ``refreshNow=true``, a token in
``X-Aws-Parameters-Secrets-Token``, and GetSecretValue's JSON as the answer. This module
says what to send (``Endpoint``, ``find_token``, ``request``) and what a failed exchange
means (``exchange_failed``); ``extension_answers`` reads the answers (as ``answers``
does for the SDK). The sources (``extension``, ``aio_extension``) only move the bytes,
once blocking (``http.client``) and once awaiting (asyncio streams, framed by
``parse_head`` and ``framing`` here). Nothing here does I/O or imports botocore.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from .._core.extension_env import (
    AGENT_FILES,
    EXTENSION_FILES,
    PORT_VARIABLE,
    in_lambda,
    installed_extension,
)
from .._core.rules import NOT_READY
from ..exceptions import SecretCredentialsError, SecretsManagerUnavailableError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

__all__ = [
    "AGENT_FILES",
    "DEFAULT_PORT",
    "EXTENSION_FILES",
    "NOT_READY",
    "PORT_VARIABLE",
    "TOKEN_HEADER",
    "Endpoint",
    "Read",
    "Request",
    "exchange_failed",
    "find_token",
    "framing",
    "in_lambda",
    "installed_extension",
    "parse_head",
    "ready_delays",
    "request",
]

DEFAULT_PORT = 2773
TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"
PATH = "/secretsmanager/get"
# Where the token is, in the order each server reads it: in Lambda the extension
# expects the function's session token; the Agent reads AWS_TOKEN first.
_LAMBDA_TOKENS = ("AWS_SESSION_TOKEN", "AWS_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN")
_AGENT_TOKENS = ("AWS_TOKEN", "AWS_SESSION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN")
_OPERATION = "GetSecretValue"


class Endpoint:
    """Where the extension or the Agent listens: an ``http://host:port`` URL."""

    __slots__ = ("host", "port")

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    @classmethod
    def parse(cls, url: object) -> Endpoint:
        """Return the endpoint a URL names (ValueError/TypeError for anything else)."""
        if not isinstance(url, str):
            raise TypeError(f"endpoint must be a str like 'http://localhost:2773', not {url!r}")
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError(
                f"endpoint must be an http://host:port URL with no path, not {url!r}"
                " (the extension and the Agent speak plain HTTP on localhost)"
            )
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError(f"endpoint must be http://host:port, not {url!r}")
        try:
            port = parts.port or DEFAULT_PORT
        except ValueError as exc:
            raise ValueError(f"endpoint {url!r} has no valid port") from exc
        return cls(parts.hostname, port)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Endpoint:
        """Return ``http://localhost:{PARAMETERS_SECRETS_EXTENSION_HTTP_PORT or 2773}``."""
        raw = env.get(PORT_VARIABLE, "").strip()
        if not raw:
            return cls("localhost", DEFAULT_PORT)
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise ValueError(f"{PORT_VARIABLE} must be a port number, not {raw!r}")
        return cls("localhost", int(raw))

    @property
    def url(self) -> str:
        """Return the endpoint as a URL."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __repr__(self) -> str:
        return f"Endpoint({self.url!r})"


def find_token(env: Mapping[str, str], read: Callable[[str], str] | None = None) -> tuple[str, str]:
    """Return (the token, where it came from) from the environment; typed error if none.

    A value ``file:///path`` names a file holding the token (the Agent's installer
    writes one); it is read each time, so a token seeded or renewed later is seen.
    """
    names = _LAMBDA_TOKENS if in_lambda(env) else _AGENT_TOKENS
    for name in names:
        value = env.get(name)
        if not value:
            continue
        if not value.startswith("file://"):
            return value, name
        path = value[len("file://") :]
        try:
            token = (read or _read_text)(path).strip()
        except OSError as exc:
            raise SecretCredentialsError(
                f"the extension's token file named by {name} cannot be read ({type(exc).__name__})",
                code="TokenUnavailable",
                operation=_OPERATION,
            ) from None
        if token:
            return token, name
    raise SecretCredentialsError(
        "no token for the Lambda extension or the Secrets Manager Agent: set one of "
        f"{', '.join(names)} (in Lambda, AWS_SESSION_TOKEN is set for you), or pass token=",
        code="TokenUnavailable",
        operation=_OPERATION,
    )


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


class Read:
    """What one read asks for: a secret, by stage or by VersionId."""

    __slots__ = ("secret_id", "version_id", "version_stage")

    def __init__(self, secret_id: str, version_stage: str | None, version_id: str | None) -> None:
        self.secret_id = secret_id
        self.version_stage = version_stage
        self.version_id = version_id


class Request:
    """One GET to send: its target (path and query) and headers. The token stays hidden."""

    __slots__ = ("headers", "read", "target")

    def __init__(self, target: str, headers: dict[str, str], read: Read) -> None:
        self.target = target
        self.headers = headers
        self.read = read  # what it asks: the context of its answer and of its errors

    def encode(self) -> bytes:
        """Return the HTTP/1.1 request as bytes (for transports that frame it themselves)."""
        lines = [f"GET {self.target} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def __repr__(self) -> str:
        return f"Request(GET {self.target})"  # never the headers: the token is one


def request(
    endpoint: Endpoint,
    token: str,
    secret_id: str,
    *,
    version_stage: str | None = None,
    version_id: str | None = None,
    refresh_now: bool = False,
) -> Request:
    """Return the request for one GetSecretValue: always a versionId or a versionStage."""
    # Every reserved character escaped: names hold "/", "+", "=", "@"; ARNs ":".
    query = f"secretId={quote(secret_id, safe='')}"
    if version_id is not None:
        query += f"&versionId={quote(version_id, safe='')}"
    else:
        query += f"&versionStage={quote(version_stage or 'AWSCURRENT', safe='')}"
    if refresh_now:
        query += "&refreshNow=true"
    if any(c in token for c in "\r\n\0"):
        token = ""  # not in this frame's locals, which error trackers record
        raise SecretCredentialsError(
            "the extension's token holds a line break: it cannot be sent in a header",
            code="TokenUnavailable",
            operation=_OPERATION,
        )
    host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    headers = {
        "Host": f"{host}:{endpoint.port}",
        TOKEN_HEADER: token,
        "Accept": "application/json",
        "Connection": "close",  # one request per connection: no pool to fork or share
    }
    return Request(f"{PATH}?{query}", headers, Read(secret_id, version_stage, version_id))


# -- failed exchanges ------------------------------------------------------------------
def exchange_failed(
    exc: BaseException,
    endpoint: Endpoint,
    *,
    secret_id: str,
    version_stage: str | None,
    version_id: str | None,
) -> SecretsManagerUnavailableError:
    """Return the outage a failed connection, send or read means (not ready, or timeout)."""
    not_ready = isinstance(exc, (ConnectionRefusedError, ConnectionResetError, EOFError))
    not_ready = not_ready or type(exc).__name__ in ("RemoteDisconnected", "IncompleteRead")
    if not_ready:
        message = f"the extension at {endpoint.url} is not ready yet ({type(exc).__name__})"
        code = NOT_READY
    elif isinstance(exc, TimeoutError):
        message = f"the extension at {endpoint.url} did not answer in time"
        code = "ExtensionTimeout"
    else:
        message = f"the extension at {endpoint.url} could not be read ({type(exc).__name__})"
        code = "ExtensionConnectionError"
    return SecretsManagerUnavailableError(
        message,
        code=code,
        operation=_OPERATION,
        secret_id=secret_id,
        version_stage=None if version_id is not None else version_stage or "AWSCURRENT",
        version_id=version_id,
    )


def ready_delays(budget: float) -> Iterator[float]:
    """Yield the pauses between attempts while the extension is not ready, ``budget`` in all.

    25 ms doubling: an extension that is starting up answers within a few attempts; one
    that refuses during Lambda's INIT phase costs ``budget`` seconds, never more.
    """
    delay, spent = 0.025, 0.0
    while spent + 1e-9 < budget:
        step = min(delay, budget - spent)
        yield step
        spent += step
        delay *= 2


# -- framing, for transports that read raw bytes ----------------------------------------
def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """Return (status, lower-cased headers) from a response's head (ValueError if garbled)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ValueError("not an HTTP/1.x status line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, sep, value = line.partition(":")
            if not sep:
                raise ValueError("a header line without a colon")
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


def framing(headers: Mapping[str, str]) -> int | str:
    """Return how the body is framed: its length, "chunked", or "close" (read to EOF)."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return "chunked"
    length = headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise ValueError("a Content-Length that is not a number")
        return int(length)
    return "close"
