"""The ``secretcache`` command: ``demo``, ``check``, ``get`` and ``policy``.

``check`` tells who you are and whether you can read a secret, with its metadata
and whether each replica region answers;
``get`` reads one value through a ``SecretCache``, masked unless ``--reveal``;
``policy`` prints the least-privilege IAM policy for the features you use. Exit
codes: 0 readable, 1 not readable (denied, not found, deleted, ...), 2 usage or
configuration error (bad arguments, no credentials, no region, unknown profile).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import textwrap
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from .._core.models import AWSCURRENT, AWSPENDING, AWSPREVIOUS
from .._core.validate import check_secret_id, check_stage, check_version_id
from .._sources.botocore import CLIENT_SETTINGS
from .._version import __version__
from ..exceptions import InvalidSecretRequestError, SecretCacheError, SecretCredentialsError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sts import STSClient

    from .._cache import SecretCache
    from .._core.models import Secret

__all__ = ["main"]

EXIT_OK = 0
EXIT_NOT_READABLE = 1
EXIT_USAGE = 2
MASK = "********"
LABEL = 14

EPILOG = """\
examples:
  secretcache demo                          the walkthrough on an in-process moto backend
  secretcache check prod/db                 who am I, can I read prod/db, its metadata
  secretcache get prod/db                   metadata and a masked value
  secretcache get prod/db --field password --reveal
  secretcache get prod/db --stage AWSPREVIOUS --json
  secretcache check prod/db --profile ops --region eu-west-1
  secretcache get MySecret --endpoint-url http://127.0.0.1:5000   (moto server, LocalStack)
  secretcache policy prod/db --describe --prefetch   the IAM policy those features need

exit codes: 0 readable, 1 not readable (denied, not found, deleted, ...),
            2 usage or configuration error (bad arguments, no credentials or region)
"""


class UsageError(Exception):
    """A bad argument or configuration: exit code 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of exiting, so main() returns a code."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise UsageError(message)


# -- arguments ----------------------------------------------------------------------


#: Connection options: accepted before the command (``secretcache --region R get ID``)
#: as well as after it; given in both places, the one after the command wins.
CONNECTION = ("region", "profile", "endpoint_url")


def _common(parser: argparse.ArgumentParser, *, prefix: str = "") -> None:
    aws = parser.add_argument_group("AWS connection")
    aws.add_argument(
        "--region",
        dest=f"{prefix}region",
        metavar="REGION",
        help="AWS region (default: from the environment or profile)",
    )
    aws.add_argument(
        "--profile",
        dest=f"{prefix}profile",
        metavar="PROFILE",
        help="named profile from ~/.aws/config",
    )
    aws.add_argument(
        "--endpoint-url",
        dest=f"{prefix}endpoint_url",
        metavar="URL",
        type=_endpoint_url,
        help="endpoint for Secrets Manager and STS (VPC endpoint, moto server, LocalStack)",
    )


def _endpoint_url(value: str) -> str:
    """Accept an http(s) URL with a host; botocore would raise a bare ValueError later."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # an unclosed [ipv6 literal, a bad port
        usable = False
    if not usable:
        raise argparse.ArgumentTypeError(f"{value!r} is not an http:// or https:// URL")
    return value


def _merge_connection(args: argparse.Namespace) -> None:
    """Fold connection options given before the command into the command's own."""
    given = {name: getattr(args, f"before_{name}") for name in CONNECTION}
    if args.command == "demo":
        if any(value is not None for value in given.values()):
            raise UsageError(
                "demo runs on an in-process moto backend: --region, --profile and "
                "--endpoint-url do not apply"
            )
        return
    if args.command == "policy":
        if given["region"] is not None and not args.region:
            args.region = [given["region"]]
        if args.profile is None:
            args.profile = given["profile"]
        if given["endpoint_url"] is not None:
            raise UsageError("policy never calls Secrets Manager: --endpoint-url does not apply")
        return
    for name, value in given.items():
        if getattr(args, name) is None:
            setattr(args, name, value)


def _para(text: str) -> str:
    return textwrap.fill(text, width=78)


