"""Least-privilege IAM policies: which actions each feature needs, and the document for a choice.

``FEATURES`` is the one table of what each feature of secretcache asks AWS for, on which
resource, and what happens without it (docs/iam.md's table is checked against it).
``build_policy`` turns a choice of features into an IAM policy document; it does no I/O
(the CLI finds the default account and region).

Resource rules, from IAM's matching (``*`` any run of characters, ``?`` exactly one):

- a secret name becomes its ARN with ``-??????``: Secrets Manager appends a hyphen and six
  random characters, and ``-*`` would also match every longer name (``prod/db-*`` grants
  ``prod/db-admin``); an ARN is used as given (a partial ARN gets ``-??????``);
- each region given is one more ARN per secret (replicas have the same name and suffix);
- ``"*"`` only for actions that take no resource ARN (BatchGetSecretValue, ListSecrets);
- kms:Decrypt on the key's ARN, only when Secrets Manager asks on the caller's behalf
  (``kms:ViaService``) for one of these secrets (``kms:EncryptionContext:SecretARN``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .._core.identity import looks_suffixed
from .._core.validate import check_secret_id
from ._common import EXIT_OK, UsageError, para, valid, where_am_i
from ._options import Partitions, check_account, check_kms_key, check_options

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterable, Sequence
    from typing import TextIO

__all__ = ["FEATURES", "Feature", "Need", "add_parser", "build_policy", "run"]

GET = "secretsmanager:GetSecretValue"
DESCRIBE = "secretsmanager:DescribeSecret"
BATCH = "secretsmanager:BatchGetSecretValue"
LIST = "secretsmanager:ListSecrets"
DECRYPT = "kms:Decrypt"

Resource = Literal["secret", "*", "key"]


@dataclass(frozen=True, slots=True)
class Need:
    """One IAM action a feature needs, the resource it names, and what happens without it."""

    action: str
    resource: Resource  # "secret": the secrets' ARNs; "*": no ARN; "key": the KMS key's ARN
    without: str


@dataclass(frozen=True, slots=True)
class Feature:
    """A feature of secretcache, the ``policy`` option that selects it, and its needs."""

    name: str
    option: str  # the ``policy`` option that adds it; "" when always included
    needs: tuple[Need, ...]


_DENIED = "raises `SecretAccessDeniedError` and drops the cached value"

#: What each feature asks AWS for. The single source of truth for the policy command.
FEATURES: tuple[Feature, ...] = (
    Feature(
        "reads: `get_secret*`, `refresh`, `@inject_secret`, `AsyncSecretCache`, Powertools",
        "",
        (Need(GET, "secret", f"every read {_DENIED}"),),
    ),
    Feature(
        "`rotation_candidate` (AWSCURRENT, then AWSPENDING)",
        "",
        (Need(GET, "secret", _DENIED),),
    ),
    Feature(
        '`revalidate="describe"`',
        "--describe",
        (
            Need(
                DESCRIBE, "secret", 'falls back to `"get"` for that secret, silently and for good'
            ),
            Need(GET, "secret", f"the first read {_DENIED}"),
        ),
    ),
    Feature(
        "`secretcache check`",
        "--describe",
        (
            Need(GET, "secret", "`readable  NO: SecretAccessDeniedError`, exit 1"),
            Need(DESCRIBE, "secret", "`metadata  DescribeSecret failed`; still exit 0"),
        ),
    ),
    Feature(
        "`prefetch([...])`",
        "--prefetch",
        (
            Need(BATCH, "*", "falls back to one GetSecretValue per id: same result, more calls"),
            Need(
                GET, "secret", "AWS checks it per secret: that id maps to `SecretAccessDeniedError`"
            ),
        ),
    ),
    Feature(
        "`prefetch(filters=...)`",
        "--filters",
        (
            Need(BATCH, "*", "raises `SecretAccessDeniedError` (no fallback: there are no ids)"),
            Need(LIST, "*", "raises `SecretAccessDeniedError`"),
            Need(GET, "secret", "AWS checks it per secret: that secret maps to the error"),
        ),
    ),
    Feature(
        "a customer managed KMS key",
        "--kms-key ARN",
        (Need(DECRYPT, "key", "reads raise `SecretAccessDeniedError`: the KMS key refused"),),
    ),
    Feature(
        "replica regions (failover): one `--region` per region, primary included",
        "--region R",
        (Need(GET, "secret", "reads in that region are denied: no failover there"),),
    ),
)

# A Secrets Manager name: letters, digits and /_+=.@- (never IAM's * or ?).
_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")
_SECRET_ARN = re.compile(
    r"arn:(?P<partition>[a-z-]+):secretsmanager:(?P<region>[a-z0-9-]+):"
    r"(?P<account>[0-9]{12}):secret:(?P<name>[A-Za-z0-9/_+=.@-]+)"
)
_SID = {
    "secret": "ReadTheseSecrets",
    "*": "ActionsWithoutResourceArns",
    "key": "DecryptViaSecretsManager",
}


def _secret_arns(
    secret_id: str, regions: Sequence[str], account: str | None, partition_of: Partitions
) -> list[tuple[str, str]]:
    """Return (region, ARN pattern) for one secret in each region it is read in."""
    arn = _SECRET_ARN.fullmatch(secret_id)
    if arn is None:
        if not _NAME.fullmatch(secret_id):
            raise ValueError(
                f"{secret_id!r} is neither a secret name (letters, digits, /_+=.@-) nor a "
                "secret ARN; IAM would read * and ? in it as wildcards"
            )
        if account is None:
            raise ValueError(f"{secret_id!r} is a name: its ARN needs an account (--account)")
        if not regions:
            raise ValueError(f"{secret_id!r} is a name: its ARN needs a region (--region)")
        where = [(r, partition_of(r), account) for r in regions]
        name = f"{secret_id}-??????"
    else:
        own = arn["region"]
        if partition_of(own, f"{secret_id!r}: region") != arn["partition"]:
            raise ValueError(f"{secret_id!r}: region {own} is not in partition {arn['partition']}")
        where = [(r, partition_of(r), arn["account"]) for r in dict.fromkeys([own, *regions])]
        if any(p != arn["partition"] for _, p, _ in where):
            raise ValueError(f"{secret_id!r}: every --region must be in {arn['partition']}")
        # A full ARN ends in the six characters AWS appended; a partial one does not.
        name = arn["name"] if looks_suffixed(arn["name"]) else f"{arn['name']}-??????"
    return [(r, f"arn:{p}:secretsmanager:{r}:{a}:secret:{name}") for r, p, a in where]


def _key_arns(
    kms_keys: Iterable[str], regions: Sequence[str], partition_of: Partitions
) -> list[tuple[str, str]]:
    """Return (region, key ARN) for each key; a multi-Region key is named in every region."""
    found: dict[str, str] = {}
    for key in kms_keys:
        region, key_id = check_kms_key(key, partition_of)
        if region not in regions:
            raise ValueError(
                f"--kms-key {key!r} is in {region}, where no secret is read: add --region {region}"
            )
        found.setdefault(key, region)
        if key_id.startswith("mrk-"):  # replicas of a multi-Region key share its id
            for other in regions:
                found.setdefault(key.replace(f":{region}:", f":{other}:", 1), other)
    return [(region, key) for key, region in found.items()]


def _decrypt_condition(
    keys: Sequence[tuple[str, str]], secrets: Sequence[tuple[str, str]]
) -> dict[str, Any]:
    """Limit kms:Decrypt to Secrets Manager in the keys' regions, for these secrets only."""
    regions = dict.fromkeys(region for region, _ in keys)
    services = [f"secretsmanager.{region}.amazonaws.com" for region in regions]
    arns = list(dict.fromkeys(arn for region, arn in secrets if region in regions))
    return {
        "StringEquals": {"kms:ViaService": _one_or_many(services)},
        "StringLike": {"kms:EncryptionContext:SecretARN": _one_or_many(arns)},
    }


