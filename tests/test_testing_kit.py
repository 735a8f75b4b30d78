"""secretcache.testing: the kit users test their own code with."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import botocore.endpoint
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from secretcache import (
    AWSCURRENT,
    AWSPENDING,
    AWSPREVIOUS,
    SecretCache,
    SecretDeletedError,
    SecretNotFoundError,
    SecretsManagerThrottledError,
)
from secretcache.testing import (
    FakeClock,
    FaultInjector,
    InMemorySource,
    counting_calls,
    finish_rotation,
    new_version_id,
    rotate_secret,
    start_rotation,
)

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


def test_fake_clock_moves_only_forward_when_told() -> None:
    clock = FakeClock(10)
    assert clock() == 10.0
    assert clock.advance(2.5) == 12.5
    assert clock() == 12.5
    with pytest.raises(ValueError):
        clock.advance(-1)
    assert "12.5" in repr(clock)


def test_fault_injector_counts_times_and_heals(sm: SecretsManagerClient) -> None:
    sm.create_secret(Name="s", SecretString="v")
    original_time = vars(botocore.endpoint)["time"]
    with FaultInjector(sm) as faults:
        faults.fail("ResourceNotFoundException")
        with pytest.raises(ClientError) as caught:
            sm.get_secret_value(SecretId="s")
        assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
        assert sm.describe_secret(SecretId="s")["Name"] == "s"  # other operations untouched
        faults.heal("GetSecretValue")
        assert sm.get_secret_value(SecretId="s")["SecretString"] == "v"
        # One throttle, then botocore's own retry succeeds; its sleep is recorded, not slept.
        faults.fail("ThrottlingException", times=1)
        assert sm.get_secret_value(SecretId="s")["SecretString"] == "v"
        assert len(faults.slept) == 1
        faults.connection_error()
        with pytest.raises(EndpointConnectionError):
            sm.get_secret_value(SecretId="s")
        faults.heal()
        assert sm.get_secret_value(SecretId="s")["SecretString"] == "v"
    assert vars(botocore.endpoint)["time"] is original_time
    assert sm.get_secret_value(SecretId="s")["SecretString"] == "v"


def test_in_memory_source_rotates_and_counts() -> None:
    source = InMemorySource({"s": "v1"})
    first = source.get_secret_value("s")
    second = source.rotate("s", "v2")
    assert source.get_secret_value("s").version_id == second
    assert source.get_secret_value("s", version_stage=AWSPREVIOUS).version_id == first.version_id
    pending = source.put("s", "v3", stages=[AWSPENDING])
    assert source.get_secret_value("s", version_stage=AWSPENDING).secret_string == "v3"
    source.move_stage("s", AWSCURRENT, pending)
    assert source.get_secret_value("s").secret_string == "v3"
    with pytest.raises(SecretNotFoundError):
        source.get_secret_value("s", version_stage=AWSPENDING)
    meta = source.describe_secret("s")
    assert meta.version_for_stage(AWSCURRENT) == pending
    assert meta.version_for_stage(AWSPREVIOUS) == second
    assert source.calls == {"GetSecretValue": 6, "DescribeSecret": 1}


def test_in_memory_source_fails_heals_and_deletes() -> None:
    source = InMemorySource({"s": "v", "t": b"\x01"})
    source.fail(SecretsManagerThrottledError("slow down", code="ThrottlingException"), "s")
    with pytest.raises(SecretsManagerThrottledError) as caught:
        source.get_secret_value("s")
    assert caught.value.secret_id == "s"
    assert source.get_secret_value("t").secret_binary == b"\x01"
    source.heal()
    assert source.get_secret_value("s").secret_string == "v"
    source.delete("s")
    with pytest.raises(SecretDeletedError):
        source.get_secret_value("s")
    assert source.describe_secret("s").deleted
    page = source.batch_get_secret_value(secret_ids=["s", "t"])
    assert [x.secret_id for x in page.secrets] == ["t"]
    assert isinstance(page.errors["s"], SecretDeletedError)


def test_counting_calls_counts_logical_calls_only_in_its_block(sm: SecretsManagerClient) -> None:
    sm.create_secret(Name="s", SecretString="v")
    with counting_calls(sm) as calls:
        sm.get_secret_value(SecretId="s")
        sm.describe_secret(SecretId="s")
    sm.get_secret_value(SecretId="s")
    assert calls == {"GetSecretValue": 1, "DescribeSecret": 1}


def test_rotation_helpers_on_moto(sm: SecretsManagerClient) -> None:
    sm.create_secret(Name="db", SecretString=json.dumps({"password": "p1"}))
    cache = SecretCache(client=sm, clock=FakeClock())
    v2 = rotate_secret(sm, "db", json.dumps({"password": "p2"}))
    assert cache.get_secret("db").version_id == v2
    v3 = start_rotation(sm, "db", json.dumps({"password": "p3"}))
    assert cache.get_secret_field("db", "password", AWSPENDING) == "p3"
    assert cache.get_secret_field("db", "password") == "p2"
    finish_rotation(sm, "db", v3)
    stages = sm.describe_secret(SecretId="db")["VersionIdsToStages"]
    assert stages[v3] == [AWSCURRENT]
    assert AWSPREVIOUS in stages[v2]
    assert len(new_version_id()) >= 32
