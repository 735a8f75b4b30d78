"""The extension's protocol without I/O: requests, tokens, answers, framing."""

from __future__ import annotations

import base64
import itertools
import json
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from secretcache import (
    InvalidSecretRequestError,
    SecretAccessDeniedError,
    SecretCacheError,
    SecretCredentialsError,
    SecretDecryptionError,
    SecretDeletedError,
    SecretNotFoundError,
    SecretsManagerThrottledError,
    SecretsManagerUnavailableError,
)
from secretcache._core.extension_env import choose_source
from secretcache._sources.extension_answers import answer
from secretcache._sources.extension_protocol import (
    TOKEN_HEADER,
    Endpoint,
    find_token,
    framing,
    parse_head,
    ready_delays,
    request,
)

ARN = "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-AbCdEf"
EP = Endpoint.parse("http://127.0.0.1:2773")


def body(**fields: object) -> bytes:
    base: dict[str, object] = {
        "ARN": ARN,
        "Name": "prod/db",
        "VersionId": "v1",
        "SecretString": '{"password": "pw"}',
        "VersionStages": ["AWSCURRENT"],
        "CreatedDate": "1569534789.046",
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...}).encode()


def error_body(code: str, message: str = "m") -> bytes:
    return json.dumps({"__type": code, "message": message}).encode()


# -- requests ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "secret_id", ["prod/db", "a+b=c@d", ARN, "spaces and %", "ünïcode/ключ", "q?x&y=z#f"]
)
def test_ids_are_percent_encoded_and_come_back_whole(secret_id: str) -> None:
    req = request(EP, "tok", secret_id)
    target = urlsplit(req.target)
    assert target.path == "/secretsmanager/get"
    for reserved in "/+=@:?&# ":
        assert reserved not in target.query.split("=", 1)[1].split("&")[0]
    assert parse_qs(target.query)["secretId"] == [secret_id]


def test_a_request_names_a_stage_or_a_version_id_never_both() -> None:
    staged = parse_qs(urlsplit(request(EP, "t", "s").target).query)
    assert staged == {"secretId": ["s"], "versionStage": ["AWSCURRENT"]}
    pinned = parse_qs(urlsplit(request(EP, "t", "s", version_id="v/1").target).query)
    assert pinned == {"secretId": ["s"], "versionId": ["v/1"]}
    now = parse_qs(urlsplit(request(EP, "t", "s", refresh_now=True).target).query)
    assert now["refreshNow"] == ["true"]


def test_the_token_goes_in_its_header_and_never_in_the_repr() -> None:
    req = request(EP, "s3cr3t-token", "s")
    assert req.headers[TOKEN_HEADER] == "s3cr3t-token"
    assert "X-Forwarded-For" not in req.headers
    assert "s3cr3t-token" not in repr(req)
    assert req.encode().startswith(b"GET /secretsmanager/get?secretId=s&versionStage=AWSCURRENT ")


def test_a_token_with_a_line_break_is_refused_not_sent() -> None:
    with pytest.raises(SecretCredentialsError) as caught:
        request(EP, "Zq8w\r\nX-Evil: 1", "s")
    assert "Zq8w" not in str(caught.value)


# -- endpoint and token discovery --------------------------------------------------------
def test_the_endpoint_defaults_to_localhost_and_the_extension_port_variable() -> None:
    assert Endpoint.from_env({}).url == "http://localhost:2773"
    port = {"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": "2999"}
    assert Endpoint.from_env(port).url == "http://localhost:2999"
    with pytest.raises(ValueError, match="PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"):
        Endpoint.from_env({"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": "http"})


@pytest.mark.parametrize(
    "url", ["https://localhost:2773", "localhost:2773", "http://h:1/path", "http://h:99999"]
)
def test_an_endpoint_that_is_not_plain_http_host_port_is_misuse(url: str) -> None:
    with pytest.raises(ValueError):
        Endpoint.parse(url)