def _one_or_many(items: Sequence[str]) -> str | list[str]:
    return items[0] if len(items) == 1 else list(items)


def build_policy(
    secret_ids: Sequence[str],
    *,
    describe: bool = False,
    prefetch: bool = False,
    filters: bool = False,
    kms_keys: Sequence[str] = (),
    regions: Sequence[str] = (),
    account: str | None = None,
) -> dict[str, Any]:
    """Return the least-privilege IAM policy document for reading ``secret_ids``.

    ``regions``: every region the secrets are read in (primary and replicas); a name is
    granted in each, an ARN in its own region and each of these. ``account`` is needed
    for names. ``kms_keys``: the ARNs of the customer managed keys the secrets use.
    ValueError for anything that cannot be scoped.
    """
    if isinstance(secret_ids, str) or not secret_ids:
        raise ValueError("name at least one secret")
    if account is not None:
        check_account(account)
    regions = list(dict.fromkeys(regions))
    partition_of = Partitions()
    for region in regions:
        partition_of(region)
    flags = {"--describe": describe, "--prefetch": prefetch, "--filters": filters}
    chosen = {"", "--region", *(flag for flag, on in flags.items() if on)}
    chosen |= {"--kms-key"} if kms_keys else set()
    actions: dict[Resource, set[str]] = {"secret": set(), "*": set(), "key": set()}
    for feature in FEATURES:
        if feature.option.split(" ")[0] in chosen:
            for need in feature.needs:
                actions[need.resource].add(need.action)

    secrets = [
        arn
        for sid in dict.fromkeys(secret_ids)
        for arn in _secret_arns(sid, regions, account, partition_of)
    ]
    keys = _key_arns(kms_keys, list(dict.fromkeys(r for r, _ in secrets)), partition_of)
    resources: dict[Resource, list[str]] = {
        "secret": list(dict.fromkeys(arn for _, arn in secrets)),
        "*": ["*"],
        "key": [arn for _, arn in keys],
    }
    statements = []
    for kind in ("secret", "*", "key"):
        if actions[kind]:
            statement: dict[str, Any] = {
                "Sid": _SID[kind],
                "Effect": "Allow",
                "Action": _one_or_many(sorted(actions[kind])),
                "Resource": _one_or_many(resources[kind]),
            }
            if kind == "key":
                statement["Condition"] = _decrypt_condition(keys, secrets)
            statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


# -- the `secretcache policy` subcommand ----------------------------------------


def add_parser(commands: Any, formatter: type[argparse.HelpFormatter]) -> None:
    """Add the ``policy`` subcommand to ``commands``."""
    policy = commands.add_parser(
        "policy",
        help="print the least-privilege IAM policy for reading SECRET_ID ... (JSON)",
        description=para(
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


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    for secret_id in args.secret_ids:
        valid(check_secret_id, secret_id)
    try:
        check_options(args.region, args.account, args.kms_key)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    names = not all(s.startswith("arn:") for s in args.secret_ids)
    regions, account = args.region, args.account
    if names and (not regions or account is None):
        regions, account = where_am_i(regions, account, args.profile)
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