def build_parser() -> argparse.ArgumentParser:
    """Return the command's argument parser."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="secretcache",
        description="Read AWS Secrets Manager secrets through secretcache, and check access.",
        epilog=EPILOG,
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"secretcache {__version__}")
    _common(parser, prefix="before_")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo",
        help="replay the classic walkthrough on an in-process moto backend",
        description=_para(
            "Replay the classic Secrets Manager walkthrough in-process on moto, with IAM "
            "enforced: an authorized and an unauthorized role, the cache at work, a "
            "rotation and a scheduled deletion. Needs the 'demo' extra (moto); never "
            "contacts AWS."
        ),
        epilog="example:\n  secretcache demo --reveal",
        formatter_class=formatter,
    )
    demo.add_argument("--reveal", action="store_true", help="show the secret's value")

    check = commands.add_parser(
        "check",
        help="who am I, can I read SECRET_ID, and its metadata (never the value)",
        description=_para(
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
    _common(check)

    get = commands.add_parser(
        "get",
        help="read SECRET_ID (masked unless --reveal)",
        description=_para(
            "Read one version of a secret through a SecretCache and print its metadata. "
            "The value is masked (its type and length only) unless --reveal is given."
        ),
        epilog=(
            "examples:\n  secretcache get prod/db\n"
            "  secretcache get prod/db --field password --reveal\n"
            "  secretcache get prod/db --json --reveal | jq -r .value.username\n"
            "  secretcache get prod/db --version-id 01234567-89ab-cdef-0123-456789abcdef"
            "\n\nexit codes: 0 read, 1 not readable, 2 usage or configuration error"
        ),
        formatter_class=formatter,
    )
    get.add_argument("secret_id", metavar="SECRET_ID", help="secret name or ARN")
    which = get.add_mutually_exclusive_group()
    which.add_argument("--stage", metavar="S", help="version stage to read (default: AWSCURRENT)")
    which.add_argument("--version-id", metavar="V", help="read this VersionId instead of a stage")
    get.add_argument("--field", metavar="F", help="one field of the secret's JSON object")
    get.add_argument(
        "--json", action="store_true", help="print a JSON object (the value only with --reveal)"
    )
    get.add_argument("--reveal", action="store_true", help="print the value itself")
    _common(get)
    _add_policy(commands, formatter)
    return parser


def _add_policy(commands: Any, formatter: type[argparse.HelpFormatter]) -> None:
    policy = commands.add_parser(
        "policy",
        help="print the least-privilege IAM policy for reading SECRET_ID ... (JSON)",
        description=_para(
            "Print the IAM policy (JSON) that lets secretcache read these secrets with the "
            "features you name, and nothing more. A name becomes its ARN ending in -?????? "
            "(the six characters AWS appends); an ARN is used as given. Never calls Secrets "
            "Manager; without --account, STS GetCallerIdentity tells the account."
        ),
        epilog=(
            "examples:\n  secretcache policy prod/db\n"
            "  secretcache policy prod/db prod/api-key --describe --prefetch\n"
            "  secretcache policy prod/db --kms-key arn:aws:kms:eu-west-1:111122223333:key/ID"
            " --region eu-west-1 --region eu-central-1 --account 111122223333"
        ),
        formatter_class=formatter,
    )
    policy.add_argument("secret_ids", nargs="+", metavar="SECRET_ID", help="secret name or ARN")
    policy.add_argument(
        "--describe",
        action="store_true",
        help='revalidate="describe" or `secretcache check`: DescribeSecret too',
    )
    policy.add_argument(
        "--prefetch", action="store_true", help="prefetch([...]): BatchGetSecretValue too"
    )
    policy.add_argument(
        "--filters",
        action="store_true",
        help="prefetch(filters=...): BatchGetSecretValue and ListSecrets",
    )
    policy.add_argument(
        "--kms-key",
        metavar="ARN",
        action="append",
        default=[],
        help="ARN of the customer managed key the secrets use (repeat for several)",
    )
    policy.add_argument(
        "--region",
        metavar="R",
        action="append",
        default=[],
        help="a region the secrets are read in; repeat for replicas (default: configured)",
    )
    policy.add_argument(
        "--account", metavar="ID", help="account of secrets given by name (default: yours)"
    )
    policy.add_argument(
        "--profile",
        help="named profile whose account and region the policy is for (without --account)",
    )


def _valid(check: Callable[[Any], str], value: object) -> None:
    """Run one of the library's argument checks; a failure is a usage error."""
    try:
        check(value)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from exc


