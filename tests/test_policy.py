"""`secretcache policy`: resource patterns under IAM's matching rules, options, bad input."""

from __future__ import annotations

import itertools
import json
from typing import TYPE_CHECKING, Any

import pytest
from iam_model import Policy, allows, iam_match

from secretcache.cli import main

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

ACCOUNT = "123456789012"
WHERE = ["--region", "us-east-1", "--account", ACCOUNT]
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
GET = "secretsmanager:GetSecretValue"


@pytest.fixture
def policy(capsys: pytest.CaptureFixture[str]) -> Any:
    """Run `secretcache policy ARGS`; return the parsed JSON (stdout holds nothing else)."""

    def run(*argv: str) -> Policy:
        code = main(["policy", *argv])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        assert captured.err == ""
        parsed: Policy = json.loads(captured.out)
        return parsed

    return run


@pytest.fixture
def refused(capsys: pytest.CaptureFixture[str]) -> Any:
    """Run `secretcache policy ARGS` expecting exit 2; return stderr."""

    def run(*argv: str) -> str:
        code = main(["policy", *argv])
        captured = capsys.readouterr()
        assert code == 2
        assert captured.out == ""
        return captured.err

    return run


def _statement(doc: Policy, sid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in doc["Statement"] if s["Sid"] == sid)
    return found


# -- IAM's wildcards ------------------------------------------------------------------------


def test_iam_wildcards_question_mark_is_one_character_star_any_run() -> None:
    assert iam_match("prod/db-??????", "prod/db-AbCdEf")
    assert not iam_match("prod/db-??????", "prod/db-admin-AbCdEf")
    assert not iam_match("prod/db-??????", "prod/db-AbCdE")
    assert iam_match("prod/db-*", "prod/db-admin-AbCdEf")  # why the old README was wrong
    assert not iam_match("prod/db.??????", "prod/dbxAbCdEf")  # other characters are literal


def test_a_name_grants_that_secret_and_no_longer_name(
    sm: SecretsManagerClient, policy: Any
) -> None:
    db = sm.create_secret(Name="prod/db", SecretString="x")["ARN"]
    admin = sm.create_secret(Name="prod/db-admin", SecretString="x")["ARN"]
    doc = policy("prod/db", "--kms-key", KEY, *WHERE)

    assert allows(doc, GET, db)
    assert not allows(doc, GET, admin)
    context = _statement(doc, "DecryptViaSecretsManager")["Condition"]["StringLike"]
    pattern = context["kms:EncryptionContext:SecretARN"]
    assert iam_match(pattern, db)
    assert not iam_match(pattern, admin)


def test_an_arn_is_granted_exactly_and_a_partial_arn_gets_the_six_characters(
    sm: SecretsManagerClient, policy: Any
) -> None:
    db = sm.create_secret(Name="prod/db", SecretString="x")["ARN"]
    admin = sm.create_secret(Name="prod/db-admin", SecretString="x")["ARN"]
    exact = policy(db)
    assert _statement(exact, "ReadTheseSecrets")["Resource"] == db

    partial = policy(f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/db")
    resource = _statement(partial, "ReadTheseSecrets")["Resource"]
    assert resource == f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/db-??????"
    assert allows(partial, GET, db)
    assert not allows(partial, GET, admin)


def test_each_region_adds_the_replica_arn(sm: SecretsManagerClient, policy: Any) -> None:
    primary = sm.create_secret(
        Name="prod/db", SecretString="x", AddReplicaRegions=[{"Region": "us-west-2"}]
    )["ARN"]
    replica = primary.replace(":us-east-1:", ":us-west-2:")
    doc = policy("prod/db", "--region", "us-east-1", "--region", "us-west-2", "--account", ACCOUNT)
    assert allows(doc, GET, primary)
    assert allows(doc, GET, replica)
    assert not allows(policy("prod/db", *WHERE), GET, replica)
    # An ARN names its own region; each --region adds the same ARN there.
    assert allows(policy(primary, "--region", "us-west-2"), GET, replica)


def test_star_only_for_actions_that_take_no_arn(policy: Any) -> None:
    flags = ["--describe", "--prefetch", "--filters"]
    for n in range(len(flags) + 1):
        for chosen in itertools.combinations(flags, n):
            doc = policy("prod/db", *chosen, "--kms-key", KEY, *WHERE)
            for statement in doc["Statement"]:
                resources = statement["Resource"]
                resources = [resources] if isinstance(resources, str) else resources
                actions = statement["Action"]
                actions = [actions] if isinstance(actions, str) else actions
                if "*" in resources:
                    assert resources == ["*"]
                    assert set(actions) <= {
                        "secretsmanager:BatchGetSecretValue",
                        "secretsmanager:ListSecrets",
                    }
                else:
                    assert not any("*" in r for r in resources), resources
                assert statement["Effect"] == "Allow"


def test_list_secrets_only_with_filters(policy: Any) -> None:
    prefetch = json.dumps(policy("prod/db", "--prefetch", *WHERE))
    assert "BatchGetSecretValue" in prefetch
    assert "ListSecrets" not in prefetch
    assert "ListSecrets" in json.dumps(policy("prod/db", "--filters", *WHERE))
    assert "DescribeSecret" not in prefetch
    assert "DescribeSecret" in json.dumps(policy("prod/db", "--describe", *WHERE))


def test_kms_statement_is_scoped_to_secrets_manager_and_these_secrets(policy: Any) -> None:
    doc = policy("prod/db", "prod/api", "--kms-key", KEY, *WHERE)
    statement = _statement(doc, "DecryptViaSecretsManager")
    assert statement["Action"] == "kms:Decrypt"
    assert statement["Resource"] == KEY
    assert statement["Condition"] == {
        "StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"},
        "StringLike": {
            "kms:EncryptionContext:SecretARN": [
                f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/db-??????",
                f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/api-??????",
            ]
        },
    }


