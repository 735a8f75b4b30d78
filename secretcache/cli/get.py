"""``secretcache get SECRET_ID``: read one value through a SecretCache, masked unless --reveal."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any, TextIO

from .._core.models import AWSCURRENT
from .._core.validate import check_secret_id, check_stage, check_version_id
from ..exceptions import SecretCacheError

if TYPE_CHECKING:
    import argparse

    from .._cache import SecretCache
    from .._core.models import Secret

from ._common import (
    EXIT_OK,
    MASK,
    UsageError,
    clients,
    connection_options,
    para,
    printable,
    row,
    shape_of,
    valid,
    when,
)

__all__ = ["add_parser", "run"]


def add_parser(commands: Any, formatter: type[argparse.HelpFormatter]) -> None:
    """Add the ``get`` subcommand to ``commands``."""
    get = commands.add_parser(
        "get",
        help="read SECRET_ID (masked unless --reveal)",
        description=para(
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
    connection_options(get)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .._cache import SecretCache

    valid(check_secret_id, args.secret_id)
    # No argparse default for --stage: a default equal to the given value would slip
    # past the --stage/--version-id exclusion (argparse compares by identity).
    stage = args.stage if args.stage is not None else AWSCURRENT
    if args.version_id is not None:
        valid(check_version_id, args.version_id)
    else:
        valid(check_stage, stage)
    if args.field is not None and not args.field:
        raise UsageError("--field must not be empty")
    sm, _, _ = clients(args)
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
        self.shape = shape_of(value)
        self.length = len(value) if isinstance(value, (str, bytes)) else None
        #: The block output's value line, and the --json document's value keys.
        self.text = printable(value) if reveal else None
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
    row(out, "name", secret.name)
    row(out, "ARN", secret.arn)
    row(out, "VersionId", secret.version_id)
    row(out, "stages", ", ".join(secret.version_stages) or "(none)")
    row(out, "created", when(secret.created_date))
    if fields is not None:
        row(out, "fields", ", ".join(fields) or "(none)")
    if args.field is not None:
        row(out, "field", args.field)
    if shown.text is not None:
        row(out, "value", shown.text)
    else:
        row(out, "value", f"{MASK}  ({shown.shape}; --reveal to show)")
