"""Checks of the command's free-form options, run before anything asks AWS.

A region must be one where botocore's endpoint data lists Secrets Manager (a partition's
name pattern alone would accept ``us-eest-1``), loaded only when a command needs it; an
account id is 12 ASCII digits; a KMS key is named by its ARN; an endpoint is an http(s)
URL. Each check raises ValueError (argparse's ArgumentTypeError for ``--endpoint-url``)
whose message names the option and the value; the commands turn it into exit code 2.
"""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = [
    "KEY_ARN",
    "Partitions",
    "check_account",
    "check_kms_key",
    "check_options",
    "check_region",
    "endpoint_url",
]

KEY_ARN = re.compile(
    r"arn:(?P<partition>[a-z-]+):kms:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"key/(?P<id>[A-Za-z0-9-]+)"
)
_ACCOUNT = re.compile(r"[0-9]{12}")


class Partitions:
    """Tell each region's partition from botocore's endpoint data (loaded once per command).

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
    return Partitions()(region)


def check_account(account: str) -> str:
    """Return ``account`` if it is an AWS account id (12 digits); ValueError naming it if not."""
    if not _ACCOUNT.fullmatch(account):
        raise ValueError(f"--account {account!r}: an AWS account id is 12 digits")
    return account


def check_kms_key(key: str, partition_of: Partitions | None = None) -> tuple[str, str]:
    """Return (region, key id) of a KMS key ARN; ValueError naming a malformed one."""
    arn = KEY_ARN.fullmatch(key)
    if arn is None:
        raise ValueError(
            f"--kms-key {key!r}: give the key's ARN (arn:aws:kms:REGION:ACCOUNT:key/ID); "
            "an alias or a bare key id cannot scope kms:Decrypt"
        )
    partition_of = partition_of or Partitions()
    if partition_of(arn["region"], f"--kms-key {key!r}: region") != arn["partition"]:
        raise ValueError(f"--kms-key {key!r}: region and partition disagree")
    return arn["region"], arn["id"]


def check_options(regions: Sequence[str], account: str | None, kms_keys: Sequence[str]) -> None:
    """Check the policy command's free-form options at once; ValueError naming the first bad one.

    Run before anything asks AWS: a mistyped region would otherwise reach STS first.
    """
    partition_of = Partitions()
    for region in regions:
        partition_of(region)
    if account is not None:
        check_account(account)
    for key in kms_keys:
        check_kms_key(key, partition_of)


def endpoint_url(value: str) -> str:
    """Accept an http(s) URL with a host (argparse ``type=``); botocore would raise later."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # an unclosed [ipv6 literal, a bad port
        usable = False
    if not usable:
        raise argparse.ArgumentTypeError(f"{value!r} is not an http:// or https:// URL")
    return value
