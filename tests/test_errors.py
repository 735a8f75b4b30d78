"""Every error class, produced through moto or a real botocore client with injected faults."""

from __future__ import annotations

import copy
import json
import pickle
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from moto.core import enable_iam_authentication

import secretcache.exceptions as exc_module
from secretcache import (
    InvalidSecretRequestError,
    SecretAccessDeniedError,
    SecretCache,
    SecretCacheError,
    SecretCredentialsError,
    SecretDecryptionError,
    SecretDeletedError,
    SecretNotFoundError,
    SecretsManagerThrottledError,
    SecretsManagerUnavailableError,
)
from secretcache.testing import FaultInjector

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_secretsmanager import SecretsManagerClient

ACCOUNT = "123456789012"


@pytest.fixture
def faults(sm: SecretsManagerClient) -> Any:
    sm.create_secret(Name="s", SecretString="v")
    with FaultInjector(sm) as injector:
        yield injector


@pytest.mark.parametrize(
    ("code", "status", "cls"),
    [
        ("ResourceNotFoundException", 400, SecretNotFoundError),
        ("AccessDeniedException", 400, SecretAccessDeniedError),
        ("DecryptionFailure", 400, SecretDecryptionError),
        ("InvalidParameterException", 400, InvalidSecretRequestError),
        ("ValidationException", 400, InvalidSecretRequestError),
        ("InvalidRequestException", 400, InvalidSecretRequestError),
        ("ExpiredTokenException", 400, SecretCredentialsError),
        ("UnrecognizedClientException", 400, SecretCredentialsError),
        ("InvalidSignatureException", 400, SecretCredentialsError),
        ("InternalServiceError", 500, SecretsManagerUnavailableError),
        ("ServiceUnavailable", 503, SecretsManagerUnavailableError),
        ("ThrottlingException", 400, SecretsManagerThrottledError),
        ("TooManyRequestsException", 400, SecretsManagerThrottledError),
        ("RequestLimitExceeded", 400, SecretsManagerThrottledError),
        ("SomethingNew", 403, SecretAccessDeniedError),
        ("SomethingNew", 429, SecretsManagerThrottledError),
        ("SomethingNew", 502, SecretsManagerUnavailableError),
        ("SomethingNew", 400, SecretCacheError),
    ],
)
def test_error_codes_map_to_classes(
    faults: FaultInjector,
    make_cache: Callable[..., SecretCache],
    code: str,
    status: int,
    cls: type[SecretCacheError],
) -> None:
    faults.fail(code, status=status)
    with pytest.raises(SecretCacheError) as caught:
        make_cache().get_secret("s")
    err = caught.value
    assert type(err) is cls
    assert err.code == code
    assert err.status_code == status
    assert err.secret_id == "s"
    assert err.version_stage == "AWSCURRENT"
    assert err.request_id
    assert err.retryable is issubclass(cls, SecretsManagerUnavailableError)
    assert isinstance(err.__cause__, ClientError)


def test_retryable_errors_go_through_botocore_retries(
    faults: FaultInjector, make_cache: Callable[..., SecretCache]
) -> None:
    faults.fail("ThrottlingException")
    cache = make_cache()
    with pytest.raises(SecretsManagerThrottledError):
        cache.get_secret("s")
    attempts = faults.attempts["GetSecretValue"]
    assert attempts > 1  # botocore retried: one logical call, several HTTP attempts
    assert len(faults.slept) == attempts - 1
    assert cache.stats().api_calls == {"GetSecretValue": 1}


def test_a_transient_fault_healed_by_botocore_retry_is_invisible(
    faults: FaultInjector, make_cache: Callable[..., SecretCache]
) -> None:
    faults.fail("InternalServiceError", times=1)
    cache = make_cache()
    assert cache.get_secret_string("s") == "v"
    assert faults.attempts["GetSecretValue"] == 2
    assert cache.stats().errors == 0


@pytest.mark.parametrize("fault", ["connection_error", "read_timeout", "connect_timeout"])
def test_network_failures_are_unavailable(
    faults: FaultInjector, make_cache: Callable[..., SecretCache], fault: str
) -> None:
    getattr(faults, fault)()
    with pytest.raises(SecretsManagerUnavailableError) as caught:
        make_cache().get_secret("s")
    assert caught.value.retryable
    assert type(caught.value) is SecretsManagerUnavailableError
    assert isinstance(caught.value.__cause__, BotoCoreError)


