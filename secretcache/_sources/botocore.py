"""The botocore source: one region's Secrets Manager client, built lazily if not given.

The caches call AWS only through a source: this module's ``BotocoreSource`` (and
``aiobotocore``'s async twin; ``failover`` composes them across regions). What it sends
and what each answer means is ``answers``, shared with the async twin; it only waits.
Every botocore error leaves it already mapped to secretcache's tree
(``_core.errors.mapping_errors``). (``secretcache.compat`` and the command line build
clients of their own, as their users expect.)
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from .._core import forksafe as _forksafe
from .._core.errors import mapping_errors
from .._core.forksafe import ForkSafeLock
from .._core.models import BatchPage
from .._core.rules import renews_client
from ..exceptions import SecretCacheError
from .answers import (
    CLIENT_SETTINGS,
    Call,
    batch_call,
    batch_page_from_response,
    batch_request,
    describe_call,
    for_read,
    get_call,
    get_request,
    metadata_from_response,
    secret_from_response,
)
from .protocol import SecretSource

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import boto3
    import botocore.session
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from .._core.models import Secret, SecretMetadata

    #: What ``session=`` takes: either builds the same client.
    AnySession: TypeAlias = boto3.Session | botocore.session.Session

# BatchPage, SecretSource, CLIENT_SETTINGS and the answer helpers are served here too,
# where they were first defined.
__all__ = [
    "CLIENT_SETTINGS",
    "BatchPage",
    "BotocoreSource",
    "SecretSource",
    "batch_page_from_response",
    "batch_request",
    "build_client",
    "check_session",
    "drop_connections",
    "get_request",
    "metadata_from_response",
    "one_attempt",
    "secret_from_response",
]


def check_session(session: object) -> None:
    """Raise TypeError unless ``session`` can build a sync client (boto3 or botocore)."""
    if session is None:
        return
    aio = sys.modules.get("aiobotocore.session")  # if it isn't imported, no AioSession exists
    if aio is not None and isinstance(session, aio.AioSession):
        raise TypeError(
            "an aiobotocore session builds async clients: use secretcache.aio.AsyncSecretCache"
        )
    from botocore.session import Session

    if not isinstance(session, Session) and not callable(getattr(session, "client", None)):
        raise TypeError(
            f"session must be a boto3.Session or a botocore.session.Session, "
            f"not {type(session).__name__}"
        )


def build_client(
    session: AnySession | None = None, region_name: str | None = None
) -> SecretsManagerClient:
    """Build the default client: standard retries, short timeouts, our user agent.

    Without a session it comes from botocore's own session: a boto3 session adds nothing
    to a client but ``import boto3`` and its set-up, tens of milliseconds of a Lambda
    cold start. Credentials, region and ``AWS_ENDPOINT_URL*`` resolve in botocore either
    way. A boto3 session passed in is used as is (boto3 is imported by whoever made it).
    ``region_name`` replaces the session's region (a fallback region's client).
    """
    import botocore.session
    from botocore.config import Config

    check_session(session)
    config = Config(**CLIENT_SETTINGS)
    with mapping_errors():
        if session is None or isinstance(session, botocore.session.Session):
            factory = botocore.session.get_session() if session is None else session
            return cast(
                "SecretsManagerClient",
                factory.create_client("secretsmanager", config=config, region_name=region_name),
            )
        return session.client("secretsmanager", config=config, region_name=region_name)


def one_attempt(client: Any) -> None:
    """Make a client secretcache built send each request once: botocore retries nothing.

    For a primary region with fallbacks: a fallback is its retry, so an outage costs
    one connect timeout per call instead of three plus botocore's sleeps. botocore
    (and aiobotocore) register their standard retry handler under this id.
    """
    event = client.meta.service_model.service_id.hyphenize()
    client.meta.events.unregister(f"needs-retry.{event}", unique_id=f"retry-config-{event}")


class BotocoreSource:
    """A SecretSource over a boto3 Secrets Manager client, built lazily if not given.

    A client built here is built again after credentials trouble that a new client
    can cure (expired temporary credentials, a credentials file written since), and in
    a forked child. A client passed in is the caller's: in a forked child only its
    inherited connection pool is dropped. ``region_name`` builds the client for that
    region instead of the session's (a fallback region); ``single_attempt`` makes it
    send each request once (a primary region whose fallbacks are its retries).
    """

    def __init__(
        self,
        client: SecretsManagerClient | None = None,
        session: AnySession | None = None,
        *,
        region_name: str | None = None,
        single_attempt: bool = False,
    ) -> None:
        if client is not None and region_name is not None:
            raise TypeError("region_name is for a client built here; a client has its own")
        self._client = client
        self._owned = client is None
        self._session = session
        self._region_name = region_name
        # A primary region with fallbacks: the client built here tries each call once.
        self._single_attempt = single_attempt
        self._lock = ForkSafeLock()
        if client is not None:
            _install_scrubber()
        _forksafe.register(self)

    @property
    def client(self) -> SecretsManagerClient:
        """Return the client, building it on first use (never at import or construction)."""
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    built = build_client(self._session, self._region_name)
                    if self._single_attempt:
                        one_attempt(built)
                    self._client = built
                    _install_scrubber()
                client = self._client
        return client

    @property
    def region_name(self) -> str | None:
        """Return the region this source reads in (building the client if need be)."""
        if self._region_name is not None:
            return self._region_name
        return self.client.meta.region_name

    def _call(self, call: Call) -> Any:
        try:
            client = self.client
        except SecretCacheError as exc:  # no region, say: name the read that needed it
            for_read(exc, call.context)
            raise
        try:
            with mapping_errors(operation=call.name, **call.context):
                return getattr(client, call.operation)(**call.kwargs)
        except SecretCacheError as exc:
            if self._owned and renews_client(exc):
                with self._lock:
                    if self._client is client:  # one rebuild however many calls failed on it
                        self._client = None
            raise

    def get_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        """Call GetSecretValue, always naming a VersionStage or a VersionId."""
        # The answer goes straight into the parser: no local of this frame holds its value.
        call = get_call(secret_id, version_stage, version_id)
        return secret_from_response(secret_id, self._call(call))

    def describe_secret(self, secret_id: str) -> SecretMetadata:
        """Call DescribeSecret."""
        return metadata_from_response(self._call(describe_call(secret_id)))

    def batch_get_secret_value(
        self,
        *,
        secret_ids: Sequence[str] | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        next_token: str | None = None,
    ) -> BatchPage:
        """Call BatchGetSecretValue once; per-id errors come back typed, not raised."""
        call = batch_call(secret_ids, filters, next_token)
        return batch_page_from_response(self._call(call), secret_ids)

    def _after_fork_in_child(self) -> None:
        # The parent's pooled keep-alive connections are shared with it (and with every
        # sibling): a request written into one is answered to whoever reads first.
        if self._client is not None:
            drop_connections(self._client)
            if self._owned:
                self._client = None  # also fresh credential-refresh locks and state


def drop_connections(client: Any) -> None:
    """Close a botocore client's pooled connections (the next request opens its own).

    Closing in a forked child closes only the child's copies of the descriptors: no
    shutdown, no TLS close_notify reaches the connection the parent still uses.
    """
    endpoint = getattr(client, "_endpoint", None)
    close = getattr(getattr(endpoint, "http_session", None), "close", None)
    if callable(close):
        close()


def _install_scrubber() -> None:
    from .._core.redact import auto_install

    auto_install()