def test_a_multi_region_key_is_granted_in_every_region(policy: Any) -> None:
    mrk = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/mrk-1234abcd12ab34cd56ef1234567890ab"
    regions = ["--region", "us-east-1", "--region", "eu-west-1", "--account", ACCOUNT]
    statement = _statement(
        policy("prod/db", "--kms-key", mrk, *regions), "DecryptViaSecretsManager"
    )
    assert statement["Resource"] == [mrk, mrk.replace(":us-east-1:", ":eu-west-1:")]
    assert statement["Condition"]["StringEquals"]["kms:ViaService"] == [
        "secretsmanager.us-east-1.amazonaws.com",
        "secretsmanager.eu-west-1.amazonaws.com",
    ]


def test_other_partitions_use_their_own_arns(policy: Any) -> None:
    doc = policy("prod/db", "--region", "cn-north-1", "--account", ACCOUNT)
    assert _statement(doc, "ReadTheseSecrets")["Resource"].startswith(
        "arn:aws-cn:secretsmanager:cn-north-1:"
    )


def test_account_and_region_default_to_your_credentials(
    policy: Any, moto_backend: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    doc = policy("prod/db")
    resource = _statement(doc, "ReadTheseSecrets")["Resource"]
    assert resource == f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:prod/db-??????"


def test_no_region_or_no_account_is_a_usage_error(
    refused: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert "no AWS region: pass --region" in refused("prod/db", "--account", ACCOUNT)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    err = refused("prod/db", "--region", "us-east-1")
    assert "cannot tell your account" in err
    assert "pass --account ID" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["prod/*", *WHERE], "IAM would read * and ? in it as wildcards"),
        (["prod/db?", *WHERE], "IAM would read * and ? in it as wildcards"),
        (["prod/db", "--region", "us-east-1", "--account", "1234"], "12 digits"),
        (["prod/db", "--region", "mars-north-1", "--account", ACCOUNT], "unknown AWS region"),
        (["prod/db", "--kms-key", "alias/prod-secrets", *WHERE], "give the key's ARN"),
        (["prod/db", "--kms-key", KEY.replace("us-east-1", "eu-west-1"), *WHERE], "eu-west-1"),
        (["prod/db", "--kms-key", KEY.replace("arn:aws:", "arn:aws-cn:"), *WHERE], "disagree"),
        ([f"arn:aws-cn:secretsmanager:us-east-1:{ACCOUNT}:secret:db-AbCdEf"], "partition"),
        (
            [
                f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:db-AbCdEf",
                "--region",
                "cn-north-1",
            ],
            "every --region must be in aws",
        ),
    ],
)
def test_what_cannot_be_scoped_is_refused(refused: Any, argv: list[str], message: str) -> None:
    assert message in refused(*argv)


def test_policy_is_listed_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "policy" in capsys.readouterr().out
    assert main(["policy", "--help"]) == 0
    usage = capsys.readouterr().out
    for option in ("--describe", "--prefetch", "--filters", "--kms-key", "--region", "--account"):
        assert option in usage


def test_an_unknown_profile_is_a_usage_error(refused: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    assert "no-such-profile" in refused("prod/db")