def test_in_lambda_the_session_token_comes_first() -> None:
    env = {"AWS_LAMBDA_FUNCTION_NAME": "f", "AWS_SESSION_TOKEN": "sess", "AWS_TOKEN": "agent"}
    assert find_token(env) == ("sess", "AWS_SESSION_TOKEN")
    assert find_token({"AWS_SESSION_TOKEN": "sess", "AWS_TOKEN": "agent"}) == (
        "agent",
        "AWS_TOKEN",
    )
    assert find_token({"AWS_CONTAINER_AUTHORIZATION_TOKEN": "c"})[0] == "c"


def test_a_file_url_token_is_read_from_the_file(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "awssmatoken"  # type: ignore[operator]
    path.write_text("from-file\n")
    assert find_token({"AWS_TOKEN": f"file://{path}"}) == ("from-file", "AWS_TOKEN")


def test_no_token_or_an_unreadable_file_is_a_credentials_error_naming_the_variables() -> None:
    with pytest.raises(SecretCredentialsError, match="AWS_TOKEN") as caught:
        find_token({})
    assert caught.value.code == "TokenUnavailable"
    with pytest.raises(SecretCredentialsError, match="cannot be read"):
        find_token({"AWS_TOKEN": "file:///nonexistent/token"})


def test_the_source_choice_follows_lambda_the_layer_and_the_override() -> None:
    lam = {"AWS_LAMBDA_FUNCTION_NAME": "f"}
    port = {"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": "2773"}
    never = lambda path: False  # noqa: E731
    assert choose_source({}, never)[0] == "sdk"
    assert choose_source(port, never)[0] == "sdk"  # not in Lambda
    assert choose_source(lam, never)[0] == "sdk"  # in Lambda without the layer
    assert choose_source({**lam, **port}, never)[0] == "extension"
    layer = "/opt/extensions/AWS-Parameters-and-Secrets-Lambda-Extension"
    assert choose_source(lam, lambda path: path == layer)[0] == "extension"
    assert choose_source({**lam, **port, "SECRETCACHE_SOURCE": "sdk"}, never)[0] == "sdk"
    assert choose_source({"SECRETCACHE_SOURCE": "Extension"}, never)[0] == "extension"
    with pytest.raises(ValueError, match="SECRETCACHE_SOURCE"):
        choose_source({"SECRETCACHE_SOURCE": "agent"}, never)


# -- answers ----------------------------------------------------------------------------
def test_a_200_is_a_secret_with_its_metadata() -> None:
    secret = answer("prod/db", 200, body())
    assert secret.version_id == "v1"
    assert secret.arn == ARN
    assert secret.version_stages == ("AWSCURRENT",)
    assert secret.secret_string == '{"password": "pw"}'
    assert secret.created_date == datetime(2019, 9, 26, 21, 53, 9, 46000, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "created",
    [1569534789.046, "1569534789.046", "2019-09-26T21:53:09.046Z", "2019-09-26T21:53:09.046+00:00"],
)
def test_created_date_is_read_in_every_form_the_servers_write(created: object) -> None:
    secret = answer("prod/db", 200, body(CreatedDate=created))
    assert secret.created_date is not None
    assert abs(secret.created_date.timestamp() - 1569534789.046) < 1e-3


def test_a_binary_secret_is_decoded_from_base64_and_a_null_string_is_absent() -> None:
    raw = bytes(range(256))
    secret = answer(
        "prod/db", 200, body(SecretString=None, SecretBinary=base64.b64encode(raw).decode())
    )
    assert secret.secret_binary == raw
    assert secret.secret_string is None


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[1, 2]",
        b"",
        body(VersionId=...),
        body(SecretString=...),
        body(SecretString=42),
        body(VersionStages="AWSCURRENT"),
        body(SecretString=None, SecretBinary="%%% not base64"),
        body(Name="another/secret", ARN=...),
        b"[" * 100_000,
    ],
)
def test_a_malformed_200_is_an_outage_never_a_value_nor_a_bare_error(payload: bytes) -> None:
    with pytest.raises(SecretsManagerUnavailableError) as caught:
        answer("prod/db", 200, payload)
    assert caught.value.code == "MalformedResponse"
    assert "pw" not in str(caught.value)