def test_not_found_from_moto(make_cache: Callable[..., SecretCache]) -> None:
    with pytest.raises(SecretNotFoundError) as caught:
        make_cache().get_secret_string("nope")
    assert caught.value.code == "ResourceNotFoundException"
    assert not caught.value.retryable


def test_scheduled_deletion_from_moto(
    sm: SecretsManagerClient, make_cache: Callable[..., SecretCache]
) -> None:
    sm.create_secret(Name="gone", SecretString="v")
    sm.delete_secret(SecretId="gone", RecoveryWindowInDays=7)
    with pytest.raises(SecretDeletedError) as caught:
        make_cache().get_secret_string("gone")
    assert caught.value.code == "InvalidRequestException"


def test_no_credentials(
    sm: SecretsManagerClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    cache = SecretCache(session=boto3.Session(region_name="us-east-1"))
    with pytest.raises(SecretCredentialsError) as caught:
        cache.get_secret("s")
    assert caught.value.code == "NoCredentialsError"


def test_no_region_is_a_credentials_error_at_first_read(
    moto_backend: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    cache = SecretCache()  # the client is built lazily: no error yet
    with pytest.raises(SecretCredentialsError) as caught:
        cache.get_secret("s")
    assert caught.value.code == "NoRegionError"
    assert caught.value.secret_id == "s"  # which read needed it
    assert "AWS_REGION" in str(caught.value)  # and how to fix it
    assert "region_name=" in str(caught.value)


def test_every_modelled_get_secret_value_error_has_a_specific_class() -> None:
    from secretcache._core.errors import map_error

    model = botocore.session.get_session().get_service_model("secretsmanager")
    shapes = model.operation_model("GetSecretValue").error_shapes
    assert shapes
    for shape in shapes:
        raw = ClientError(
            {"Error": {"Code": shape.name, "Message": "m"}, "ResponseMetadata": {}},
            "GetSecretValue",
        )
        mapped = map_error(raw, secret_id="s")
        assert mapped is not None
        assert type(mapped) is not SecretCacheError, shape.name


def test_errors_survive_copy_and_pickle() -> None:
    err = SecretDeletedError("gone", secret_id="s", code="InvalidRequestException", status_code=400)
    for clone in (copy.copy(err), pickle.loads(pickle.dumps(err))):
        assert type(clone) is SecretDeletedError
        assert clone.secret_id == "s"
        assert clone.code == "InvalidRequestException"
        assert clone.status_code == 400
        assert str(clone) == str(err)


def test_tree_shape() -> None:
    assert issubclass(SecretsManagerThrottledError, SecretsManagerUnavailableError)
    assert issubclass(exc_module.SecretFormatError, ValueError)
    assert issubclass(exc_module.SecretFieldError, exc_module.SecretFormatError)
    assert issubclass(exc_module.SecretFieldError, LookupError)
    for name in exc_module.__all__:
        assert issubclass(getattr(exc_module, name), SecretCacheError)


# -- IAM enforced by moto: the classic authorized / unauthorized pair --------------------


def _role_client(
    boto_session: boto3.Session, sm: SecretsManagerClient, name: str, actions: list[str]
) -> SecretsManagerClient:
    iam = boto_session.client("iam")
    sts = boto_session.client("sts")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    iam.put_role_policy(RoleName=name, PolicyName="read", PolicyDocument=json.dumps(policy))
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}", RoleSessionName="tests")[
        "Credentials"
    ]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name="us-east-1",
    ).client("secretsmanager", config=Config(retries={"total_max_attempts": 1}))


def test_iam_authorized_and_unauthorized_roles(
    boto_session: boto3.Session, sm: SecretsManagerClient, canary: str
) -> None:
    sm.create_secret(Name="MySecret", SecretString=json.dumps({"secret": canary}))
    allowed = _role_client(boto_session, sm, "AuthorizedRole", ["secretsmanager:GetSecretValue"])
    denied = _role_client(boto_session, sm, "UnauthorizedRole", ["secretsmanager:ListSecrets"])
    with enable_iam_authentication():
        assert SecretCache(client=allowed).get_secret_field("MySecret", "secret") == canary
        with pytest.raises(SecretAccessDeniedError) as caught:
            SecretCache(client=denied).get_secret_string("MySecret")
    err = caught.value
    assert err.code == "AccessDenied"
    assert err.status_code == 403
    assert "UnauthorizedRole" in str(err)
    assert "secretsmanager:GetSecretValue" in str(err)
    assert "<?xml" not in str(err)
    assert canary not in str(err)
    assert isinstance(err.__cause__, ClientError)


