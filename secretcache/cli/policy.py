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

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .._core.identity import looks_suffixed

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = [
    "FEATURES",
    "Feature",
    "Need",
    "build_policy",
    "check_account",
    "check_kms_key",
    "check_options",
    "check_region",
]

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
_KEY_ARN = re.compile(
    r"arn:(?P<partition>[a-z-]+):kms:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"key/(?P<id>[A-Za-z0-9-]+)"
)
_ACCOUNT = re.compile(r"[0-9]{12}")
_SID = {
    "secret": "ReadTheseSecrets",
    "*": "ActionsWithoutResourceArns",
    "key": "DecryptViaSecretsManager",
}


class _Partitions:
    """Tell each region's partition from botocore's endpoint data (loaded once per policy).

    Only regions where botocore's data lists Secrets Manager count: a partition's name
    pattern alone (``us-eest-1`` looks like an ``aws`` region) would accept any typo.
    """

    def __init__(self) -> None:
        import botocore
        from botocore.loaders import create_loader
        from botocore.regions import EndpointResolver

        # The data files alone: a session would also read the profile (AWS_PROFILE),
        # whose errors belong to the command's own look-up of the account.
        resolver = EndpointResolver(create_loader().load_data("endpoints"))
        self.botocore_version = botocore.__version__
        self.regions = {
            region: partition
            for partition in resolver.get_available_partitions()
            for region in resolver.get_available_endpoints("secretsmanager", partition)
        }

    def __call__(self, region: str, what: str = "--region") -> str:
        partition = self.regions.get(region)
        if partition is None:
            close = _nearest(region, self.regions)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise ValueError(
                f"{what} {region!r}: unknown AWS region (not in botocore "
                f"{self.botocore_version}'s Secrets Manager endpoints){hint}"
            )
        return partition


def _nearest(word: str, candidates: Iterable[str]) -> list[str]:
    """Return the candidates at the smallest edit distance from ``word`` (at most 2)."""
    by_distance: dict[int, list[str]] = {}
    for candidate in sorted(candidates):
        by_distance.setdefault(_distance(word, candidate), []).append(candidate)
    best = min(by_distance, default=3)
    return by_distance[best][:3] if best <= 2 else []


def _distance(a: str, b: str) -> int:
    """Levenshtein distance: a typo in a region name is one or two edits."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def check_region(region: str) -> str:
    """Return the partition of a region Secrets Manager serves; ValueError naming it if none."""
    return _Partitions()(region)


def check_account(account: str) -> str:
    """Return ``account`` if it is an AWS account id (12 digits); ValueError naming it if not."""
    if not _ACCOUNT.fullmatch(account):
        raise ValueError(f"--account {account!r}: an AWS account id is 12 digits")
    return account


def check_options(regions: Sequence[str], account: str | None, kms_keys: Sequence[str]) -> None:
    """Check the policy command's free-form options at once; ValueError naming the first bad one.

    Run before anything asks AWS: a mistyped region would otherwise reach STS first.
    """
    partition_of = _Partitions()
    for region in regions:
        partition_of(region)
    if account is not None:
        check_account(account)
    for key in kms_keys:
        check_kms_key(key, partition_of)


def check_kms_key(key: str, partition_of: _Partitions | None = None) -> tuple[str, str]:
    """Return (region, key id) of a KMS key ARN; ValueError naming a malformed one."""
    arn = _KEY_ARN.fullmatch(key)
    if arn is None:
        raise ValueError(
            f"--kms-key {key!r}: give the key's ARN (arn:aws:kms:REGION:ACCOUNT:key/ID); "
            "an alias or a bare key id cannot scope kms:Decrypt"
        )
    partition_of = partition_of or _Partitions()
    if partition_of(arn["region"], f"--kms-key {key!r}: region") != arn["partition"]:
        raise ValueError(f"--kms-key {key!r}: region and partition disagree")
    return arn["region"], arn["id"]


def _secret_arns(
    secret_id: str, regions: Sequence[str], account: str | None, partition_of: _Partitions
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
    kms_keys: Iterable[str], regions: Sequence[str], partition_of: _Partitions
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
    partition_of = _Partitions()
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