# -- AWS clients --------------------------------------------------------------------


def _clients(
    args: argparse.Namespace, region: str | None = None
) -> tuple[SecretsManagerClient, STSClient, str]:
    """Build Secrets Manager and STS clients from the common options (or in ``region``)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    if region is None and args.region and not _custom_endpoint(args):
        # Against AWS itself a mistyped --region is a usage error, not an outage (a custom
        # endpoint, moto or LocalStack, may answer in any region name).
        from .policy import check_region

        try:
            check_region(args.region)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    try:
        session = boto3.Session(profile_name=args.profile, region_name=region or args.region)
    except BotoCoreError as exc:  # ProfileNotFound and friends
        raise UsageError(str(exc)) from exc
    region = session.region_name
    if not region:
        raise UsageError("no AWS region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION")
    settings = dict(CLIENT_SETTINGS)
    settings["user_agent_extra"] += " secretcache-cli"
    config = Config(**settings)
    sm = session.client("secretsmanager", endpoint_url=args.endpoint_url, config=config)
    sts = session.client("sts", endpoint_url=args.endpoint_url, config=config)
    return sm, sts, region


def _custom_endpoint(args: argparse.Namespace) -> bool:
    import os

    named = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER")
    return bool(args.endpoint_url) or any(os.environ.get(name) for name in named)


# -- output -------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(text.split())


def describe_error(exc: SecretCacheError) -> str:
    """Return a one-line description: class name, code and message (never a value)."""
    code = f" [{exc.code}]" if exc.code else ""
    return f"{type(exc).__name__}{code}: {_one_line(exc.message)}"


def _exit_code(exc: SecretCacheError) -> int:
    if isinstance(exc, SecretCredentialsError):
        return EXIT_USAGE
    if isinstance(exc, InvalidSecretRequestError) and exc.code == "ParamValidationError":
        return EXIT_USAGE
    return EXIT_NOT_READABLE


def _row(out: TextIO, label: str, value: object) -> None:
    print(f"{label:<{LABEL}}{value}", file=out)


def _when(value: object) -> str:
    if not isinstance(value, datetime):
        return "-"
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _shape(value: object) -> str:
    """Describe a value without showing it: its type and length."""
    if isinstance(value, bytes):
        return f"binary, {len(value)} bytes"
    if isinstance(value, str):
        return f"string, {len(value)} chars"
    kinds = {bool: "boolean", int: "number", float: "number", dict: "object", list: "array"}
    kind = "null" if value is None else kinds.get(type(value), type(value).__name__)
    return f"JSON {kind}"


def _shown(value: object) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii") + "  (base64)"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _stage_order(stages: Sequence[str]) -> tuple[int, str]:
    rank = {AWSCURRENT: 0, AWSPENDING: 1, AWSPREVIOUS: 2}
    return min((rank.get(s, 3) for s in stages), default=4), ",".join(stages)


# -- check --------------------------------------------------------------------------


def _whoami(sts: STSClient, out: TextIO) -> None:
    from .._core.errors import mapping_errors

    try:
        with mapping_errors():
            identity = sts.get_caller_identity()
    except SecretCredentialsError:
        raise
    except SecretCacheError as exc:
        # STS may be unreachable (a Secrets Manager-only VPC endpoint): say so, go on.
        _row(out, "caller", f"unknown ({describe_error(exc)})")
        return
    _row(out, "caller", f"{identity['Arn']}  (account {identity['Account']})")


def _metadata(sm: SecretsManagerClient, secret_id: str, out: TextIO) -> Mapping[str, Any]:
    """Print what DescribeSecret tells; return its response (empty if it failed)."""
    from .._core.errors import mapping_errors

    try:
        with mapping_errors(secret_id=secret_id):
            meta: Mapping[str, Any] = sm.describe_secret(SecretId=secret_id)
    except SecretCacheError as exc:
        _row(out, "metadata", f"DescribeSecret failed: {describe_error(exc)}")
        return {}
    _row(out, "name", meta.get("Name", "-"))
    _row(out, "ARN", meta.get("ARN", "-"))
    if meta.get("Description"):
        _row(out, "description", meta["Description"])
    versions = sorted(
        (meta.get("VersionIdsToStages") or {}).items(), key=lambda item: _stage_order(item[1])
    )
    label = "versions"
    for version_id, stages in versions:
        _row(out, label, f"{version_id}  {', '.join(stages) or '(no stage)'}")
        label = ""
    if not versions:
        _row(out, "versions", "none")
    if meta.get("RotationEnabled"):
        rules = meta.get("RotationRules") or {}
        every = rules.get("ScheduleExpression") or (
            f"every {rules['AutomaticallyAfterDays']} days"
            if rules.get("AutomaticallyAfterDays")
            else "schedule unknown"
        )
        _row(out, "rotation", f"enabled, {every}")
        if meta.get("RotationLambdaARN"):
            _row(out, "", f"rotation function {meta['RotationLambdaARN']}")
        _row(out, "", f"last rotated {_when(meta.get('LastRotatedDate'))}")
        _row(out, "", f"next rotation {_when(meta.get('NextRotationDate'))}")
    else:
        _row(out, "rotation", "not enabled")
        if meta.get("LastRotatedDate"):  # rotated once, then switched off
            _row(out, "", f"last rotated {_when(meta['LastRotatedDate'])}")
    deleted = meta.get("DeletedDate")
    _row(
        out,
        "deletion",
        f"SCHEDULED ({_when(deleted)}); restore-secret undoes it" if deleted else "not scheduled",
    )
    _row(
        out,
        "KMS key",
        meta.get("KmsKeyId") or "aws/secretsmanager (the AWS managed key)",
    )
    _row(out, "last changed", _when(meta.get("LastChangedDate")))
    return meta


def _replicas(
    args: argparse.Namespace, meta: Mapping[str, Any], here: Secret | None, out: TextIO
) -> None:
    """Print the secret's replica regions: replication status, and whether each answers."""
    primary = meta.get("PrimaryRegion")
    if primary:
        answers = _answers_in(args, str(primary), here)
        _row(out, "primary", f"{primary} (this region holds a replica); {answers}")
    statuses = meta.get("ReplicationStatus") or []
    if not statuses:
        if meta and not primary:
            _row(out, "replicas", "none")
        return
    label = "replicas"
    for status in statuses:
        region = str(status.get("Region", "?"))
        state = f"{status.get('Status', '?')} ({_one_line(str(status.get('StatusMessage', '')))})"
        _row(out, label, f"{region}  {state}; {_answers_in(args, region, here)}")
        label = ""


