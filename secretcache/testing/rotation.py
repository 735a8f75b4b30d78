"""Rotate a secret in moto (or AWS) the way a rotation Lambda does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._core.models import AWSCURRENT, AWSPENDING

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

from .clock import new_version_id

__all__ = ["finish_rotation", "rotate_secret", "start_rotation"]


# -- rotation helpers for moto (or a real account) -----------------------------------


def rotate_secret(client: SecretsManagerClient, secret_id: str, value: str | bytes) -> str:
    """Put a new AWSCURRENT version (the old one becomes AWSPREVIOUS); return its id."""
    version_id = new_version_id()
    kwargs: dict[str, Any] = {"SecretId": secret_id, "ClientRequestToken": version_id}
    kwargs["SecretBinary" if isinstance(value, bytes) else "SecretString"] = value
    client.put_secret_value(**kwargs)
    return version_id


def start_rotation(client: SecretsManagerClient, secret_id: str, value: str | bytes) -> str:
    """Put a new version as AWSPENDING only (a rotation's createSecret); return its id."""
    version_id = new_version_id()
    kwargs: dict[str, Any] = {
        "SecretId": secret_id,
        "ClientRequestToken": version_id,
        "VersionStages": [AWSPENDING],
    }
    kwargs["SecretBinary" if isinstance(value, bytes) else "SecretString"] = value
    client.put_secret_value(**kwargs)
    return version_id


def finish_rotation(client: SecretsManagerClient, secret_id: str, version_id: str) -> None:
    """Move AWSCURRENT to ``version_id`` and drop its AWSPENDING (a rotation's finishSecret)."""
    described = client.describe_secret(SecretId=secret_id)
    current = next(
        vid for vid, stages in described["VersionIdsToStages"].items() if AWSCURRENT in stages
    )
    client.update_secret_version_stage(
        SecretId=secret_id,
        VersionStage=AWSCURRENT,
        MoveToVersionId=version_id,
        RemoveFromVersionId=current,
    )
    client.update_secret_version_stage(
        SecretId=secret_id, VersionStage=AWSPENDING, RemoveFromVersionId=version_id
    )
