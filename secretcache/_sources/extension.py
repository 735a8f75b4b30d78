"""Sources over the Lambda extension or the Secrets Manager Agent: the standard library only.

``ExtensionSource`` (blocking, ``http.client``) and ``aio_extension.AsyncExtensionSource``
(asyncio streams: the event loop never blocks) share their settings (``_Settings``, here)
and every rule through the sans-IO ``extension_protocol`` and ``extension_answers``; each
only sends one request and reads one answer. No
botocore, boto3 or aiobotocore is imported here: a Lambda cold start pays for the
interpreter and ``http.client``, nothing else. Secrets Manager itself is reached only
for ``refresh()`` and ``rotation_candidate()`` through an endpoint without
``refreshNow`` (the classic Lambda extension), by a source built on first need.
"""

from __future__ import annotations

import http.client
import os
import threading
import time
from typing import TYPE_CHECKING, Any, TypeAlias

from .._core.extension_env import installed_extension
from .._core.logs import log
from .._core.steps import run
from ..exceptions import (
    InvalidSecretRequestError,
    SecretCacheError,
    SecretsManagerUnavailableError,
)
from .extension_answers import answer
from .extension_protocol import (
    NOT_READY,
    Endpoint,
    Read,
    Request,
    exchange_failed,
    find_token,
    ready_delays,
    request,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Mapping, Sequence

    from .._core.models import Secret, SecretMetadata
    from .botocore import BatchPage

    #: What a read plan asks its driver for: exchange a request, read directly, pause.
    Step: TypeAlias = Request | Read | float
    ReadPlan: TypeAlias = Generator[Step, "Secret | None", Secret]

__all__ = ["ExtensionSource"]


#: The extension's own cache keeps a value this long (SECRETS_MANAGER_TTL, at most 300).
_EXTENSION_TTL = 300.0
_MAX_DIRECT = 256  # versions read past the extension's cache, remembered for lags()


def _positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"{name} must be a finite number of seconds >= 0, not {value!r}")
    return float(value)


def _extension_ttl(env: Mapping[str, str]) -> float:
    raw = env.get("SECRETS_MANAGER_TTL", "").strip()
    try:
        return float(raw) if raw else _EXTENSION_TTL
    except ValueError:
        return _EXTENSION_TTL