def _answers_in(args: argparse.Namespace, region: str, here: Secret | None) -> str:
    """Read AWSCURRENT in ``region`` (the ARN rewritten for it); say how it went."""
    from .._core.regions import in_region
    from .._sources.botocore import BotocoreSource

    asked = in_region(here.arn if here is not None and here.arn else args.secret_id, region)
    try:
        client = _clients(args, region)[0]
        there = BotocoreSource(client).get_secret_value(asked, version_stage=AWSCURRENT)
    except UsageError as exc:
        return f"answers: not checked ({exc})"
    except SecretCacheError as exc:
        return f"answers: NO: {describe_error(exc)}"
    if here is None:
        return f"answers: yes, {there.version_id} (AWSCURRENT)"
    same = "the same version" if there.version_id == here.version_id else "ANOTHER version"
    return f"answers: yes, {there.version_id} (AWSCURRENT), {same} as here"


def _check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .._cache import SecretCache

    _valid(check_secret_id, args.secret_id)
    sm, sts, region = _clients(args)
    where = f"{region}" + (f" at {args.endpoint_url}" if args.endpoint_url else "")
    print(f"secretcache check {args.secret_id}", file=out)
    _row(out, "region", where)
    _whoami(sts, out)
    here: Secret | None = None
    with SecretCache(client=sm, jitter=0.0) as cache:
        try:
            secret = cache.get_secret(args.secret_id)
        except SecretCredentialsError:
            raise
        except SecretCacheError as exc:
            _row(out, "readable", f"NO: {describe_error(exc)}")
            failure: SecretCacheError | None = exc
        else:
            stages = ", ".join(secret.version_stages)
            _row(
                out,
                "readable",
                f"yes: GetSecretValue returned {secret.version_id} ({stages}), "
                f"{_shape(secret.value)}",
            )
            failure, here = None, secret
    meta = _metadata(sm, args.secret_id, out)
    _replicas(args, meta, here, out)
    if failure is None:
        print(f"result: {args.secret_id} is readable", file=out)
        return EXIT_OK
    print(f"result: {args.secret_id} is NOT readable ({type(failure).__name__})", file=out)
    return _exit_code(failure)


