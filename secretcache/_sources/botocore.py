"""The source seam: the SecretSource protocol and the botocore source.

The caches call AWS only through a source: this module's ``BotocoreSource`` (and
``_aio_source``'s async twin; ``_failover`` composes them across regions). It knows
nothing of caching; every botocore error leaves it already mapped to secretcache's tree
(``_errors.mapping_errors``). (``secretcache.compat`` and the command line build clients
of their own, as their users expect.)
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, cast, runtime_checkable

from .._core import forksafe as _forksafe
from .._core.errors import map_error, mapping_errors
from .._core.forksafe import ForkSafeLock
from .._core.models import Secret, SecretMetadata
from .._core.rules import REVOKED_CREDENTIAL_CODES
from .._version import __version__
from ..exceptions import SecretCacheError, SecretCredentialsError, SecretsManagerUnavailableError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import boto3
    import botocore.session
    from mypy_boto3_secretsmanager import SecretsManagerClient

    #: What ``session=`` takes: either builds the same client.
    AnySession: TypeAlias = boto3.Session | botocore.session.Session

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
    "one_attempt",
    "secret_from_response",
]


class BatchPage:
    """One BatchGetSecretValue page: values, per-id typed errors, and the next token."""

    # A plain slotted class, not a dataclass: see _store.Load.
    __slots__ = ("errors", "next_token", "secrets")

    def __init__(
        self,
        secrets: Sequence[Secret],
        errors: Mapping[str, SecretCacheError] | None = None,
        next_token: str | None = None,
    ) -> None:
        self.secrets = secrets
        self.errors: Mapping[str, SecretCacheError] = {} if errors is None else errors
        self.next_token = next_token


@runtime_checkable
class SecretSource(Protocol):
    """Where a cache reads secrets from; raises only ``SecretCacheError``s."""

    def get_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        """Read one version of a secret (GetSecretValue)."""
        ...

    def describe_secret(self, secret_id: str) -> SecretMetadata:
        """Read a secret's metadata and stage map (DescribeSecret), never its value."""
        ...

    def batch_get_secret_value(
        self,
        *,
        secret_ids: Sequence[str] | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        next_token: str | None = None,
    ) -> BatchPage:
        """Read the AWSCURRENT version of up to 20 secrets (BatchGetSecretValue)."""
        ...


# Most secrets carry one of a handful of stage lists: share the tuples.
_STAGE_TUPLES: dict[tuple[str, ...], tuple[str, ...]] = {}


def _stages(raw: Sequence[str] | None) -> tuple[str, ...]:
    key = tuple(raw or ())
    return _STAGE_TUPLES.setdefault(key, key) if len(_STAGE_TUPLES) < 64 else key


def _utc(moment: Any) -> Any:
    # botocore gives each timestamp its own dateutil tzlocal() instance (~470 B per
    # cached secret); the same instant in the shared timezone.utc costs nothing extra.
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        return moment.astimezone(timezone.utc)
    return moment


def _answers(secret_id: str, response: Mapping[str, Any]) -> bool:
    """Return True unless the response names a secret other than ``secret_id``."""
    name = response.get("Name")
    arn = response.get("ARN")
    if name is None and arn is None:
        return True  # a stub that says nothing about it
    if secret_id in (name, arn):
        return True
    # A partial ARN: the full one without the "-" and six random characters.
    return isinstance(arn, str) and arn.startswith(secret_id) and len(arn) == len(secret_id) + 7


def secret_from_response(secret_id: str, response: Mapping[str, Any]) -> Secret:
    """Build a Secret from a GetSecretValue (or batch entry) response.

    A response with no VersionId, no value, or another secret's name is not stored as
    a secret: it is a SecretsManagerUnavailableError (code "MalformedResponse"), like
    any other garbled answer, and the cache keeps what it had.
    """
    if not _usable(secret_id, response):
        # The answer may hold a value all the same: not in this frame's locals, which
        # error trackers record with the traceback.
        del response
        raise SecretsManagerUnavailableError(
            "Secrets Manager's answer is not a value of the secret asked for"
            " (no VersionId, no value, or another secret's name)",
            code="MalformedResponse",
            secret_id=secret_id,
            operation="GetSecretValue",
        )
    name = response.get("Name", secret_id)
    string = response.get("SecretString")
    binary = response.get("SecretBinary")
    return Secret(
        secret_id=secret_id,
        name=secret_id if name == secret_id else name,  # one string, not two equal ones
        arn=response.get("ARN", ""),
        version_id=response["VersionId"],
        version_stages=_stages(response.get("VersionStages")),
        created_date=_utc(response.get("CreatedDate")),
        secret_string=string,
        secret_binary=bytes(binary) if string is None and binary is not None else None,
    )


def _usable(secret_id: str, response: Mapping[str, Any]) -> bool:
    """Return True for a value of ``secret_id``: a VersionId, and a string or a binary."""
    return (
        bool(response.get("VersionId"))
        and (response.get("SecretString") is not None or response.get("SecretBinary") is not None)
        and _answers(secret_id, response)
    )


def _rotates_in(response: Mapping[str, Any]) -> float | None:
    """Return seconds until NextRotationDate, measured on the server's own clock."""
    next_date = response.get("NextRotationDate")
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    date_header = headers.get("date")
    if not isinstance(next_date, datetime) or not date_header:
        return None
    try:
        server_now = parsedate_to_datetime(date_header)
    except (TypeError, ValueError):
        return None
    if next_date.tzinfo is None or server_now.tzinfo is None:
        return None
    return (next_date - server_now).total_seconds()


