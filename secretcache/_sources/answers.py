"""The Secrets Manager API as data: the requests the sources send, and what answers mean.

Free of I/O and shared by the botocore and the aiobotocore source (they only wait for
the client): the arguments of each call (always a VersionStage or a VersionId), the
records built from each answer, a malformed answer typed as an outage, a batch's
per-id errors typed through the one error table, the default clients' settings, and
an error of the client's own build named for the read that needed it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from .._core.errors import map_error
from .._core.models import BatchPage, Secret, SecretMetadata
from .._version import __version__
from ..exceptions import SecretCacheError, SecretsManagerUnavailableError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "CLIENT_SETTINGS",
    "Call",
    "batch_call",
    "batch_page_from_response",
    "batch_request",
    "describe_call",
    "for_read",
    "get_call",
    "get_request",
    "metadata_from_response",
    "secret_from_response",
]


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
            " (no VersionId, no value, a field of the wrong type, or another secret's name)",
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
    """Return True for a value of ``secret_id``: a VersionId, and a string or a binary.

    Each field must also have its type: botocore passes a JSON number through where a
    string belongs. (A string where the stage list belongs it reads as a list of its
    letters, which cannot be told from one-letter stage labels: that one passes.)
    """
    version_id = response.get("VersionId")
    string = response.get("SecretString")
    binary = response.get("SecretBinary")
    stages = response.get("VersionStages") or ()
    created = response.get("CreatedDate")
    return (
        isinstance(version_id, str)
        and bool(version_id)
        and (isinstance(string, str) or (string is None and isinstance(binary, (bytes, bytearray))))
        and isinstance(stages, (list, tuple))
        and all(isinstance(stage, str) for stage in stages)
        and (created is None or isinstance(created, datetime))
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


def for_read(error: SecretCacheError, context: Mapping[str, Any]) -> SecretCacheError:
    """Return ``error`` (building a client failed: no region, say) naming the read."""
    for name, value in context.items():
        if getattr(error, name, None) is None:
            setattr(error, name, value)
    return error


#: Each client method's name in the API, as errors name the operation.
_API_NAMES = {
    "get_secret_value": "GetSecretValue",
    "describe_secret": "DescribeSecret",
    "batch_get_secret_value": "BatchGetSecretValue",
}


class Call:
    """One API call to make: the client's method, its arguments, what an error names."""

    __slots__ = ("context", "kwargs", "operation")

    def __init__(self, operation: str, context: dict[str, Any], kwargs: dict[str, Any]) -> None:
        self.operation = operation
        self.context = context
        self.kwargs = kwargs

    @property
    def name(self) -> str:
        """Return the operation's name in the API (GetSecretValue), for its errors."""
        return _API_NAMES[self.operation]


def get_call(secret_id: str, version_stage: str | None, version_id: str | None) -> Call:
    """Return the GetSecretValue call for one version of a secret."""
    context = {"secret_id": secret_id, "version_stage": version_stage, "version_id": version_id}
    return Call("get_secret_value", context, get_request(secret_id, version_stage, version_id))


def describe_call(secret_id: str) -> Call:
    """Return the DescribeSecret call for a secret."""
    return Call("describe_secret", {"secret_id": secret_id}, {"SecretId": secret_id})


def batch_call(
    secret_ids: Sequence[str] | None,
    filters: Sequence[Mapping[str, Any]] | None,
    next_token: str | None,
) -> Call:
    """Return one BatchGetSecretValue call (its per-id errors come back in the page)."""
    return Call("batch_get_secret_value", {}, batch_request(secret_ids, filters, next_token))