def test_iam_bad_keys_are_a_credentials_error(
    boto_session: boto3.Session, sm: SecretsManagerClient
) -> None:
    sm.create_secret(Name="MySecret", SecretString="v")
    bogus = boto3.Session(
        aws_access_key_id="AKIAIOSFODNN7BOGUS00",
        aws_secret_access_key="nope",
        region_name="us-east-1",
    ).client("secretsmanager")
    with enable_iam_authentication(), pytest.raises(SecretCredentialsError) as caught:
        SecretCache(client=bogus).get_secret_string("MySecret")
    assert caught.value.code == "InvalidClientTokenId"


# -- nothing leaks a value -----------------------------------------------------------------


def test_no_value_in_errors_or_debug_logs(
    sm: SecretsManagerClient,
    make_cache: Callable[..., SecretCache],
    canary: str,
    debug_logs: Any,
) -> None:
    cache = make_cache()  # installs the log scrubber before any value moves
    sm.create_secret(Name="db", SecretString=json.dumps({"password": canary}))
    sm.create_secret(Name="bin", SecretBinary=canary.encode())
    sm.create_secret(Name="text", SecretString=f"not json {canary}")
    cache.get_secret_field("db", "password")
    cache.get_secret_binary("bin")
    cache.prefetch(["db", "bin"])
    texts: list[str] = []
    for call in (
        lambda: cache.get_secret_field("db", "missing"),
        lambda: cache.get_secret_json("text"),
        lambda: cache.get_secret_field("text", "x"),
        lambda: cache.get_secret_string("bin"),
    ):
        with pytest.raises(SecretCacheError) as caught:
            call()
        texts += [str(caught.value), repr(caught.value), str(caught.value.__cause__)]
    texts += [repr(cache.get_secret("db")), str(cache.get_secret("bin")), repr(cache)]
    texts += [repr(cache.stats())]
    assert debug_logs.texts, "DEBUG logging captured nothing: the test would prove nothing"
    assert any("Response body" in t for t in debug_logs.texts)
    leaks = [t for t in texts + debug_logs.texts if canary in t]
    assert leaks == []


def test_scrubber_can_be_removed_and_reinstalled(debug_logs: Any, canary: str) -> None:
    import logging

    from secretcache import install_log_scrubber, remove_log_scrubber

    parsers = logging.getLogger("botocore.parsers")
    body = json.dumps({"Name": "db", "SecretString": canary}).encode()
    try:
        install_log_scrubber()
        parsers.debug("Response body:\n%r", body)
        parsers.debug(b'{"SecretString": "' + canary.encode() + b'" truncated')  # not JSON
        assert not any(canary in t for t in debug_logs.texts)
        assert any('"Name": "db"' in t for t in debug_logs.texts)  # the rest stays readable
        remove_log_scrubber()
        parsers.debug("Response body:\n%r", body)
        assert canary in debug_logs.texts[-1]  # the user asked for it
    finally:
        install_log_scrubber()


def test_scrubber_honours_the_environment_opt_out(monkeypatch: pytest.MonkeyPatch) -> None:
    from secretcache._core.redact import auto_install

    monkeypatch.setenv("SECRETCACHE_SCRUB_LOGS", "0")
    assert auto_install() is False
    monkeypatch.setenv("SECRETCACHE_SCRUB_LOGS", "1")
    assert auto_install() is True


def test_moto_iam_request_logging_is_scrubbed(debug_logs: Any, canary: str) -> None:
    import logging

    from secretcache import install_log_scrubber

    install_log_scrubber()
    body = json.dumps({"Name": "db", "SecretString": canary})
    logging.getLogger("moto.iam.access_control").debug(
        "Creating %s with method=%s, path=%s, data=%s, headers=%s",
        "IAMRequest",
        "POST",
        "/",
        {body: ""},
        {},
    )
    assert debug_logs.texts
    assert not any(canary in t for t in debug_logs.texts)
