"""examples/extension_handler.py run like Lambda with the extension layer, on the emulator.

The handler module is imported fresh (a cold start) with the environment Lambda and the
template give it; ExtensionEmulator plays the layer in front of moto. A subprocess run
shows what the cold start imports.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from test_example_lambda import CloudFormationLoader

if TYPE_CHECKING:
    from types import ModuleType

    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache.testing import ExtensionEmulator

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SECRET = "example/db"


@pytest.fixture
def secret(sm: SecretsManagerClient) -> str:
    sm.create_secret(Name=SECRET, SecretString=json.dumps({"username": "app", "password": "pw"}))
    return SECRET


@pytest.fixture
def lambda_env(monkeypatch: pytest.MonkeyPatch, emulator: ExtensionEmulator) -> dict[str, str]:
    env = {**emulator.env, "AWS_LAMBDA_FUNCTION_NAME": "ExtensionFunction", "SECRET_ID": SECRET}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SECRETCACHE_SOURCE", raising=False)
    return env


def load(lambda_env: dict[str, str]) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"extension_handler_{uuid.uuid4().hex}", EXAMPLES / "extension_handler.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def invoke(module: ModuleType) -> dict[str, Any]:
    return module.handler({}, None)  # type: ignore[no-any-return]


def test_the_handler_reads_through_the_extension_once_per_ttl(
    secret: str, emulator: ExtensionEmulator, lambda_env: dict[str, str]
) -> None:
    module = load(lambda_env)
    assert emulator.requests == []  # nothing during INIT
    first, second = invoke(module), invoke(module)
    assert first["statusCode"] == second["statusCode"] == 200
    body = json.loads(second["body"])
    assert body == {"username": "app", "has_password": True, "api_calls": {"GetSecretValue": 1}}
    assert len(emulator.requests) == 1
    assert "pw" not in second["body"]


def test_an_extension_not_ready_is_a_503_and_the_next_invocation_reads(
    secret: str, emulator: ExtensionEmulator, lambda_env: dict[str, str]
) -> None:
    module = load(lambda_env)
    emulator.not_ready("init")
    answer = invoke(module)
    assert answer["statusCode"] == 503
    assert json.loads(answer["body"])["code"] == "ExtensionNotReady"
    assert answer["headers"]["Retry-After"] == "1"
    emulator.ready()
    assert invoke(module)["statusCode"] == 200  # nothing remembered from the failure


def test_typed_errors_become_http_answers(
    emulator: ExtensionEmulator, lambda_env: dict[str, str]
) -> None:
    assert invoke(load(lambda_env))["statusCode"] == 404  # no such secret in moto
    emulator.fail(400, "AccessDeniedException", "not authorized")
    assert invoke(load(lambda_env))["statusCode"] == 403  # a fresh environment


def test_the_cold_start_imports_no_sdk(
    secret: str, emulator: ExtensionEmulator, lambda_env: dict[str, str]
) -> None:
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); import extension_handler as h; "
        "answer = h.handler({}, None); "
        "sdk = [m for m in sys.modules if m.split('.')[0] in ('botocore', 'boto3')]; "
        "print(json.dumps([answer['statusCode'], sdk]))"
    )
    env = {**os.environ, **lambda_env, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(EXAMPLES)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [200, []]


def test_the_template_adds_the_layer_as_a_parameter_and_grants_the_read() -> None:
    import yaml

    template = yaml.load((EXAMPLES / "template.yaml").read_text(), Loader=CloudFormationLoader)
    assert template["Parameters"]["ExtensionLayerArn"]["Type"] == "String"
    function = template["Resources"]["ExtensionFunction"]["Properties"]
    assert function["Handler"] == "extension_handler.handler"
    assert function["Layers"] == [{"Ref": "ExtensionLayerArn"}]
    assert "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT" in function["Environment"]["Variables"]
    statement = function["Policies"][0]["Statement"][0]
    assert statement["Action"] == ["secretsmanager:GetSecretValue"]
    assert statement["Resource"] == [{"Ref": "MySecret"}]
