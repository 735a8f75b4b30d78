"""examples/lambda_handler.py invoked like Lambda would, on moto; examples/template.yaml read."""

from __future__ import annotations

import importlib.util
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import botocore.endpoint
import botocore.handlers
import pytest
import yaml
from moto.core import enable_iam_authentication

from secretcache.testing import rotate_secret

if TYPE_CHECKING:
    from types import ModuleType

    import boto3
    from mypy_boto3_secretsmanager import SecretsManagerClient

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SECRET = "example/db"


@dataclass
class FakeLambdaContext:
    """The attributes Powertools' inject_lambda_context reads."""

    function_name: str = "AuthorizedFunction"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:AuthorizedFunction"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def load_handler(monkeypatch: pytest.MonkeyPatch, secret_id: str, ttl: str = "300") -> ModuleType:
    """Import the example by path, fresh (a cold start), configured like the template does."""
    monkeypatch.setenv("SECRET_ID", secret_id)
    monkeypatch.setenv("SECRETCACHE_TTL", ttl)
    # Powertools keeps one logger per service name: a fresh name gets a fresh stream.
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", f"example-{uuid.uuid4().hex[:8]}")
    spec = importlib.util.spec_from_file_location(
        f"lambda_handler_{uuid.uuid4().hex}", EXAMPLES / "lambda_handler.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def invoke(module: ModuleType) -> dict[str, Any]:
    return module.handler({"path": "/session"}, FakeLambdaContext())  # type: ignore[no-any-return]


@pytest.fixture
def secret_arn(sm: SecretsManagerClient, canary: str) -> str:
    created = sm.create_secret(
        Name=SECRET, SecretString=json.dumps({"username": "app", "password": canary})
    )
    return created["ARN"]


def test_authorized_invocations_answer_200_and_reuse_the_cache(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sm: SecretsManagerClient,
    secret_arn: str,
    canary: str,
) -> None:
    module = load_handler(monkeypatch, secret_arn)
    assert module.cache.stats().api_calls == {}  # importing read nothing
    first, second = invoke(module), invoke(module)
    assert first["statusCode"] == second["statusCode"] == 200
    assert json.loads(first["body"]) == {"authenticated": True, "fields": ["password", "username"]}
    # The warm invocation was served from memory.
    assert module.cache.stats().api_calls == {"GetSecretValue": 1}
    logs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    read = [entry for entry in logs if entry["message"] == "secret read"]
    assert [entry["cache_hits"] for entry in read] == [0, 1]
    assert read[0]["secret_id"] == secret_arn
    assert read[0]["function_name"] == "AuthorizedFunction"
    assert canary not in json.dumps(logs) + first["body"]


def test_a_rotation_is_picked_up_by_a_warm_function(
    monkeypatch: pytest.MonkeyPatch, sm: SecretsManagerClient, secret_arn: str
) -> None:
    # TTL 0: every invocation revalidates, so the test needs no clock.
    module = load_handler(monkeypatch, secret_arn, ttl="0")
    invoke(module)
    rotate_secret(sm, secret_arn, json.dumps({"username": "app", "password": "x", "port": 1}))
    assert json.loads(invoke(module)["body"])["fields"] == ["password", "port", "username"]
    assert module.cache.stats().rotations == 1


def _assumed_role(
    boto_session: boto3.Session, monkeypatch: pytest.MonkeyPatch, actions: list[str]
) -> None:
    """Become a role allowed ``actions`` on Secrets Manager, as Lambda's role would be."""
    iam = boto_session.client("iam")
    sts = boto_session.client("sts")
    role = iam.create_role(
        RoleName=f"fn-{uuid.uuid4().hex[:8]}",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }
    ]
    if actions:
        # moto honours only "*" for Secrets Manager; the template scopes it to the ARN.
        statements.append({"Effect": "Allow", "Action": actions, "Resource": "*"})
    iam.put_role_policy(
        RoleName=role["RoleName"],
        PolicyName="fn",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    creds = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="lambda")["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", creds["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", creds["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", creds["SessionToken"])


@pytest.mark.parametrize(
    ("actions", "status"),
    [(["secretsmanager:GetSecretValue"], 200), ([], 403)],
    ids=["AuthorizedFunction", "UnauthorizedFunction"],
)
def test_iam_is_enforced(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    boto_session: boto3.Session,
    secret_arn: str,
    canary: str,
    actions: list[str],
    status: int,
) -> None:
    _assumed_role(boto_session, monkeypatch, actions)
    module = load_handler(monkeypatch, secret_arn)
    with enable_iam_authentication():
        answer = invoke(module)
    assert answer["statusCode"] == status
    if status == 403:
        assert json.loads(answer["body"]) == {
            "error": "SecretAccessDeniedError",
            "code": "AccessDenied",  # AWS itself says AccessDeniedException
        }
    assert canary not in capsys.readouterr().out + answer["body"]


def test_not_found_and_deleted_answer_404(
    monkeypatch: pytest.MonkeyPatch, sm: SecretsManagerClient, secret_arn: str
) -> None:
    missing = load_handler(monkeypatch, "no/such/secret")
    answer = invoke(missing)
    assert answer["statusCode"] == 404
    assert json.loads(answer["body"])["error"] == "SecretNotFoundError"

    sm.delete_secret(SecretId=secret_arn, RecoveryWindowInDays=7)
    deleted = load_handler(monkeypatch, secret_arn)
    answer = invoke(deleted)
    assert answer["statusCode"] == 404
    assert json.loads(answer["body"])["error"] == "SecretDeletedError"


def test_throttling_answers_503_with_retry_after(
    monkeypatch: pytest.MonkeyPatch, secret_arn: str
) -> None:
    # The example builds its own client, so the fault goes in for every new botocore
    # session (where moto's own hook lives), ahead of moto; retry sleeps are skipped.
    from botocore.awsrequest import AWSResponse, HTTPHeaders

    attempts: list[str] = []

    class Body:
        def stream(self, **kwargs: Any) -> Any:
            yield json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()

    def throttle(request: Any, **kwargs: Any) -> AWSResponse:
        attempts.append(request.url)
        headers = HTTPHeaders()
        headers["content-type"] = "application/x-amz-json-1.1"
        return AWSResponse(request.url, 400, headers, Body())

    hook = ("before-send.secrets-manager.GetSecretValue", throttle)
    monkeypatch.setattr(
        botocore.handlers, "BUILTIN_HANDLERS", [hook, *botocore.handlers.BUILTIN_HANDLERS]
    )
    monkeypatch.setattr(
        botocore.endpoint, "time", type("NoSleep", (), {"sleep": staticmethod(lambda s: None)})
    )
    module = load_handler(monkeypatch, secret_arn)
    answer = invoke(module)
    assert answer["statusCode"] == 503
    assert answer["headers"]["Retry-After"] == "5"
    assert json.loads(answer["body"]) == {
        "error": "SecretsManagerThrottledError",
        "code": "ThrottlingException",
    }
    assert len(attempts) == 3  # botocore's standard retries, then the typed error


# -- the template ----------------------------------------------------------------------


class CloudFormationLoader(yaml.SafeLoader):
    """A safe loader that reads !Ref, !GetAtt, !Sub... as their long forms."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


CloudFormationLoader.add_multi_constructor("!", _tag)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    text = (EXAMPLES / "template.yaml").read_text()
    loaded: dict[str, Any] = yaml.load(text, Loader=CloudFormationLoader)
    return loaded


def _granted_actions(resource: dict[str, Any]) -> list[tuple[str, Any]]:
    granted = []
    for policy in resource["Properties"].get("Policies", []):
        for statement in policy.get("Statement", []):
            assert statement["Effect"] == "Allow"
            actions = statement["Action"]
            for action in [actions] if isinstance(actions, str) else actions:
                granted.append((action, statement["Resource"]))
    return granted


def test_template_grants_get_secret_value_on_the_secret_only(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    assert resources["MySecret"]["Type"] == "AWS::SecretsManager::Secret"
    authorized = resources["AuthorizedFunction"]
    unauthorized = resources["UnauthorizedFunction"]
    assert authorized["Type"] == unauthorized["Type"] == "AWS::Serverless::Function"
    granted = _granted_actions(authorized)
    assert [action for action, _ in granted] == ["secretsmanager:GetSecretValue"]
    # The secret's ARN, then its replica's (checked in tests/test_example_failover.py).
    assert granted[0][1][0] == {"Ref": "MySecret"}
    assert len(granted[0][1]) == 2
    assert _granted_actions(unauthorized) == []
    assert "Role" not in unauthorized["Properties"]


def test_template_configures_the_handler_through_the_environment(
    template: dict[str, Any],
) -> None:
    function = template["Globals"]["Function"]
    assert function["Runtime"] == "python3.12"
    module_name, _, attribute = function["Handler"].partition(".")
    assert (EXAMPLES / f"{module_name}.py").is_file()
    assert attribute == "handler"
    variables = function["Environment"]["Variables"]
    assert variables["SECRET_ID"] == {"Ref": "MySecret"}
    assert variables["SECRETCACHE_TTL"] == {"Ref": "CacheTtlSeconds"}
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
