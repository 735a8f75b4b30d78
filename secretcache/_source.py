"""The source seam: the SecretSource protocol and the botocore source.

This is the only module that calls AWS. It knows nothing of caching; every botocore
error leaves it already mapped to secretcache's tree (``_errors.mapping_errors``).
"""

from __future__ import annotations

import sys
import threading
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, cast, runtime_checkable

from ._errors import map_error, mapping_errors
from ._models import Secret, SecretMetadata
from ._version import __version__

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import boto3
    import botocore.session
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from .exceptions import SecretCacheError

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
    "get_request",
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


def secret_from_response(secret_id: str, response: Mapping[str, Any]) -> Secret:
    """Build a Secret from a GetSecretValue (or batch entry) response."""
    binary = response.get("SecretBinary")
    string = response.get("SecretString")
    name = response.get("Name", secret_id)
    return Secret(
        secret_id=secret_id,
        name=secret_id if name == secret_id else name,  # one string, not two equal ones
        arn=response.get("ARN", ""),
        version_id=response.get("VersionId", ""),
        version_stages=_stages(response.get("VersionStages")),
        created_date=_utc(response.get("CreatedDate")),
        secret_string=string,
        secret_binary=bytes(binary) if string is None and binary is not None else None,
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


def build_client(session: AnySession | None = None) -> SecretsManagerClient:
    """Build the default client: standard retries, short timeouts, our user agent.

    Without a session it comes from botocore's own session: a boto3 session adds nothing
    to a client but ``import boto3`` and its set-up, tens of milliseconds of a Lambda
    cold start. Credentials, region and ``AWS_ENDPOINT_URL*`` resolve in botocore either
    way. A boto3 session passed in is used as is (boto3 is imported by whoever made it).
    """
    import botocore.session
    from botocore.config import Config

    check_session(session)
    config = Config(**CLIENT_SETTINGS)
    with mapping_errors():
        if session is None or isinstance(session, botocore.session.Session):
            factory = botocore.session.get_session() if session is None else session
            return cast(
                "SecretsManagerClient", factory.create_client("secretsmanager", config=config)
            )
        return session.client("secretsmanager", config=config)


class BotocoreSource:
    """A SecretSource over a boto3 Secrets Manager client, built lazily if not given."""

    def __init__(
        self, client: SecretsManagerClient | None = None, session: AnySession | None = None
    ) -> None:
        self._client = client
        self._session = session
        self._lock = threading.Lock()
        if client is not None:
            _install_scrubber()

    @property
    def client(self) -> SecretsManagerClient:
        """Return the client, building it on first use (never at import or construction)."""
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = build_client(self._session)
                    _install_scrubber()
                client = self._client
        return client

    def get_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        """Call GetSecretValue, always naming a VersionStage or a VersionId."""
        kwargs = get_request(secret_id, version_stage, version_id)
        with mapping_errors(
            secret_id=secret_id, version_stage=version_stage, version_id=version_id
        ):
            response = self.client.get_secret_value(**kwargs)
        return secret_from_response(secret_id, response)

    def describe_secret(self, secret_id: str) -> SecretMetadata:
        """Call DescribeSecret."""
        with mapping_errors(secret_id=secret_id):
            response = self.client.describe_secret(SecretId=secret_id)
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
        with mapping_errors():
            response = self.client.batch_get_secret_value(**kwargs)
        return batch_page_from_response(response, secret_ids)


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
    for item in response.get("SecretValues", []):
        name = item.get("Name", "")
        secret_id = asked.get(name) or asked.get(item.get("ARN", ""), name)
        secrets.append(secret_from_response(secret_id, item))
    errors: dict[str, SecretCacheError] = {}
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
    from ._redact import auto_install

    auto_install()
