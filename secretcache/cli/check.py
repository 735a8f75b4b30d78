"""``secretcache check SECRET_ID``: who am I, can I read it, its metadata and replicas.

Never prints the value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TextIO

from .._core.models import AWSCURRENT, AWSPENDING, AWSPREVIOUS
from .._core.validate import check_secret_id
from ..exceptions import SecretCacheError, SecretCredentialsError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping, Sequence

    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sts import STSClient

    from .._core.models import Secret

from ._common import (
    EXIT_OK,
    UsageError,
    clients,
    connection_options,
    describe_error,
    exit_code,
    one_line,
    para,
    row,
    shape_of,
    valid,
    when,
)

__all__ = ["add_parser", "run"]


def add_parser(commands: Any, formatter: type[argparse.HelpFormatter]) -> None:
    """Add the ``check`` subcommand to ``commands``."""
    check = commands.add_parser(
        "check",
        help="who am I, can I read SECRET_ID, and its metadata (never the value)",
        description=para(
            "Report the caller's identity (STS GetCallerIdentity), whether it can read the "
            "secret (GetSecretValue), and what DescribeSecret tells: ARN, versions and "
            "stages, rotation, scheduled deletion, KMS key, and each replica region: its "
            "replication status and whether it answers. Never prints the value."
        ),
        epilog=(
            "examples:\n  secretcache check prod/db\n"
            "  secretcache check arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf"
            "\n\nexit codes: 0 readable, 1 not readable, 2 usage or configuration error"
        ),
        formatter_class=formatter,
    )
    check.add_argument("secret_id", metavar="SECRET_ID", help="secret name or ARN")
    connection_options(check)


def _stage_order(stages: Sequence[str]) -> tuple[int, str]:
    rank = {AWSCURRENT: 0, AWSPENDING: 1, AWSPREVIOUS: 2}
    return min((rank.get(s, 3) for s in stages), default=4), ",".join(stages)


def _whoami(sts: STSClient, out: TextIO) -> None:
    from .._core.errors import mapping_errors

    try:
        with mapping_errors():
            identity = sts.get_caller_identity()
    except SecretCredentialsError:
        raise
    except SecretCacheError as exc:
        # STS may be unreachable (a Secrets Manager-only VPC endpoint): say so, go on.
        row(out, "caller", f"unknown ({describe_error(exc)})")
        return
    row(out, "caller", f"{identity['Arn']}  (account {identity['Account']})")


def _metadata(sm: SecretsManagerClient, secret_id: str, out: TextIO) -> Mapping[str, Any]:
    """Print what DescribeSecret tells; return its response (empty if it failed)."""
    from .._core.errors import mapping_errors

    try:
        with mapping_errors(secret_id=secret_id):
            meta: Mapping[str, Any] = sm.describe_secret(SecretId=secret_id)
    except SecretCacheError as exc:
        row(out, "metadata", f"DescribeSecret failed: {describe_error(exc)}")
        return {}
    row(out, "name", meta.get("Name", "-"))
    row(out, "ARN", meta.get("ARN", "-"))
    if meta.get("Description"):
        row(out, "description", meta["Description"])
    versions = sorted(
        (meta.get("VersionIdsToStages") or {}).items(), key=lambda item: _stage_order(item[1])
    )
    label = "versions"
    for version_id, stages in versions:
        row(out, label, f"{version_id}  {', '.join(stages) or '(no stage)'}")
        label = ""
    if not versions:
        row(out, "versions", "none")
    if meta.get("RotationEnabled"):
        rules = meta.get("RotationRules") or {}
        every = rules.get("ScheduleExpression") or (
            f"every {rules['AutomaticallyAfterDays']} days"
            if rules.get("AutomaticallyAfterDays")
            else "schedule unknown"
        )
        row(out, "rotation", f"enabled, {every}")
        if meta.get("RotationLambdaARN"):
            row(out, "", f"rotation function {meta['RotationLambdaARN']}")
        row(out, "", f"last rotated {when(meta.get('LastRotatedDate'))}")
        row(out, "", f"next rotation {when(meta.get('NextRotationDate'))}")
    else:
        row(out, "rotation", "not enabled")
        if meta.get("LastRotatedDate"):  # rotated once, then switched off
            row(out, "", f"last rotated {when(meta['LastRotatedDate'])}")
    deleted = meta.get("DeletedDate")
    row(
        out,
        "deletion",
        f"SCHEDULED ({when(deleted)}); restore-secret undoes it" if deleted else "not scheduled",
    )
    row(
        out,
        "KMS key",
        meta.get("KmsKeyId") or "aws/secretsmanager (the AWS managed key)",
    )
    row(out, "last changed", when(meta.get("LastChangedDate")))
    return meta


def _replicas(
    args: argparse.Namespace, meta: Mapping[str, Any], here: Secret | None, out: TextIO
) -> None:
    """Print the secret's replica regions: replication status, and whether each answers."""
    primary = meta.get("PrimaryRegion")
    if primary:
        answers = _answers_in(args, str(primary), here)
        row(out, "primary", f"{primary} (this region holds a replica); {answers}")
    statuses = meta.get("ReplicationStatus") or []
    if not statuses:
        if meta and not primary:
            row(out, "replicas", "none")
        return
    label = "replicas"
    for status in statuses:
        region = str(status.get("Region", "?"))
        state = f"{status.get('Status', '?')} ({one_line(str(status.get('StatusMessage', '')))})"
        row(out, label, f"{region}  {state}; {_answers_in(args, region, here)}")
        label = ""