def metadata_from_response(response: Mapping[str, Any]) -> SecretMetadata:
    """Build SecretMetadata from a DescribeSecret response."""
    raw = response.get("VersionIdsToStages") or {}
    return SecretMetadata(
        name=response.get("Name", ""),
        arn=response.get("ARN", ""),
        version_ids_to_stages={vid: tuple(stages) for vid, stages in raw.items()},
        rotates_in=_rotates_in(response),
        deleted=response.get("DeletedDate") is not None,
        rotation_enabled=bool(response.get("RotationEnabled")),
        next_rotation_date=response.get("NextRotationDate"),
        last_rotated_date=response.get("LastRotatedDate"),
        deleted_date=response.get("DeletedDate"),
        kms_key_id=response.get("KmsKeyId"),
    )


#: The default clients' settings: botocore's standard retries (3 attempts in all),
#: timeouts short enough for Lambda, and our user agent.
CLIENT_SETTINGS: dict[str, Any] = {
    "retries": {"mode": "standard", "total_max_attempts": 3},
    "connect_timeout": 2,
    "read_timeout": 5,
    "user_agent_extra": f"secretcache/{__version__}",
}


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

    def _renew_after(self, error: SecretCacheError, client: SecretsManagerClient) -> None:
        """Drop a client we built whose credentials failed, so the next call builds one."""
        if (
            self._owned
            and isinstance(error, SecretCredentialsError)
            and error.code not in REVOKED_CREDENTIAL_CODES
        ):
            with self._lock:
                if self._client is client:  # one rebuild however many calls failed on it
                    self._client = None

    def _call(self, operation: str, context: dict[str, Any], kwargs: dict[str, Any]) -> Any:
        try:
            client = self.client
        except SecretCacheError as exc:  # no region, say: name the read that needed it
            for name, value in context.items():
                if getattr(exc, name, None) is None:
                    setattr(exc, name, value)
            raise
        try:
            with mapping_errors(**context):
                return getattr(client, operation)(**kwargs)
        except SecretCredentialsError as exc:
            self._renew_after(exc, client)
            raise

    def get_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        """Call GetSecretValue, always naming a VersionStage or a VersionId."""
        context = {"secret_id": secret_id, "version_stage": version_stage, "version_id": version_id}
        # The answer goes straight into the call: no local of this frame holds its value.
        return secret_from_response(
            secret_id,
            self._call(
                "get_secret_value", context, get_request(secret_id, version_stage, version_id)
            ),
        )

    def describe_secret(self, secret_id: str) -> SecretMetadata:
        """Call DescribeSecret."""
        response = self._call("describe_secret", {"secret_id": secret_id}, {"SecretId": secret_id})
        return metadata_from_response(response)

    def batch_get_secret_value(
        self,
        *,
        secret_ids: Sequence[str] | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        next_token: str | None = None,
    ) -> BatchPage:
        """Call BatchGetSecretValue once; per-id errors come back typed, not raised."""
        kwargs = batch_request(secret_ids, filters, next_token)
        return batch_page_from_response(
            self._call("batch_get_secret_value", {}, kwargs), secret_ids
        )

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


def get_request(
    secret_id: str, version_stage: str | None, version_id: str | None
) -> dict[str, str]:
    """Return GetSecretValue's arguments: always a VersionId or a VersionStage."""
    if version_id is not None:
        return {"SecretId": secret_id, "VersionId": version_id}
    return {"SecretId": secret_id, "VersionStage": version_stage or "AWSCURRENT"}


def batch_request(
    secret_ids: Sequence[str] | None,
    filters: Sequence[Mapping[str, Any]] | None,
    next_token: str | None,
) -> dict[str, Any]:
    """Return BatchGetSecretValue's arguments: ids or filters (paged 20 at a time)."""
    kwargs: dict[str, Any] = {}
    if secret_ids is not None:
        kwargs["SecretIdList"] = list(secret_ids)
    if filters is not None:
        kwargs["Filters"] = list(filters)
        kwargs["MaxResults"] = 20
    if next_token is not None:
        kwargs["NextToken"] = next_token
    return kwargs


def batch_page_from_response(
    response: Mapping[str, Any], secret_ids: Sequence[str] | None
) -> BatchPage:
    """Build a BatchPage from a BatchGetSecretValue response, keyed by the ids asked."""
    asked = {sid: sid for sid in secret_ids or ()}
    secrets = []
    errors: dict[str, SecretCacheError] = {}
    for item in response.get("SecretValues", []):
        name = item.get("Name", "")
        secret_id = asked.get(name) or asked.get(item.get("ARN", ""), name)
        try:
            secrets.append(secret_from_response(secret_id, item))
        except SecretsManagerUnavailableError as exc:
            errors[secret_id] = exc  # one garbled entry is that id's failure alone
    for err in response.get("Errors", []):
        sid = err.get("SecretId", "")
        errors[sid] = _batch_error(sid, err)
    return BatchPage(secrets, errors, response.get("NextToken"))


def _batch_error(secret_id: str, entry: Mapping[str, Any]) -> SecretCacheError:
    """Type one entry of BatchGetSecretValue's Errors list through the same table."""
    from botocore.exceptions import ClientError

    fake = ClientError(
        {"Error": {"Code": entry.get("ErrorCode", ""), "Message": entry.get("Message", "")}},
        "BatchGetSecretValue",
    )
    mapped = map_error(fake, secret_id=secret_id)
    assert mapped is not None
    mapped.__cause__ = fake
    return mapped


def _install_scrubber() -> None:
    from .._core.redact import auto_install

    auto_install()