# -- get ----------------------------------------------------------------------------


def _get(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .._cache import SecretCache

    _valid(check_secret_id, args.secret_id)
    # No argparse default for --stage: a default equal to the given value would slip
    # past the --stage/--version-id exclusion (argparse compares by identity).
    stage = args.stage if args.stage is not None else AWSCURRENT
    if args.version_id is not None:
        _valid(check_version_id, args.version_id)
    else:
        _valid(check_stage, stage)
    if args.field is not None and not args.field:
        raise UsageError("--field must not be empty")
    sm, _, _ = _clients(args)
    # No frame here holds the value itself unless --reveal asked for it: a failure while
    # printing (a closed pipe) reaches error trackers with these frames' locals.
    with SecretCache(client=sm, jitter=0.0) as cache:
        secret = cache.get_secret(args.secret_id, stage, version_id=args.version_id)
        fields: list[str] | None = None
        if args.field is not None:
            shown = _Shown(
                cache.get_secret_field(
                    args.secret_id, args.field, stage, version_id=args.version_id
                ),
                reveal=args.reveal,
            )
        else:
            if not secret.is_binary:
                fields = _field_names(cache, args.secret_id, stage, args.version_id)
            shown = _Shown(secret.value, reveal=args.reveal, nested=fields is not None)
    if args.json:
        _print_json(args, secret, shown, fields, out)
    else:
        _print_block(args, secret, shown, fields, out)
    return EXIT_OK


class _Shown:
    """What ``get`` prints of a value: its shape, and the value only with --reveal."""

    __slots__ = ("json", "length", "shape", "text")

    def __init__(self, value: object, *, reveal: bool, nested: bool = False) -> None:
        self.shape = _shape(value)
        self.length = len(value) if isinstance(value, (str, bytes)) else None
        #: The block output's value line, and the --json document's value keys.
        self.text = _shown(value) if reveal else None
        self.json: dict[str, Any] = _revealed(value, nested) if reveal else {}

    def __repr__(self) -> str:
        return f"<{self.shape}, redacted>"


def _field_names(
    cache: SecretCache, secret_id: str, stage: str, version_id: str | None
) -> list[str] | None:
    """Return the sorted field names of a JSON object secret (None if it is not one)."""
    try:
        parsed = cache.get_secret_json(secret_id, stage, version_id=version_id)
    except SecretCacheError:
        return None  # not a JSON object: no field names to list
    return sorted(str(k) for k in parsed) if isinstance(parsed, dict) else None


def _revealed(value: object, nested: bool) -> dict[str, Any]:
    if isinstance(value, bytes):
        return {"value": base64.b64encode(value).decode("ascii"), "value_encoding": "base64"}
    if nested and isinstance(value, str):
        return {"value": json.loads(value)}  # a JSON object: nest it, jq-friendly
    return {"value": value}


def _print_json(
    args: argparse.Namespace,
    secret: Secret,
    shown: _Shown,
    fields: list[str] | None,
    out: TextIO,
) -> None:
    doc: dict[str, Any] = {
        "secret_id": secret.secret_id,
        "name": secret.name,
        "arn": secret.arn,
        "version_id": secret.version_id,
        "version_stages": list(secret.version_stages),
        "created_date": secret.created_date.isoformat() if secret.created_date else None,
        "type": "binary" if secret.is_binary else "string",
    }
    if args.field is not None:
        doc["field"] = args.field
    if fields is not None:
        doc["fields"] = fields
    if shown.length is not None:
        doc["length"] = shown.length
    doc.update(shown.json)
    print(json.dumps(doc, indent=2), file=out)


def _print_block(
    args: argparse.Namespace,
    secret: Secret,
    shown: _Shown,
    fields: list[str] | None,
    out: TextIO,
) -> None:
    _row(out, "name", secret.name)
    _row(out, "ARN", secret.arn)
    _row(out, "VersionId", secret.version_id)
    _row(out, "stages", ", ".join(secret.version_stages) or "(none)")
    _row(out, "created", _when(secret.created_date))
    if fields is not None:
        _row(out, "fields", ", ".join(fields) or "(none)")
    if args.field is not None:
        _row(out, "field", args.field)
    if shown.text is not None:
        _row(out, "value", shown.text)
    else:
        _row(out, "value", f"{MASK}  ({shown.shape}; --reveal to show)")


# -- policy -------------------------------------------------------------------------


def _policy(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .policy import build_policy, check_options

    for secret_id in args.secret_ids:
        _valid(check_secret_id, secret_id)
    try:
        check_options(args.region, args.account, args.kms_key)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    names = not all(s.startswith("arn:") for s in args.secret_ids)
    regions, account = args.region, args.account
    if names and (not regions or account is None):
        regions, account = _where_am_i(regions, account, args.profile)
    try:
        doc = build_policy(
            args.secret_ids,
            describe=args.describe,
            prefetch=args.prefetch,
            filters=args.filters,
            kms_keys=args.kms_key,
            regions=regions,
            account=account,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    print(json.dumps(doc, indent=2), file=out)
    return EXIT_OK


def _where_am_i(
    regions: list[str], account: str | None, profile: str | None
) -> tuple[list[str], str]:
    """Fill in the profile's region and account (STS GetCallerIdentity needs no permission)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    from .._core.errors import mapping_errors

    try:
        session = boto3.Session(profile_name=profile)
    except BotoCoreError as exc:  # ProfileNotFound and friends
        raise UsageError(str(exc)) from exc
    if not regions:
        if not session.region_name:
            raise UsageError("no AWS region: pass --region R (once per region read in)")
        regions = [session.region_name]
    if account is None:
        try:
            with mapping_errors():
                sts = session.client("sts", config=Config(**CLIENT_SETTINGS))
                account = str(sts.get_caller_identity()["Account"])
        except SecretCacheError as exc:
            raise UsageError(
                f"cannot tell your account ({describe_error(exc)}): pass --account ID"
            ) from exc
    return regions, account


# -- demo ---------------------------------------------------------------------------


def _demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .demo import MissingMotoError, run

    try:
        return run(reveal=args.reveal, out=out)
    except MissingMotoError as exc:
        raise UsageError(str(exc)) from exc


# -- entry point --------------------------------------------------------------------

COMMANDS = {"check": _check, "demo": _demo, "get": _get, "policy": _policy}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    out, err = sys.stdout, sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        _merge_connection(args)
    except UsageError as exc:
        print(f"secretcache: error: {exc}", file=err)
        return EXIT_USAGE
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    try:
        return COMMANDS[args.command](args, out, err)
    except UsageError as exc:
        print(f"secretcache: error: {exc}", file=err)
        return EXIT_USAGE
    except SecretCacheError as exc:
        # str() adds the secret id and stage; no message ever holds a value.
        print(f"secretcache: {type(exc).__name__} {_one_line(str(exc))}", file=err)
        return _exit_code(exc)
