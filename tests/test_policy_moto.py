"""Each policy `secretcache policy` prints, proven with moto's IAM enforcement.

For every feature: the generated policy allows the operation, and removing each of its
actions breaks or degrades it exactly as the IAM page's table says. moto checks actions
only (resources widened to "*", see tests/iam_model.py); AWS's per-secret checks inside
BatchGetSecretValue are applied by ``BatchRules`` with the real, unwidened policy.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from iam_model import BatchRules, Policy, actions_of, widened, without
from moto.core import enable_iam_authentication

from secretcache import (
    AWSCURRENT,
    Secret,
    SecretAccessDeniedError,
    SecretCache,
)
from secretcache.cli import main
from secretcache.testing import FakeClock, counting_calls, start_rotation

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

REGION = "us-east-1"
ACCOUNT = "123456789012"
GET = "secretsmanager:GetSecretValue"
DESCRIBE = "secretsmanager:DescribeSecret"
BATCH = "secretsmanager:BatchGetSecretValue"
LIST = "secretsmanager:ListSecrets"
TTL = 60.0

Generate = Callable[..., Policy]
AsUser = Callable[[Policy], "SecretsManagerClient"]


@pytest.fixture
def policy_for(capsys: pytest.CaptureFixture[str]) -> Generate:
    """Run `secretcache policy ARGS --region us-east-1 --account 123456789012`; parse it."""

    def generate(*argv: str) -> Policy:
        code = main(["policy", *argv, "--region", REGION, "--account", ACCOUNT])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        policy: Policy = json.loads(captured.out)
        return policy

    return generate


@pytest.fixture
def user_keys(boto_session: boto3.Session, sm: SecretsManagerClient) -> Callable[[Policy], Any]:
    """Return the access key of a new IAM user holding the policy, widened for moto."""
    iam = boto_session.client("iam")
    numbers = itertools.count()

    def make(policy: Policy) -> Any:
        name = f"app{next(numbers)}"
        iam.create_user(UserName=name)
        if policy["Statement"]:
            document = json.dumps(widened(policy))
            iam.put_user_policy(UserName=name, PolicyName="generated", PolicyDocument=document)
        return iam.create_access_key(UserName=name)["AccessKey"]

    return make


def _client(key: Any, region: str = REGION) -> SecretsManagerClient:
    return boto3.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name=region,
    ).client("secretsmanager", config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture
def as_user(user_keys: Callable[[Policy], Any]) -> AsUser:
    """Return a client for a new IAM user holding the policy, widened for moto."""
    return lambda policy: _client(user_keys(policy))


def _cache(client: SecretsManagerClient, **kwargs: Any) -> SecretCache:
    return SecretCache(client=client, clock=kwargs.pop("clock", FakeClock()), jitter=0.0, **kwargs)


def _each_removal(policy: Policy) -> dict[str, Policy]:
    """Return the policy as generated ("full") and without each of its actions in turn."""
    return {"full": policy, **{action: without(policy, action) for action in actions_of(policy)}}


def _seed(sm: SecretsManagerClient, *names: str) -> None:
    for name in names:
        sm.create_secret(Name=name, SecretString=json.dumps({"name": name}))


# -- reads and rotation_candidate ------------------------------------------------------


def test_reads_need_get_secret_value_and_nothing_else(
    sm: SecretsManagerClient, policy_for: Generate, as_user: AsUser
) -> None:
    _seed(sm, "prod/db")
    policy = policy_for("prod/db")
    assert actions_of(policy) == [GET]
    allowed, denied = as_user(policy), as_user(without(policy, GET))

    with enable_iam_authentication():
        assert _cache(allowed).get_secret_json("prod/db") == {"name": "prod/db"}
        with pytest.raises(SecretAccessDeniedError):
            _cache(denied).get_secret_json("prod/db")


def test_rotation_candidate_reads_awspending_with_the_reads_policy(
    sm: SecretsManagerClient, policy_for: Generate, as_user: AsUser
) -> None:
    _seed(sm, "prod/db")
    policy = policy_for("prod/db")
    allowed, denied = as_user(policy), as_user(without(policy, GET))
    failed = sm.get_secret_value(SecretId="prod/db", VersionStage=AWSCURRENT)["VersionId"]
    pending = start_rotation(sm, "prod/db", json.dumps({"name": "new"}))

    with enable_iam_authentication():
        cache = _cache(allowed)
        candidate = cache.rotation_candidate("prod/db", failed)
        with pytest.raises(SecretAccessDeniedError):
            _cache(denied).rotation_candidate("prod/db", failed)
    assert candidate is not None
    assert candidate.version_id == pending
    assert cache.stats().api_calls == {"GetSecretValue": 2}  # AWSCURRENT, then AWSPENDING


# -- revalidate="describe" and `secretcache check` ---------------------------------------


def test_describe_mode_policy_and_each_removal(
    sm: SecretsManagerClient, policy_for: Generate, as_user: AsUser
) -> None:
    _seed(sm, "prod/db")
    policy = policy_for("prod/db", "--describe")
    assert sorted(actions_of(policy)) == [DESCRIBE, GET]
    clients = {label: as_user(document) for label, document in _each_removal(policy).items()}
    calls = {}
    with enable_iam_authentication():
        for label in ("full", DESCRIBE):
            clock = FakeClock()
            cache = _cache(clients[label], clock=clock, ttl=TTL, revalidate="describe")
            for _ in range(3):
                assert cache.get_secret_json("prod/db") == {"name": "prod/db"}
                clock.advance(TTL)
            calls[label] = cache.stats().api_calls
        with pytest.raises(SecretAccessDeniedError):
            _cache(clients[GET], revalidate="describe").get_secret("prod/db")

    assert calls["full"] == {"GetSecretValue": 1, "DescribeSecret": 2}
    # Without DescribeSecret: asked once, denied, then "get" for good; no error surfaces.
    assert calls[DESCRIBE] == {"GetSecretValue": 3, "DescribeSecret": 1}


def test_check_needs_what_describe_prints(
    sm: SecretsManagerClient,
    policy_for: Generate,
    user_keys: Callable[[Policy], Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _seed(sm, "prod/db")
    policy = policy_for("prod/db", "--describe")
    outputs = {}
    for label, document in _each_removal(policy).items():
        key = user_keys(document)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        with enable_iam_authentication():
            code = main(["check", "prod/db"])
        outputs[label] = (code, capsys.readouterr().out)

    code, out = outputs["full"]
    assert code == 0
    assert re.search(r"readable\s+yes", out)
    assert "DescribeSecret failed" not in out
    assert re.search(r"versions\s+\S+  AWSCURRENT", out)
    code, out = outputs[DESCRIBE]
    assert code == 0
    assert re.search(r"metadata\s+DescribeSecret failed: SecretAccessDeniedError", out)
    code, out = outputs[GET]
    assert code == 1
    assert re.search(r"readable\s+NO: SecretAccessDeniedError", out)


# -- prefetch ----------------------------------------------------------------------------


def test_prefetch_by_ids_policy_and_each_removal(
    sm: SecretsManagerClient, policy_for: Generate, as_user: AsUser
) -> None:
    ids = ["prod/db", "prod/api-key"]
    _seed(sm, *ids)
    policy = policy_for(*ids, "--prefetch")
    assert sorted(actions_of(policy)) == [BATCH, GET]
    found, calls = {}, {}
    for label, document in _each_removal(policy).items():
        client = as_user(document)
        with BatchRules(client, document), enable_iam_authentication():
            with counting_calls(client) as counted:
                found[label] = _cache(client).prefetch(ids)
            calls[label] = dict(counted)

    assert all(isinstance(found["full"][i], Secret) for i in ids)
    assert calls["full"] == {"BatchGetSecretValue": 1}
    # Without the batch action: the same secrets, one GetSecretValue each.
    assert all(isinstance(found[BATCH][i], Secret) for i in ids)
    assert calls[BATCH] == {"BatchGetSecretValue": 1, "GetSecretValue": 2}
    # Without GetSecretValue: AWS denies each secret inside the batch.
    assert all(isinstance(found[GET][i], SecretAccessDeniedError) for i in ids)
    assert calls[GET] == {"BatchGetSecretValue": 1}


def test_prefetch_with_filters_policy_and_each_removal(
    sm: SecretsManagerClient, policy_for: Generate, as_user: AsUser
) -> None:
    ids = ["prod/db", "prod/api-key"]
    _seed(sm, *ids)
    policy = policy_for(*ids, "--filters")
    assert sorted(actions_of(policy)) == [BATCH, GET, LIST]
    filters = [{"Key": "name", "Values": ["prod/"]}]
    results: dict[str, Any] = {}
    for label, document in _each_removal(policy).items():
        client = as_user(document)
        with BatchRules(client, document), enable_iam_authentication():
            cache = _cache(client)
            try:
                results[label] = cache.prefetch(filters=filters)
            except SecretAccessDeniedError as exc:
                results[label] = exc
            # No fallback with filters: not one GetSecretValue was tried.
            assert "GetSecretValue" not in cache.stats().api_calls

    assert sorted(results["full"]) == sorted(ids)
    assert all(isinstance(s, Secret) for s in results["full"].values())
    assert isinstance(results[BATCH], SecretAccessDeniedError)  # moto's own check
    assert isinstance(results[LIST], SecretAccessDeniedError)  # AWS's rule, modelled
    assert "ListSecrets" in str(results[LIST])
    denied = results[GET]
    assert len(denied) == len(ids)
    assert all(isinstance(e, SecretAccessDeniedError) for e in denied.values())


def test_a_prefetch_policy_grants_no_other_secret_in_the_batch(
    sm: SecretsManagerClient, policy_for: Generate, as_user: AsUser
) -> None:
    _seed(sm, "prod/db", "prod/db-admin")
    policy = policy_for("prod/db", "--prefetch")
    client = as_user(policy)
    with BatchRules(client, policy), enable_iam_authentication():
        found = _cache(client).prefetch(["prod/db", "prod/db-admin"])
    assert isinstance(found["prod/db"], Secret)
    assert isinstance(found["prod/db-admin"], SecretAccessDeniedError)


# -- replica regions -----------------------------------------------------------------------


def test_a_replica_is_read_in_its_own_region_with_the_replica_policy(
    sm: SecretsManagerClient, policy_for: Generate, user_keys: Callable[[Policy], Any]
) -> None:
    sm.create_secret(
        Name="prod/db",
        SecretString=json.dumps({"name": "prod/db"}),
        AddReplicaRegions=[{"Region": "us-west-2"}],
    )
    policy = policy_for("prod/db", "--region", "us-west-2")
    key = user_keys(policy)
    east, west = _client(key), _client(key, "us-west-2")
    with enable_iam_authentication():
        assert _cache(east).get_secret("prod/db").arn.split(":")[3] == "us-east-1"
        assert _cache(west).get_secret("prod/db").arn.split(":")[3] == "us-west-2"