def _answers_in(args: argparse.Namespace, region: str, here: Secret | None) -> str:
    """Read AWSCURRENT in ``region`` (the ARN rewritten for it); say how it went."""
    from .._core.regions import in_region
    from .._sources.botocore import BotocoreSource

    asked = in_region(here.arn if here is not None and here.arn else args.secret_id, region)
    try:
        client = clients(args, region)[0]
        there = BotocoreSource(client).get_secret_value(asked, version_stage=AWSCURRENT)
    except UsageError as exc:
        return f"answers: not checked ({exc})"
    except SecretCacheError as exc:
        return f"answers: NO: {describe_error(exc)}"
    if here is None:
        return f"answers: yes, {there.version_id} (AWSCURRENT)"
    same = "the same version" if there.version_id == here.version_id else "ANOTHER version"
    return f"answers: yes, {there.version_id} (AWSCURRENT), {same} as here"


def _default_source() -> str:
    """Say what a SecretCache() built here would read through, and why."""
    import os

    from .._core.extension_env import choose_source
    from .._sources.extension_protocol import Endpoint

    try:
        kind, why = choose_source(os.environ)
        if kind == "sdk":
            return f"reads through the SDK (botocore): {why}"
        return f"reads through the Lambda extension at {Endpoint.from_env(os.environ).url}: {why}"
    except ValueError as exc:  # a bad SECRETCACHE_SOURCE or port: SecretCache() says so too
        return f"cannot be built: {exc}"


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .._cache import SecretCache

    valid(check_secret_id, args.secret_id)
    sm, sts, region = clients(args)
    where = f"{region}" + (f" at {args.endpoint_url}" if args.endpoint_url else "")
    print(f"secretcache check {args.secret_id}", file=out)
    row(out, "region", where)
    row(out, "SecretCache()", _default_source())
    _whoami(sts, out)
    here: Secret | None = None
    with SecretCache(client=sm, jitter=0.0) as cache:
        try:
            secret = cache.get_secret(args.secret_id)
        except SecretCredentialsError:
            raise
        except SecretCacheError as exc:
            row(out, "readable", f"NO: {describe_error(exc)}")
            failure: SecretCacheError | None = exc
        else:
            stages = ", ".join(secret.version_stages)
            row(
                out,
                "readable",
                f"yes: GetSecretValue returned {secret.version_id} ({stages}), "
                f"{shape_of(secret.value)}",
            )
            failure, here = None, secret
    meta = _metadata(sm, args.secret_id, out)
    _replicas(args, meta, here, out)
    if failure is None:
        print(f"result: {args.secret_id} is readable", file=out)
        return EXIT_OK
    print(f"result: {args.secret_id} is NOT readable ({type(failure).__name__})", file=out)
    return exit_code(failure)