class _Settings:
    """What both sources are: where, which token, how long to wait, how to see past."""

    #: No DescribeSecret through it: revalidate="describe" is refused by the caches.
    describes = False
    #: No BatchGetSecretValue through it: prefetch reads id by id.
    batches = False
    #: fallback_regions= with it reads the replicas through the SDK (built on first need).
    fails_over_by_sdk = True

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        token: str | None = None,
        timeout: float = 5.0,
        ready_timeout: float = 1.0,
        refresh_now: bool | None = None,
        direct: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        env = os.environ
        self._endpoint = Endpoint.from_env(env) if endpoint is None else Endpoint.parse(endpoint)
        if token is not None and (not isinstance(token, str) or not token):
            raise TypeError("token must be a non-empty str (or None: found in the environment)")
        self._token = token
        self._timeout = _positive("timeout", timeout)
        if self._timeout == 0:
            raise ValueError("timeout must be > 0 seconds")
        self._ready_timeout = _positive("ready_timeout", ready_timeout)
        if refresh_now is not None and not isinstance(refresh_now, bool):
            raise TypeError("refresh_now must be True, False or None (decided from the layer)")
        # The classic AWS layer has no refreshNow; the Agent (and unknown endpoints) do.
        self._refresh_now = (
            installed_extension(env) != "extension" if refresh_now is None else refresh_now
        )
        self._direct = direct
        self._direct_lock = threading.Lock()
        self._clock = clock
        self._extension_ttl = _extension_ttl(env)
        # VersionId -> when it was read past the extension's cache (see lags()).
        self._past_cache: dict[str, float] = {}

    @property
    def endpoint(self) -> str:
        """Return the endpoint's URL."""
        return self._endpoint.url

    @property
    def region_name(self) -> str | None:
        """Return the region the environment names (the extension reads in its own)."""
        return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None

    @property
    def sees_past_cache(self) -> str:
        """Return how refresh() sees past the extension's cache: "refreshNow" or "direct"."""
        return "refreshNow" if self._refresh_now else "direct"

    def _plan(
        self, secret_id: str, version_stage: str | None, version_id: str | None, *, past_cache: bool
    ) -> ReadPlan:
        """Yield what one read needs (a request, a pause, a direct read); return its Secret.

        Written once for both sources, like the caches' load plan: the sync source drives
        it with blocking calls, the async one with awaits. Not ready: the request again
        after each pause of ``ready_delays``. Past the cache: with ``refreshNow``, or, on
        an endpoint without it, Secrets Manager directly (and the version remembered).
        """
        read = Read(secret_id, version_stage, version_id)
        if past_cache and not self._refresh_now:
            return self._saw(_answered((yield read)))
        req = request(
            self._endpoint,
            self._token or find_token(os.environ)[0],  # never a local of this frame
            secret_id,
            version_stage=version_stage,
            version_id=version_id,
            refresh_now=past_cache,
        )
        delays = ready_delays(self._ready_timeout)
        while True:
            try:
                return _answered((yield req))
            except SecretsManagerUnavailableError as exc:
                pause = next(delays, None) if exc.code == NOT_READY else None
                if pause is None:
                    raise
            except InvalidSecretRequestError as exc:
                if not (past_cache and self._no_refresh_now(exc)):
                    raise
                return self._saw(_answered((yield read)))
            yield pause

    def _failed(
        self, exc: BaseException, read: Read, *, partial: bool
    ) -> tuple[SecretCacheError, BaseException | None]:
        """Return the outage a failed exchange means, and what to chain it to.

        A partial read holds part of the answer (``exc.partial``): never chained to it.
        The cause is chained without its traceback: the HTTP client's frames on it hold
        the request's headers, the token among them, which error trackers would record.
        """
        failure = exchange_failed(
            exc,
            self._endpoint,
            secret_id=read.secret_id,
            version_stage=read.version_stage,
            version_id=read.version_id,
        )
        if partial:
            return failure, None
        seen: BaseException | None = exc
        while seen is not None:
            seen.__traceback__ = None
            seen = seen.__cause__ or seen.__context__
        return failure, exc

    def _no_refresh_now(self, exc: InvalidSecretRequestError) -> bool:
        """After a refreshNow read failed: True if the endpoint has no refreshNow."""
        if exc.code != "UnsupportedParameter":
            return False
        self._refresh_now = False  # for good: ask Secrets Manager directly from now on
        log.debug("secretcache: %s has no refreshNow; refresh() reads directly", self.endpoint)
        return True

    def _saw(self, secret: Secret) -> Secret:
        """Remember a version read past the extension's cache (see lags())."""
        with self._direct_lock:
            self._past_cache.pop(secret.version_id, None)
            if len(self._past_cache) >= _MAX_DIRECT:
                del self._past_cache[next(iter(self._past_cache))]
            self._past_cache[secret.version_id] = self._clock()
        return secret

    def lags(self, answer: Secret, held: Secret) -> bool:
        """Return True if the extension's ``answer`` is older than a version read past it.

        refresh() through an endpoint without refreshNow reads Secrets Manager directly;
        the extension may serve the version that replaced for up to its own TTL. Such an
        answer must not move the cache back (nor fire a rotation event backwards).
        """
        if answer.version_id == held.version_id or answer.version_id in self._past_cache:
            return False  # the same, or itself read past the extension's cache
        seen = self._past_cache.get(held.version_id)
        if seen is None or self._clock() - seen > self._extension_ttl:
            return False
        made, kept = answer.created_date, held.created_date
        # Only a version created after the one read past the cache is news (dates have
        # a second's resolution on some paths: the same second is not after).
        return made is None or kept is None or made <= kept

    def describe_secret(self, secret_id: str) -> SecretMetadata:
        """Refuse: the extension and the Agent serve GetSecretValue only."""
        raise _unsupported("DescribeSecret", secret_id)

    def batch_get_secret_value(
        self,
        *,
        secret_ids: Sequence[str] | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        next_token: str | None = None,
    ) -> BatchPage:
        """Refuse: the extension and the Agent serve GetSecretValue only."""
        raise _unsupported("BatchGetSecretValue", None)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.endpoint} refresh={self.sees_past_cache}>"


