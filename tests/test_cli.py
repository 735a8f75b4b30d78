"""The `secretcache` command (check, get) against a moto server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import socket
import urllib.request
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto.core import enable_iam_authentication
from moto.server import ThreadedMotoServer

from secretcache.cli import main
from secretcache.testing import rotate_secret

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from mypy_boto3_secretsmanager import SecretsManagerClient


@pytest.fixture(autouse=True)
def local_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse any connection beyond 127.0.0.1: no test may reach a real endpoint."""
    connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> None:
        if not (isinstance(address, tuple) and address[0] == "127.0.0.1"):
            raise AssertionError(f"a test tried to connect to {address!r}")
        connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def url(server_url: str) -> Iterator[str]:
    yield server_url
    request = urllib.request.Request(f"{server_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass


@pytest.fixture
def sm(url: str, boto_session: boto3.Session) -> SecretsManagerClient:
    """An admin client on the server, to set up secrets."""
    return boto_session.client("secretsmanager", endpoint_url=url)


@pytest.fixture
def db(sm: SecretsManagerClient, canary: str) -> dict[str, str]:
    """A JSON secret rotated once: AWSPREVIOUS and AWSCURRENT both hold the canary."""
    created = sm.create_secret(
        Name="prod/db",
        SecretString=json.dumps({"username": "app", "password": f"old-{canary}"}),
        KmsKeyId="alias/prod-secrets",
    )
    current = rotate_secret(sm, "prod/db", json.dumps({"username": "app", "password": canary}))
    return {"previous": created["VersionId"], "current": current, "arn": created["ARN"]}


@pytest.fixture
def cli(url: str, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run the command against the server; return (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        code = main([*argv, "--endpoint-url", url])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


# -- check --------------------------------------------------------------------------


def test_check_readable_reports_identity_versions_rotation_and_key(
    cli: Callable[..., tuple[int, str, str]], db: dict[str, str], canary: str
) -> None:
    code, out, err = cli("check", "prod/db")
    assert code == 0, err
    assert re.search(r"caller\s+arn:aws:\S+  \(account 123456789012\)", out)
    assert re.search(r"readable\s+yes", out)
    assert f"ARN           {db['arn']}" in out
    assert re.search(rf"{db['current']}\s+AWSCURRENT", out)
    assert re.search(rf"{db['previous']}\s+AWSPREVIOUS", out)
    assert re.search(r"rotation\s+not enabled", out)
    assert "next rotation" not in out  # nothing to schedule when rotation is off
    assert re.search(r"deletion\s+not scheduled", out)
    assert re.search(r"KMS key\s+alias/prod-secrets", out)
    assert canary not in out + err


def test_check_shows_rotation_schedule(
    cli: Callable[..., tuple[int, str, str]], sm: SecretsManagerClient
) -> None:
    sm.create_secret(Name="rotated", SecretString="x" * 8)
    sm.rotate_secret(
        SecretId="rotated", RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False
    )
    code, out, _ = cli("check", "rotated")
    assert code == 0
    assert re.search(r"rotation\s+enabled, every 30 days", out)
    assert re.search(r"next rotation \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", out)
    assert re.search(r"KMS key\s+aws/secretsmanager", out)


def test_check_missing_secret_exits_1(cli: Callable[..., tuple[int, str, str]]) -> None:
    code, out, _ = cli("check", "no/such/secret")
    assert code == 1
    assert re.search(r"readable\s+NO: SecretNotFoundError \[ResourceNotFoundException\]", out)
    assert "is NOT readable (SecretNotFoundError)" in out


def test_check_deleted_secret_exits_1_and_shows_the_schedule(
    cli: Callable[..., tuple[int, str, str]], sm: SecretsManagerClient, db: dict[str, str]
) -> None:
    sm.delete_secret(SecretId="prod/db", RecoveryWindowInDays=7)
    code, out, _ = cli("check", "prod/db")
    assert code == 1
    assert re.search(r"readable\s+NO: SecretDeletedError \[InvalidRequestException\]", out)
    assert re.search(r"deletion\s+SCHEDULED \(\d{4}-", out)


def test_check_denied_by_iam_exits_1_and_goes_on_past_describe(
    cli: Callable[..., tuple[int, str, str]],
    url: str,
    db: dict[str, str],
    canary: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    iam = boto3.client("iam", endpoint_url=url)
    iam.create_user(UserName="nobody")
    key = iam.create_access_key(UserName="nobody")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])

    with enable_iam_authentication():
        code, out, err = cli("check", "prod/db")
        get_code, get_out, get_err = cli("get", "prod/db")

    assert code == 1
    assert re.search(r"caller\s+arn:aws:iam::123456789012:user/nobody", out)
    assert re.search(r"readable\s+NO: SecretAccessDeniedError \[AccessDenied\]", out)
    assert "user/nobody is not authorized" in out
    assert re.search(r"metadata\s+DescribeSecret failed: SecretAccessDeniedError", out)
    assert get_code == 1
    assert get_out == ""
    assert get_err.startswith("secretcache: SecretAccessDeniedError [AccessDenied]")
    assert canary not in out + err + get_out + get_err


# -- get ----------------------------------------------------------------------------


def test_get_masks_the_value_and_lists_fields(
    cli: Callable[..., tuple[int, str, str]], db: dict[str, str], canary: str
) -> None:
    code, out, err = cli("get", "prod/db")
    assert code == 0
    assert re.search(rf"VersionId\s+{db['current']}", out)
    assert re.search(r"fields\s+password, username", out)
    assert re.search(r"value\s+\*{8}  \(string, \d+ chars; --reveal to show\)", out)
    assert canary not in out + err


def test_get_reveal_shows_the_value(
    cli: Callable[..., tuple[int, str, str]], db: dict[str, str], canary: str
) -> None:
    code, out, _ = cli("get", "prod/db", "--reveal")
    assert code == 0
    value_line = next(line for line in out.splitlines() if line.startswith("value"))
    assert json.loads(value_line.removeprefix("value").strip())["password"] == canary


def test_get_field(
    cli: Callable[..., tuple[int, str, str]], db: dict[str, str], canary: str
) -> None:
    code, out, _ = cli("get", "prod/db", "--field", "password")
    assert code == 0
    assert re.search(rf"value\s+\*{{8}}  \(string, {len(canary)} chars", out)
    assert canary not in out

    code, out, _ = cli("get", "prod/db", "--field", "password", "--reveal")
    assert code == 0
    assert re.search(rf"value\s+{canary}$", out, re.MULTILINE)


def test_get_json_has_metadata_and_the_value_only_with_reveal(
    cli: Callable[..., tuple[int, str, str]], db: dict[str, str], canary: str
) -> None:
    code, out, _ = cli("get", "prod/db", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["version_id"] == db["current"]
    assert doc["version_stages"] == ["AWSCURRENT"]
    assert doc["arn"] == db["arn"]
    assert "value" not in doc
    assert canary not in out

    code, out, _ = cli("get", "prod/db", "--json", "--reveal", "--field", "password")
    assert code == 0
    assert json.loads(out)["value"] == canary


def test_get_by_version_id_and_stage(
    cli: Callable[..., tuple[int, str, str]], db: dict[str, str], canary: str
) -> None:
    _, out, _ = cli("get", "prod/db", "--version-id", db["previous"], "--json", "--reveal")
    assert json.loads(out)["value"]["password"] == f"old-{canary}"

    _, out, _ = cli("get", "prod/db", "--stage", "AWSPREVIOUS", "--json")
    assert json.loads(out)["version_id"] == db["previous"]


def test_get_binary_is_base64_when_revealed(
    cli: Callable[..., tuple[int, str, str]], sm: SecretsManagerClient
) -> None:
    sm.create_secret(Name="blob", SecretBinary=b"\x00\xffkey")
    code, out, _ = cli("get", "blob")
    assert code == 0
    assert "(binary, 5 bytes" in out
    doc = json.loads(cli("get", "blob", "--json", "--reveal")[1])
    assert (doc["value"], doc["value_encoding"]) == ("AP9rZXk=", "base64")


def test_get_plain_text_and_non_string_fields(
    cli: Callable[..., tuple[int, str, str]], sm: SecretsManagerClient, canary: str
) -> None:
    sm.create_secret(Name="token", SecretString=canary)
    sm.create_secret(Name="pg", SecretString=json.dumps({"port": 5432, "tls": True}))

    code, out, _ = cli("get", "token")
    assert code == 0
    assert "fields" not in out  # not a JSON object: nothing to list
    assert canary not in out
    assert re.search(rf"value\s+{canary}$", cli("get", "token", "--reveal")[1], re.MULTILINE)

    _, out, _ = cli("get", "pg", "--field", "port")
    assert re.search(r"value\s+\*{8}  \(JSON number; --reveal to show\)", out)
    assert "5432" not in out
    assert re.search(r"value\s+5432$", cli("get", "pg", "--field", "port", "--reveal")[1], re.M)
    assert json.loads(cli("get", "pg", "--field", "tls", "--json", "--reveal")[1])["value"] is True


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (("get", "no/such/secret"), "SecretNotFoundError [ResourceNotFoundException]"),
        (("get", "prod/db", "--field", "nope"), "SecretFieldError"),
        (("get", "prod/db", "--stage", "AWSPENDING"), "SecretNotFoundError"),
    ],
)
def test_get_failure_is_one_typed_line_on_stderr(
    cli: Callable[..., tuple[int, str, str]],
    db: dict[str, str],
    canary: str,
    argv: tuple[str, ...],
    error: str,
) -> None:
    code, out, err = cli(*argv)
    assert code == 1
    assert out == ""
    assert err.startswith(f"secretcache: {error}")
    assert err.count("\n") == 1
    assert canary not in err


def test_get_deleted_secret_exits_1(
    cli: Callable[..., tuple[int, str, str]], sm: SecretsManagerClient, db: dict[str, str]
) -> None:
    sm.delete_secret(SecretId="prod/db", RecoveryWindowInDays=7)
    code, _, err = cli("get", "prod/db")
    assert code == 1
    assert err.startswith("secretcache: SecretDeletedError [InvalidRequestException]")


# -- usage and configuration errors -------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        (),
        ("get",),
        ("frobnicate", "x"),
        ("get", "prod/db", "--stage", "AWSCURRENT", "--version-id", "a" * 32),
        ("get", "prod/db", "--version-id", "too-short"),
        ("get", " "),
        ("check", ""),
        ("get", "prod/db", "--field", ""),
    ],
)
def test_usage_errors_exit_2(argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(list(argv)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "error" in captured.err


def test_help_reads_well(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for word in ("demo", "check", "get", "examples:", "exit codes"):
        assert word in out
    assert main(["get", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--stage", "--version-id", "--field", "--json", "--reveal", "--endpoint-url"):
        assert option in out


def test_connection_options_work_before_the_command_too(
    url: str, db: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--endpoint-url", url, "get", "prod/db", "--field", "username"]) == 0
    capsys.readouterr()
    assert main(["--endpoint-url", url, "--region", "us-east-1", "check", "prod/db"]) == 0
    # Given in both places, the one after the command wins.
    code = main(["--endpoint-url", "http://127.0.0.1:9", "get", "prod/db", "--endpoint-url", url])
    assert code == 0
    capsys.readouterr()


def test_connection_options_that_cannot_apply_are_usage_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--region", "us-east-1", "demo"]) == 2
    assert "do not apply" in capsys.readouterr().err
    assert main(["--endpoint-url", "http://127.0.0.1:9", "policy", "prod/db"]) == 2
    assert "does not apply" in capsys.readouterr().err
    # A profile picks the account and region the policy is for.
    assert main(["--profile", "no-such-profile", "policy", "prod/db"]) == 2
    assert "no-such-profile" in capsys.readouterr().err


def _isolate_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


def test_no_region_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _isolate_config(monkeypatch)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    assert main(["get", "prod/db"]) == 2
    assert "no AWS region" in capsys.readouterr().err


def test_no_credentials_is_a_configuration_error(
    cli: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _isolate_config(monkeypatch)
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    code, _, err = cli("check", "prod/db")
    assert code == 2
    assert "SecretCredentialsError" in err
    code, _, err = cli("get", "prod/db")
    assert code == 2
    assert "SecretCredentialsError" in err


def test_unknown_profile_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _isolate_config(monkeypatch)
    assert main(["check", "prod/db", "--profile", "nope"]) == 2
    assert "nope" in capsys.readouterr().err


def test_no_output_ever_holds_the_value_without_reveal(
    cli: Callable[..., tuple[int, str, str]], db: dict[str, str], canary: str
) -> None:
    runs = [
        ("check", "prod/db"),
        ("get", "prod/db"),
        ("get", "prod/db", "--json"),
        ("get", "prod/db", "--field", "password"),
        ("get", "prod/db", "--field", "password", "--json"),
        ("get", "prod/db", "--stage", "AWSPREVIOUS"),
        ("get", "prod/db", "--version-id", db["previous"], "--json"),
        ("get", "prod/db", "--field", "missing"),
    ]
    for argv in runs:
        _, out, err = cli(*argv)
        assert canary not in out + err, argv
