"""What the ``secretcache`` subcommands share: exit codes, usage errors, clients, output."""

from __future__ import annotations

import argparse
import base64
import json
import sys
import textwrap
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from .._sources.botocore import CLIENT_SETTINGS
from ..exceptions import InvalidSecretRequestError, SecretCacheError, SecretCredentialsError
from ._options import check_region, endpoint_url

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sts import STSClient


__all__ = [
    "CONNECTION",
    "EXIT_NOT_READABLE",
    "EXIT_OK",
    "EXIT_USAGE",
    "LABEL",
    "MASK",
    "UsageError",
    "clients",
    "connection_options",
    "describe_error",
    "exit_code",
    "one_line",
    "para",
    "printable",
    "row",
    "shape_of",
    "valid",
    "when",
    "where_am_i",
]


EXIT_OK = 0


EXIT_NOT_READABLE = 1


EXIT_USAGE = 2


MASK = "********"


LABEL = 14


class UsageError(Exception):
    """A bad argument or configuration: exit code 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of exiting, so main() returns a code."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise UsageError(message)


#: Connection options: accepted before the command (``secretcache --region R get ID``)
#: as well as after it; given in both places, the one after the command wins.
CONNECTION = ("region", "profile", "endpoint_url")


def connection_options(parser: argparse.ArgumentParser, *, prefix: str = "") -> None:
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
        type=endpoint_url,
        help="endpoint for Secrets Manager and STS (VPC endpoint, moto server, LocalStack)",
    )


def para(text: str) -> str:
    return textwrap.fill(text, width=78)


def valid(check: Callable[[Any], str], value: object) -> None:
    """Run one of the library's argument checks; a failure is a usage error."""
    try:
        check(value)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from exc


def clients(
    args: argparse.Namespace, region: str | None = None
) -> tuple[SecretsManagerClient, STSClient, str]:
    """Build Secrets Manager and STS clients from the common options (or in ``region``)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    if region is None and args.region and not _custom_endpoint(args):
        # Against AWS itself a mistyped --region is a usage error, not an outage (a custom
        # endpoint, moto or LocalStack, may answer in any region name).
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


def where_am_i(
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


def one_line(text: str) -> str:
    return " ".join(text.split())


def describe_error(exc: SecretCacheError) -> str:
    """Return a one-line description: class name, code and message (never a value)."""
    code = f" [{exc.code}]" if exc.code else ""
    return f"{type(exc).__name__}{code}: {one_line(exc.message)}"


def exit_code(exc: SecretCacheError) -> int:
    if isinstance(exc, SecretCredentialsError):
        return EXIT_USAGE
    if isinstance(exc, InvalidSecretRequestError) and exc.code == "ParamValidationError":
        return EXIT_USAGE
    return EXIT_NOT_READABLE


def row(out: TextIO, label: str, value: object) -> None:
    print(f"{label:<{LABEL}}{value}", file=out)


def when(value: object) -> str:
    if not isinstance(value, datetime):
        return "-"
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def shape_of(value: object) -> str:
    """Describe a value without showing it: its type and length."""
    if isinstance(value, bytes):
        return f"binary, {len(value)} bytes"
    if isinstance(value, str):
        return f"string, {len(value)} chars"
    kinds = {bool: "boolean", int: "number", float: "number", dict: "object", list: "array"}
    kind = "null" if value is None else kinds.get(type(value), type(value).__name__)
    return f"JSON {kind}"


def printable(value: object) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii") + "  (base64)"
    if isinstance(value, str):
        return value
    return json.dumps(value)
