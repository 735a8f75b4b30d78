"""A 200 whose body botocore's parser (or ours) cannot read is an outage, not a crash.

Each body below is what a broken proxy or endpoint might answer GetSecretValue with. It
must be a SecretsManagerUnavailableError with code "MalformedResponse": retryable, so
the cached value is served within max_stale and the backoff is kept (a hot key must not
call the API on every read).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from botocore.config import Config
from framecheck import assert_no_secret_in_frames, exceptions, raised
from raw_answers import raw_answers

from secretcache import SecretCache, SecretsManagerUnavailableError

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache.testing import FakeClock

CANARY = "CANARY-malformed-7f3a"
GOOD: dict[str, Any] = {
    "ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
    "Name": "db",
    "VersionId": "2" * 32,
    "VersionStages": ["AWSCURRENT"],
    "CreatedDate": 1700000000,
    "SecretString": CANARY,
}
BODIES = {
    "stages-not-a-list": {**GOOD, "VersionStages": 5},
    "stages-not-strings": {**GOOD, "VersionStages": [1, 2]},
    "unparsable-created-date": {**GOOD, "CreatedDate": "yesterday at noon"},
    "invalid-base64-binary": {
        **{k: v for k, v in GOOD.items() if k != "SecretString"},
        "SecretBinary": CANARY + "!",
    },
    "a-list-not-an-object": [GOOD],
    "string-not-a-string": {**GOOD, "SecretString": 12345},
}


@pytest.fixture
def one_try(boto_session: boto3.Session, moto_backend: None) -> SecretsManagerClient:
    """A moto client without botocore's retries: each read is one HTTP attempt."""
    return boto_session.client("secretsmanager", config=Config(retries={"total_max_attempts": 1}))


@pytest.mark.parametrize("body", list(BODIES.values()), ids=list(BODIES))
def test_a_malformed_answer_is_a_typed_outage(
    one_try: SecretsManagerClient, clock: FakeClock, body: Any
) -> None:
    cache = SecretCache(client=one_try, clock=clock)
    with raw_answers(one_try) as answers:
        answers.bodies["GetSecretValue"] = json.dumps(body).encode()
        error = raised(cache.get_secret_string, "db")
    assert isinstance(error, SecretsManagerUnavailableError), repr(error)
    assert error.code == "MalformedResponse"
    assert error.retryable is True
    assert error.secret_id == "db"
    # Neither our message nor anything chained shows the value, nor holds it in a frame.
    assert all(CANARY not in str(e) for e in exceptions(error))
    assert_no_secret_in_frames(error, CANARY)


@pytest.mark.parametrize("body", list(BODIES.values()), ids=list(BODIES))
def test_a_hot_key_is_served_stale_and_backs_off(
    one_try: SecretsManagerClient, clock: FakeClock, body: Any
) -> None:
    one_try.create_secret(Name="db", SecretString="v1")
    cache = SecretCache(client=one_try, clock=clock, ttl=60, jitter=0, max_stale=900)
    assert cache.get_secret_string("db") == "v1"
    clock.advance(61)  # expired: the next read revalidates
    with raw_answers(one_try) as answers:
        answers.bodies["GetSecretValue"] = json.dumps(body).encode()
        reads = [cache.get_secret_string("db") for _ in range(20)]
        assert reads == ["v1"] * 20  # stale, within max_stale
        assert answers.sent["GetSecretValue"] == 1  # one call, then the backoff holds
        clock.advance(1.3)  # past the first backoff step (1 s, plus at most 20 %)
        assert cache.get_secret_string("db") == "v1"
        assert answers.sent["GetSecretValue"] == 2
    assert cache.stats().stale_served >= 21
    clock.advance(2.5)  # past the second step: the endpoint is healthy again
    assert cache.get_secret_string("db") == "v1"
    assert cache.stats().errors == 2