@pytest.mark.parametrize("status", [400, 404])
@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("ResourceNotFoundException", SecretNotFoundError),
        ("AccessDeniedException", SecretAccessDeniedError),
        ("DecryptionFailure", SecretDecryptionError),
        ("InvalidParameterException", InvalidSecretRequestError),
        ("ThrottlingException", SecretsManagerThrottledError),
        ("UnrecognizedClientException", SecretCredentialsError),
        ("com.amazonaws.secretsmanager#ResourceNotFoundException", SecretNotFoundError),
    ],
)
def test_errors_are_typed_by_their_code_whatever_the_status(
    status: int, code: str, cls: type[SecretCacheError]
) -> None:
    with pytest.raises(cls) as caught:
        answer("prod/db", status, error_body(code))
    assert type(caught.value) is cls
    assert caught.value.status_code == status
    assert caught.value.secret_id == "prod/db"
    assert caught.value.version_stage == "AWSCURRENT"


def test_the_deletion_and_kms_refinements_apply_as_on_the_sdk_path() -> None:
    deleted = error_body("InvalidRequestException", "secret is marked for deletion")
    with pytest.raises(SecretDeletedError):
        answer("s", 400, deleted)
    with pytest.raises(SecretAccessDeniedError, match="KMS key refused"):
        answer("s", 400, error_body("AccessDeniedException", "Access to KMS is not allowed"))


@pytest.mark.parametrize(
    ("status", "payload", "cls", "code"),
    [
        (403, b"Bad Token", SecretCredentialsError, "BadToken"),
        (504, error_body("TimeoutError", "Timeout"), SecretsManagerUnavailableError, None),
        (502, error_body("ConnectionError", "Read Error"), SecretsManagerUnavailableError, None),
        (500, b'{"__type":"InternalFailure"}', SecretsManagerUnavailableError, "InternalFailure"),
        (429, b"Connection limit exceeded", SecretsManagerThrottledError, "TooManyConnections"),
        (503, b"", SecretsManagerUnavailableError, "ExtensionNotReady"),
        (
            400,
            b"not ready to serve traffic, please wait",
            SecretsManagerUnavailableError,
            "ExtensionNotReady",
        ),
        (404, b"Not found", SecretsManagerUnavailableError, "ExtensionProtocolError"),
        (400, b"unknown parameter: refreshNow", InvalidSecretRequestError, "UnsupportedParameter"),
    ],
)
def test_answers_without_an_aws_code_are_typed_by_what_the_servers_mean(
    status: int, payload: bytes, cls: type[SecretCacheError], code: str | None
) -> None:
    with pytest.raises(cls) as caught:
        answer("s", status, payload)
    assert type(caught.value) is cls
    if code is not None:
        assert caught.value.code == code
    assert caught.value.retryable is cls.retryable


def test_a_version_id_read_names_the_version_not_a_stage() -> None:
    with pytest.raises(SecretNotFoundError) as caught:
        answer("s", 400, error_body("ResourceNotFoundException"), version_id="v9")
    assert caught.value.version_id == "v9"
    assert caught.value.version_stage is None


# -- retries and framing ------------------------------------------------------------------
def test_not_ready_retries_spend_exactly_their_budget() -> None:
    delays = list(ready_delays(1.0))
    assert delays[0] == 0.025
    assert sum(delays) == pytest.approx(1.0)
    assert all(b >= a for a, b in itertools.pairwise(delays[:-1]))  # the last: what is left
    assert list(ready_delays(0.0)) == []


def test_response_heads_and_framing() -> None:
    status, headers = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-A: b\r\n\r\n")
    assert (status, headers["content-length"], headers["x-a"]) == (200, "12", "b")
    assert framing(headers) == 12
    assert framing({"transfer-encoding": "chunked"}) == "chunked"
    assert framing({}) == "close"
    with pytest.raises(ValueError):
        parse_head(b"SSH-2.0-OpenSSH\r\n\r\n")
    with pytest.raises(ValueError):
        framing({"content-length": "-1"})
