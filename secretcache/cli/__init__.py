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
import sys
from typing import TYPE_CHECKING, TextIO

from .._version import __version__
from ..exceptions import SecretCacheError
from . import check, get, policy
from ._common import (
    CONNECTION,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    _Parser,
    connection_options,
    describe_error,
    exit_code,
    one_line,
    para,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["build_parser", "describe_error", "main"]


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
    connection_options(parser, prefix="before_")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    demo = commands.add_parser(
        "demo",
        help="replay the classic walkthrough on an in-process moto backend",
        description=para(
            "Replay the classic Secrets Manager walkthrough in-process on moto, with IAM "
            "enforced: an authorized and an unauthorized role, the cache at work, a "
            "rotation and a scheduled deletion. Needs the 'demo' extra (moto); never "
            "contacts AWS."
        ),
        epilog="example:\n  secretcache demo --reveal",
        formatter_class=formatter,
    )
    demo.add_argument("--reveal", action="store_true", help="show the secret's value")
    check.add_parser(commands, formatter)
    get.add_parser(commands, formatter)
    policy.add_parser(commands, formatter)
    return parser


def _demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .demo import MissingMotoError, run

    try:
        return run(reveal=args.reveal, out=out)
    except MissingMotoError as exc:
        raise UsageError(str(exc)) from exc


COMMANDS = {"check": check.run, "demo": _demo, "get": get.run, "policy": policy.run}


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
        print(f"secretcache: {type(exc).__name__} {one_line(str(exc))}", file=err)
        return exit_code(exc)
