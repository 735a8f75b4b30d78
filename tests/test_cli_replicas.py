"""`secretcache check` on a replicated secret: each replica region, its status, its answer."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from secretcache.cli import main

if TYPE_CHECKING:
    import boto3


@pytest.fixture
def replicated(boto_session: boto3.Session, moto_backend: None, canary: str) -> str:
    """prod/db in us-east-1, replicated to us-west-2, and to eu-west-1 where it fails."""
    # eu-west-1 already holds another secret of that name: replication there fails.
    other = boto_session.client("secretsmanager", region_name="eu-west-1")
    other.create_secret(Name="prod/db", SecretString="someone else's")
    east = boto_session.client("secretsmanager", region_name="us-east-1")
    created = east.create_secret(
        Name="prod/db",
        SecretString=canary,
        AddReplicaRegions=[{"Region": "us-west-2"}, {"Region": "eu-west-1"}],
    )
    return created["VersionId"]


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["check", *argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_check_lists_each_replica_its_replication_status_and_whether_it_answers(
    replicated: str, capsys: pytest.CaptureFixture[str], canary: str
) -> None:
    code, out = check(capsys, "prod/db", "--region", "us-east-1")
    assert code == 0
    assert re.search(
        rf"replicas\s+us-west-2  InSync \(Replication succeeded\); answers: yes, {replicated} "
        r"\(AWSCURRENT\), the same version as here",
        out,
    )
    assert re.search(
        r"\n\s+eu-west-1  Failed \(Replication failed: .*\); answers: NO: SecretNotFoundError",
        out,
    )
    assert canary not in out


def test_check_in_a_replica_region_names_the_primary_and_whether_it_answers(
    replicated: str, capsys: pytest.CaptureFixture[str], canary: str
) -> None:
    code, out = check(capsys, "prod/db", "--region", "us-west-2")
    assert code == 0
    assert re.search(r"ARN\s+arn:aws:secretsmanager:us-west-2:", out)
    assert re.search(
        rf"primary\s+us-east-1 \(this region holds a replica\); answers: yes, {replicated}", out
    )
    assert canary not in out


def test_check_says_when_a_secret_has_no_replica(
    boto_session: boto3.Session, moto_backend: None, capsys: pytest.CaptureFixture[str]
) -> None:
    east = boto_session.client("secretsmanager", region_name="us-east-1")
    east.create_secret(Name="single", SecretString="x")
    code, out = check(capsys, "single", "--region", "us-east-1")
    assert code == 0
    assert re.search(r"replicas\s+none\n", out)
