"""A long-running HTTP service whose database password Secrets Manager rotates.

What it shows, for EC2, ECS or any process that lives longer than a request:

- one ``SecretCache(refresh_ahead=True)``: a daemon thread refreshes the credentials
  shortly before they expire, so no request waits on Secrets Manager;
- a small pool of psycopg connections, rebuilt when ``cache.on_rotation`` reports a new
  AWSCURRENT (sessions opened with the old password are retired, not killed);
- a login refused for a bad password is retried once with
  ``cache.rotation_candidate()``: a newer AWSCURRENT, or AWSPENDING during a rotation
  window (the database already has the new password, AWSCURRENT does not yet);
- a clean stop on SIGTERM (what systemd, ECS and Kubernetes send): stop accepting,
  finish in-flight requests, close the pool, stop the refresh thread.

Endpoints: ``GET /query`` runs a query and answers JSON; ``GET /healthz`` answers
``ok`` without touching the database. Run it::

    SECRET_ID=prod/app/postgres PORT=8080 python examples/ec2_service.py

Not for Lambda: a frozen execution environment stops the refresh thread (use a plain
module-level ``SecretCache()`` there).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import psycopg

from secretcache import AWSCURRENT, RotationEvent, Secret, SecretCache, SecretCacheError

if TYPE_CHECKING:
    from collections.abc import Iterator

log = logging.getLogger("ec2_service")

# See examples/rotating_postgres.py: libpq gives no SQLSTATE for a failed login, so the
# server's (English, unless lc_messages says otherwise) message is matched as well.
_INVALID_PASSWORD = "28P01"
_INVALID_PASSWORD_TEXT = "password authentication failed"


def is_bad_password(exc: psycopg.OperationalError) -> bool:
    """Return True when the server refused the login because of the password."""
    if exc.sqlstate is not None:
        return exc.sqlstate == _INVALID_PASSWORD
    return _INVALID_PASSWORD_TEXT in str(exc)


def _connect(secret: Secret) -> psycopg.Connection[Any]:
    fields = json.loads(secret.secret_string or "{}")
    return psycopg.connect(
        host=fields["host"],
        port=int(fields.get("port", 5432)),
        user=fields["username"],
        password=fields["password"],
        dbname=fields.get("dbname", "postgres"),
        autocommit=True,
        connect_timeout=5,
    )


@dataclass
class Pooled:
    """A connection and what it was opened with."""

    conn: psycopg.Connection[Any]
    version_id: str  # of the secret whose password opened it (not a secret itself)
    generation: int


class PoolTimeout(Exception):
    """No connection became free in time."""


class Pool:
    """At most ``size`` connections, opened on demand; ``rebuild()`` retires them all."""

    def __init__(self, cache: SecretCache, secret_id: str, size: int = 4, wait: float = 5.0):
        self._cache = cache
        self._secret_id = secret_id
        self._wait = wait
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[Pooled] = []
        self._closed = False
        self.generation = 0

    def _open(self, generation: int) -> Pooled:
        secret = self._cache.get_secret(self._secret_id)
        try:
            return Pooled(_connect(secret), secret.version_id, generation)
        except psycopg.OperationalError as exc:
            if not is_bad_password(exc):
                raise
            candidate = self._cache.rotation_candidate(self._secret_id, secret.version_id)
            if candidate is None:
                raise
        log.info("login recovered with secret version %s", candidate.version_id)
        return Pooled(_connect(candidate), candidate.version_id, generation)

    @contextmanager
    def connection(self, *, fresh: bool = False) -> Iterator[Pooled]:
        """Lend a connection; one that raised is closed rather than returned."""
        if not self._slots.acquire(timeout=self._wait):
            raise PoolTimeout(f"no free connection within {self._wait:g}s")
        try:
            with self._lock:
                if self._closed:
                    raise RuntimeError("pool closed")
                generation = self.generation
                pooled = self._idle.pop() if self._idle and not fresh else None
            # Open outside the lock: a login may refresh the cache, and its on_rotation
            # callback calls rebuild(), which takes this lock.
            if pooled is None:
                pooled = self._open(generation)
            try:
                yield pooled
            except BaseException:
                pooled.conn.close()
                raise
            with self._lock:
                keep = not self._closed and pooled.generation == self.generation
                if keep and not pooled.conn.closed and not pooled.conn.broken:
                    self._idle.append(pooled)
                    return
            pooled.conn.close()
        finally:
            self._slots.release()

    def rebuild(self) -> None:
        """Retire every connection: idle ones now, lent ones when they come back."""
        with self._lock:
            self.generation += 1
            idle, self._idle = self._idle, []
        for pooled in idle:
            pooled.conn.close()

    def close(self) -> None:
        """Close idle connections and refuse new loans."""
        with self._lock:
            self._closed = True
        self.rebuild()


class Service:
    """The HTTP server, its pool and its cache; ``shutdown()`` stops all three."""

    def __init__(
        self,
        cache: SecretCache,
        secret_id: str,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        pool_size: int = 4,
    ) -> None:
        self.cache = cache
        self.secret_id = secret_id
        self.pool = Pool(cache, secret_id, pool_size)
        cache.on_rotation(self._rotated)
        self.httpd = _Server((host, port), _handler_for(self))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Return the base URL the server listens on (the real port when 0 was asked)."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def _rotated(self, event: RotationEvent) -> None:
        if event.secret_id == self.secret_id and event.version_stage == AWSCURRENT:
            log.info("secret rotated to %s: rebuilding the pool", event.new_version_id)
            self.pool.rebuild()

    def query(self) -> dict[str, Any]:
        """Run the endpoint's query; retry once on a fresh connection if a pooled one died."""
        try:
            return self._query(fresh=False)
        except psycopg.OperationalError as exc:
            # A pooled session can die under us (failover, restart, idle timeout). The
            # query is read-only, so running it again on a new connection is safe.
            log.info("pooled connection failed (%s): retrying once", type(exc).__name__)
            return self._query(fresh=True)

    def _query(self, *, fresh: bool) -> dict[str, Any]:
        with self.pool.connection(fresh=fresh) as pooled:
            row = pooled.conn.execute("SELECT current_user, current_database()").fetchone()
        assert row is not None
        return {
            "user": row[0],
            "database": row[1],
            "secret_version": pooled.version_id,
            "pool_generation": pooled.generation,
        }

    def start(self) -> Service:
        """Serve in a background thread; return self."""
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="ec2-service-http", daemon=True
        )
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop accepting, let in-flight requests finish, close the pool and the cache."""
        self.httpd.shutdown()
        self.httpd.server_close()  # joins the request threads
        if self._thread is not None:
            self._thread.join()
        self.pool.close()
        self.cache.close()  # stops the refresh-ahead thread


class _Server(ThreadingHTTPServer):
    # Request threads are joined on close, so a stop never cuts a response short.
    # (HTTP/1.0, one request per connection: an idle keep-alive cannot hold a stop up.)
    daemon_threads = False
    block_on_close = True


def _handler_for(service: Service) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._send(200, {"status": "ok"})
            elif self.path == "/query":
                self._query()
            else:
                self._send(404, {"error": "not found"})

        def _query(self) -> None:
            try:
                self._send(200, service.query())
            except SecretCacheError as exc:
                # The typed error says enough; its message never holds a value.
                log.warning("credentials unavailable: %s", type(exc).__name__)
                status = 503 if exc.retryable else 500
                self._send(status, {"error": type(exc).__name__}, retry=exc.retryable)
            except (psycopg.Error, PoolTimeout) as exc:
                # str(exc) would be fine (psycopg keeps passwords out of it); the class
                # is enough for the client. Never log repr(exc.pgconn): it has them.
                log.warning("database unavailable: %s", type(exc).__name__)
                self._send(503, {"error": type(exc).__name__}, retry=True)

        def _send(self, status: int, body: dict[str, Any], *, retry: bool = False) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if retry:
                self.send_header("Retry-After", "1")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

    return Handler


def serve(
    secret_id: str,
    *,
    cache: SecretCache | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    pool_size: int = 4,
) -> Service:
    """Start the service in background threads and return it; it owns (closes) the cache."""
    if cache is None:
        cache = SecretCache(refresh_ahead=True)
    return Service(cache, secret_id, host=host, port=port, pool_size=pool_size).start()


def main() -> int:
    """Serve until SIGTERM or SIGINT; settings come from the environment."""
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"))
    secret_id = os.environ.get("SECRET_ID")
    if not secret_id:
        print("set SECRET_ID to the name or ARN of a database secret", file=sys.stderr)
        return 2
    stop = threading.Event()
    # The handler only sets a flag: shutdown() waits for the server loop, which must
    # not happen inside a signal handler.
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    service = serve(
        secret_id,
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8080")),
        pool_size=int(os.environ.get("POOL_SIZE", "4")),
    )
    print(f"listening on {service.url}", flush=True)
    stop.wait()
    service.shutdown()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