def _answered(secret: Secret | None) -> Secret:
    """Return the Secret a read step was answered with (a pause is answered with None)."""
    assert secret is not None
    return secret


def _unsupported(operation: str, secret_id: str | None) -> InvalidSecretRequestError:
    return InvalidSecretRequestError(
        f"the Lambda extension and the Secrets Manager Agent do not serve {operation}",
        code="UnsupportedOperation",
        operation=operation,
        secret_id=secret_id,
    )


class ExtensionSource(_Settings):
    """A SecretSource over the Lambda extension or the Secrets Manager Agent (blocking).

    Args:
        endpoint: ``http://host:port``; ``None``: ``http://localhost:`` and
            ``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`` (default 2773).
        token: the ``X-Aws-Parameters-Secrets-Token``; ``None``: read from the
            environment at each request (in Lambda ``AWS_SESSION_TOKEN``, else
            ``AWS_TOKEN`` or ``AWS_CONTAINER_AUTHORIZATION_TOKEN``; ``file://`` paths read).
        timeout: seconds to wait for an answer.
        ready_timeout: seconds to keep retrying an extension that is not ready
            (refused, reset, 503, Lambda's INIT phase) before raising the outage.
        refresh_now: how ``refresh()``/``rotation_candidate()`` see past the extension's
            cache: ``True`` asks with ``refreshNow=true`` (the Agent), ``False`` asks
            Secrets Manager directly; ``None`` decides from the Lambda layer installed.
        direct: the SecretSource those direct reads use; ``None`` builds a botocore one
            on first need (never before).
        clock: the clock ``lags()`` measures the extension's TTL with.
    """

    def get_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        """Read one version through the extension (its own cache may answer)."""
        return run(
            self._plan(secret_id, version_stage, version_id, past_cache=False), self._perform
        )

    def refresh_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        """Read one version past the extension's cache: refreshNow, or Secrets Manager."""
        plan = self._plan(secret_id, version_stage, version_id, past_cache=True)
        return run(plan, self._perform)

    def _perform(self, action: Step) -> Secret | None:
        """Do one step of a read plan with a blocking call (see ``_Settings._plan``)."""
        if isinstance(action, float):
            time.sleep(action)
            return None
        if isinstance(action, Request):
            return self._exchange(action)
        return self._direct_source().get_secret_value(  # type: ignore[no-any-return]
            action.secret_id, version_stage=action.version_stage, version_id=action.version_id
        )

    def _direct_source(self) -> Any:
        with self._direct_lock:
            if self._direct is None:
                from .botocore import BotocoreSource

                self._direct = BotocoreSource()
            return self._direct

    def _exchange(self, req: Request) -> Secret:
        read, endpoint = req.read, self._endpoint
        conn = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=self._timeout)
        failure: SecretCacheError | None = None
        cause: BaseException | None = None
        try:
            conn.request("GET", req.target, headers=req.headers)
            response = conn.getresponse()
            # The answer goes straight into the call: no local of this frame holds it.
            return answer(
                read.secret_id,
                response.status,
                response.read(),
                version_stage=read.version_stage,
                version_id=read.version_id,
            )
        except (OSError, http.client.HTTPException) as exc:
            failure, cause = self._failed(
                exc, read, partial=isinstance(exc, http.client.IncompleteRead)
            )
        finally:
            conn.close()
        # Raised outside the except block: no partial answer as its __context__.
        raise failure from cause
