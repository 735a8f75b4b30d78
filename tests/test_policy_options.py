"""`secretcache policy`'s free-form options are checked before anything asks AWS."""

from __future__ import annotations

import pytest

from secretcache.cli import main
from secretcache.cli._options import check_account, check_kms_key, check_options, check_region

ACCOUNT = "123456789012"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_regions_are_known_from_botocores_endpoint_data() -> None:
    assert check_region("us-east-1") == "aws"
    assert check_region("eu-central-1") == "aws"
    assert check_region("cn-north-1") == "aws-cn"
    assert check_region("us-gov-west-1") == "aws-us-gov"


@pytest.mark.parametrize(
    ("region", "hint"),
    [
        ("us-eest-1", "did you mean us-east-1 or us-west-1?"),  # matches aws's name pattern
        ("eu-wset-1", "did you mean eu-west-1?"),
        ("US-EAST-1", ""),
        ("us-east-1 ", "did you mean us-east-1?"),
        ("mars-north-1", ""),
    ],
)
def test_an_unknown_region_is_named_with_the_nearest_real_ones(region: str, hint: str) -> None:
    with pytest.raises(ValueError, match="unknown AWS region") as caught:
        check_region(region)
    assert repr(region) in str(caught.value)
    assert hint in str(caught.value)
    if not hint:
        assert "did you mean" not in str(caught.value)


@pytest.mark.parametrize(
    "account", ["1234", "1234567890123", "12345678901a", " 123456789012", "١٢٣٤٥٦٧٨٩٠١٢"]
)
def test_an_account_is_twelve_ascii_digits(account: str) -> None:
    with pytest.raises(ValueError, match="12 digits") as caught:
        check_account(account)
    assert repr(account) in str(caught.value)


def test_a_kms_key_arn_names_a_real_region_of_its_partition() -> None:
    assert check_kms_key(KEY) == ("us-east-1", "1234abcd-12ab-34cd-56ef-1234567890ab")
    with pytest.raises(ValueError, match="us-eest-1"):
        check_kms_key(KEY.replace("us-east-1", "us-eest-1"))
    with pytest.raises(ValueError, match="disagree"):
        check_kms_key(KEY.replace("arn:aws:", "arn:aws-cn:"))
    with pytest.raises(ValueError, match="give the key's ARN"):
        check_kms_key("alias/prod")


def test_the_first_bad_option_is_named() -> None:
    check_options(["us-east-1", "eu-west-1"], ACCOUNT, [KEY])
    with pytest.raises(ValueError, match="'eu-wset-1'"):
        check_options(["us-east-1", "eu-wset-1"], ACCOUNT, [KEY])


@pytest.mark.parametrize(
    "argv",
    [
        ["policy", "prod/db", "--region", "us-eest-1"],  # no --account: STS is never asked
        ["policy", "prod/db", "--region", "us-east-1", "--region", "us-eest-1"],
        ["--region", "us-eest-1", "policy", "prod/db", "--account", ACCOUNT],
        ["policy", f"arn:aws:secretsmanager:us-eest-1:{ACCOUNT}:secret:db-AbCdEf"],
        ["policy", "prod/db", "--region", "us-east-1", "--kms-key", KEY.replace("east", "eest")],
    ],
)
def test_a_mistyped_region_exits_2_naming_it(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "'us-eest-1'" in captured.err
    assert "unknown AWS region" in captured.err
    assert "cannot tell your account" not in captured.err


def test_a_malformed_account_exits_2_before_any_aws_call(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["policy", "prod/db", "--account", "1111-2222-3333"]) == 2
    err = capsys.readouterr().err
    assert "--account '1111-2222-3333': an AWS account id is 12 digits" in err


@pytest.mark.parametrize("command", [[], ["get"], ["check"], ["policy"]])
def test_usage_lines_name_options_as_a_reader_would(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--help"]) == 0
    text = capsys.readouterr().out
    assert "BEFORE_" not in text
    assert "--region REGION" in text or "--region R" in text


@pytest.mark.parametrize("url", ["notaurl", "ftp://127.0.0.1", "http://", "http://[::1"])
@pytest.mark.parametrize("command", ["get", "check"])
def test_a_malformed_endpoint_url_exits_2_naming_it(
    url: str, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "prod/db", "--region", "us-east-1", "--endpoint-url", url]) == 2
    err = capsys.readouterr().err
    assert f"argument --endpoint-url: {url!r} is not an http:// or https:// URL" in err


@pytest.mark.parametrize("command", ["get", "check"])
def test_get_and_check_refuse_a_mistyped_region_against_aws(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", raising=False)
    assert main([command, "prod/db", "--region", "us-eest-1"]) == 2
    err = capsys.readouterr().err
    assert "--region 'us-eest-1': unknown AWS region" in err
    assert "did you mean us-east-1" in err
