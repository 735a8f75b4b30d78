"""The source a cache built with no arguments reads through, and what that path imports.

In Lambda with the extension configured, ``SecretCache()`` reads through it;
``SECRETCACHE_SOURCE`` forces the choice; ``secretcache check`` and a DEBUG line say
which. Subprocesses (a fresh interpreter each, the emulator in this one) prove that no
botocore, boto3 or aiobotocore module is loaded on the extension's path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

from secretcache import SecretCache
from secretcache.aio import AsyncSecretCache
from secretcache.cli import main

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache.testing import ExtensionEmulator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SDK_MODULES = ("botocore", "boto3", "aiobotocore")


@pytest.fixture
def secret(sm: SecretsManagerClient) -> str:
    sm.create_secret(Name="prod/db", SecretString=json.dumps({"password": "pw1"}))
    return "prod/db"


@pytest.fixture
def in_lambda(monkeypatch: pytest.MonkeyPatch, emulator: ExtensionEmulator) -> ExtensionEmulator:
    """Look like a Lambda function with the extension layer, pointed at the emulator."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "handler")
    for name, value in emulator.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SECRETCACHE_SOURCE", raising=False)
    return emulator


def test_in_lambda_with_the_extension_a_default_cache_reads_through_it(
    secret: str, in_lambda: ExtensionEmulator
) -> None:
    with SecretCache() as cache:
        assert cache.get_secret_field(secret, "password") == "pw1"
    assert len(in_lambda.requests) == 1


def test_secretcache_source_forces_the_choice_either_way(
    secret: str, in_lambda: ExtensionEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRETCACHE_SOURCE", "sdk")
    with SecretCache() as cache:
        assert cache.get_secret_field(secret, "password") == "pw1"  # moto, directly
    assert in_lambda.requests == []
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
    monkeypatch.setenv("SECRETCACHE_SOURCE", "extension")
    with SecretCache() as cache:
        assert cache.get_secret_field(secret, "password") == "pw1"
    assert len(in_lambda.requests) == 1
    monkeypatch.setenv("SECRETCACHE_SOURCE", "lambda")
    with pytest.raises(ValueError, match="SECRETCACHE_SOURCE"):
        SecretCache()


def test_describe_mode_in_lambda_with_the_extension_is_refused(in_lambda: object) -> None:
    with pytest.raises(ValueError, match="DescribeSecret"):
        SecretCache(revalidate="describe")
    with pytest.raises(ValueError, match="DescribeSecret"):
        AsyncSecretCache(revalidate="describe")


def test_check_says_what_secretcache_reads_through(
    secret: str, in_lambda: ExtensionEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", secret]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "SecretCache()" in x)
    assert "Lambda extension" in line
    assert f"localhost:{in_lambda.port}" in line
    assert in_lambda.token not in line


def run_child(code: str, env: dict[str, str]) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; return the JSON it prints last."""
    child_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_LAMBDA", "SECRETCACHE_", "PARAMETERS_"))
    }
    child_env.update(env, PYTHONPATH=ROOT)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    result["stderr"] = done.stderr
    return result


REPORT = f"""
import json, sys
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {SDK_MODULES!r})
print(json.dumps({{"value": value, "loaded": loaded}}))
"""


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(
            """
            from secretcache import SecretCache, ExtensionSource
            value = SecretCache(source=ExtensionSource()).get_secret_field("prod/db", "password")
            """,
            id="sync",
        ),
        pytest.param(
            """
            import asyncio
            from secretcache.aio import AsyncSecretCache, AsyncExtensionSource
            async def main():
                cache = AsyncSecretCache(source=AsyncExtensionSource())
                return await cache.get_secret_field("prod/db", "password")
            value = asyncio.run(main())
            """,
            id="async",
        ),
        pytest.param(
            """
            from secretcache import SecretCache
            value = SecretCache().get_secret_field("prod/db", "password")
            """,
            id="auto-detected",
        ),
        pytest.param(
            """
            import asyncio
            from secretcache.aio import AsyncSecretCache
            async def main():
                return await AsyncSecretCache().get_secret_field("prod/db", "password")
            value = asyncio.run(main())
            """,
            id="auto-detected-async",
        ),
        pytest.param(
            """
            from secretcache import SecretCache, inject_secret
            cache = SecretCache(fallback_regions=("us-west-2",))  # built only if needed
            @inject_secret("prod/db", into="password", field="password", cache=cache)
            def handler(event, context, password):
                return password
            value = handler({}, None)
            """,
            id="decorator-with-fallback-regions",
        ),
    ],
)
def test_no_sdk_module_is_loaded_after_a_read_through_the_extension(
    secret: str, emulator: ExtensionEmulator, code: str
) -> None:
    env = {**emulator.env, "AWS_LAMBDA_FUNCTION_NAME": "handler"}
    result = run_child(textwrap.dedent(code) + REPORT, env)
    assert result["value"] == "pw1"
    assert result["loaded"] == []
    assert emulator.requests  # it was the emulator that answered


def test_the_choice_is_logged_at_debug_once_per_process(
    secret: str, emulator: ExtensionEmulator
) -> None:
    code = """
    import logging
    logging.basicConfig(level=logging.DEBUG)
    from secretcache import SecretCache
    caches = [SecretCache(), SecretCache()]
    value = caches[1].get_secret_field("prod/db", "password")
    """
    env = {**emulator.env, "AWS_LAMBDA_FUNCTION_NAME": "handler"}
    result = run_child(textwrap.dedent(code) + REPORT, env)
    told = [x for x in str(result["stderr"]).splitlines() if "reading through" in x]
    assert len(told) == 1
    assert "Lambda extension" in told[0]
    assert emulator.token not in str(result["stderr"])
