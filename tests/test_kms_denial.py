"""The two ways KMS fails: a key that refuses the caller, and a key that cannot decrypt.

moto never calls KMS, so AWS's answers are injected through botocore (FaultInjector):
a missing kms:Decrypt (in the caller's IAM policy or the key policy) comes back as
AccessDeniedException "Access to KMS is not allowed"; a disabled or wrong key as
DecryptionFailure.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from secretcache import (
    SecretAccessDeniedError,
    SecretCache,
    SecretCacheError,
    SecretDecryptionError,
)
from secretcache.testing import FakeClock, FaultInjector

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_secretsmanager import SecretsManagerClient

KMS_DENIED = "Access to KMS is not allowed"
REFUSED = "the secret's KMS key refused this caller"


def _raised(sm: SecretsManagerClient, cache: SecretCache, code: str, message: str) -> Exception:
    """Read prod/db while GetSecretValue answers ``code``/``message``; return the error."""
    with FaultInjector(sm) as faults:
        faults.fail(code, message=message)
        with pytest.raises(SecretCacheError) as caught:
            cache.get_secret("prod/db")
    return caught.value


def test_a_kms_denial_is_access_denied_and_says_the_key_refused(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache], clock: FakeClock, canary: str
) -> None:
    sm.create_secret(Name="prod/db", SecretString=json.dumps({"password": canary}))
    cache = make_cache()
    cache.get_secret("prod/db")
    clock.advance(61)  # warm and expired: the KMS denial drops it, nothing served stale
    err = _raised(sm, cache, "AccessDeniedException", KMS_DENIED)
    assert isinstance(err, SecretAccessDeniedError)
    assert err.code == "AccessDeniedException"
    assert err.message.startswith(REFUSED)
    assert err.message.endswith(f": {KMS_DENIED}")
    assert "kms:Decrypt" in err.message
    assert canary not in str(err)


@pytest.mark.parametrize(
    "message",
    [
        "User: arn:aws:iam::123456789012:user/app is not authorized to perform: "
        "secretsmanager:GetSecretValue on resource: kms/Access-to-KMS",
        "Access denied",
    ],
)
def test_other_denials_keep_aws_message_as_is(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache], message: str
) -> None:
    sm.create_secret(Name="prod/db", SecretString="x")
    error = _raised(sm, make_cache(), "AccessDeniedException", message)
    assert isinstance(error, SecretAccessDeniedError)
    assert error.message == message


def test_a_kms_denial_by_iam_wording_is_recognised_too(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache]
) -> None:
    sm.create_secret(Name="prod/db", SecretString="x")
    aws = (
        "User: arn:aws:sts::123456789012:assumed-role/app/x is not authorized to perform: "
        "kms:Decrypt on resource: arn:aws:kms:us-east-1:123456789012:key/abc"
    )
    error = _raised(sm, make_cache(), "AccessDeniedException", aws)
    assert isinstance(error, SecretAccessDeniedError)
    assert error.message.startswith(REFUSED)
    assert error.message.endswith(f": {aws}")


def test_decryption_failure_is_its_own_error(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache]
) -> None:
    sm.create_secret(Name="prod/db", SecretString="x")
    aws = "Secrets Manager can't decrypt the protected secret text using the provided KMS key."
    error = _raised(sm, make_cache(), "DecryptionFailure", aws)
    assert isinstance(error, SecretDecryptionError)
    assert error.message == aws


def test_a_kms_denial_inside_a_batch_says_so_for_that_id(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache]
) -> None:
    sm.create_secret(Name="prod/db", SecretString="x")
    sm.create_secret(Name="prod/cmk", SecretString="y")

    def deny_cmk(parsed: dict[str, Any], **_: Any) -> None:
        values = parsed["SecretValues"]
        parsed["SecretValues"] = [v for v in values if v["Name"] != "prod/cmk"]
        parsed["Errors"] = [
            {"SecretId": "prod/cmk", "ErrorCode": "AccessDeniedException", "Message": KMS_DENIED}
        ]

    sm.meta.events.register("after-call.secrets-manager.BatchGetSecretValue", deny_cmk)
    found = make_cache().prefetch(["prod/db", "prod/cmk"])
    error = found["prod/cmk"]
    assert isinstance(error, SecretAccessDeniedError)
    assert error.message.startswith(REFUSED)
    assert not isinstance(found["prod/db"], Exception)
