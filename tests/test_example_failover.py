"""The Lambda example survives a regional outage: a replicated secret, a failing-over cache."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import botocore.handlers
from botocore.exceptions import EndpointConnectionError
from test_example_lambda import invoke, load_handler, template

if TYPE_CHECKING:
    import pytest
    from mypy_boto3_secretsmanager import SecretsManagerClient

__all__ = ["template"]

ACCOUNT = "123456789012"


def _evaluate(node: Any, known: dict[str, str]) -> Any:
    """Evaluate the CloudFormation intrinsics the template's policy uses."""
    if isinstance(node, list):
        return [_evaluate(item, known) for item in node]
    if not isinstance(node, dict):
        return node
    ((name, arg),) = node.items()
    if name == "Ref":
        return known[arg]
    if name == "Fn::Sub":
        text = arg
        for key, value in known.items():
            text = text.replace("${" + key + "}", value)
        return text
    if name == "Fn::Join":
        separator, items = arg
        return separator.join(_evaluate(items, known))
    if name == "Fn::Split":
        separator, text = arg
        return _evaluate(text, known).split(separator)
    if name == "Fn::Select":
        index, items = arg
        return _evaluate(items, known)[int(index)]
    raise AssertionError(f"the test does not evaluate {name}")


def test_the_template_replicates_the_secret_and_grants_the_replicas_arn(
    template: dict[str, Any],
) -> None:
    region = template["Parameters"]["ReplicaRegion"]["Default"]
    secret = template["Resources"]["MySecret"]["Properties"]
    assert secret["ReplicaRegions"] == [{"Region": {"Ref": "ReplicaRegion"}}]
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["FALLBACK_REGIONS"] == {"Ref": "ReplicaRegion"}
    primary = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:app/db-AbCdEf"
    known = {
        "MySecret": primary,
        "ReplicaRegion": region,
        "AWS::AccountId": ACCOUNT,
        "AWS::Partition": "aws",
    }
    policies = template["Resources"]["AuthorizedFunction"]["Properties"]["Policies"]
    (statement,) = policies[0]["Statement"]
    assert _evaluate(statement["Resource"], known) == [
        primary,
        primary.replace("us-east-1", region),
    ]


def test_the_handler_answers_200_while_its_region_is_down(
    monkeypatch: pytest.MonkeyPatch, sm: SecretsManagerClient, canary: str
) -> None:
    created = sm.create_secret(
        Name="example/db",
        SecretString=json.dumps({"username": "app", "password": canary}),
        AddReplicaRegions=[{"Region": "us-west-2"}],
    )
    attempts: list[str] = []

    def region_down(request: Any, **kwargs: Any) -> None:
        attempts.append(request.url)
        if ".us-east-1." in request.url:
            raise EndpointConnectionError(endpoint_url=request.url)

    # The example builds its own clients: the fault goes in for every new botocore
    # session, ahead of moto's own hook.
    hook = ("before-send.secrets-manager", region_down)
    monkeypatch.setattr(
        botocore.handlers, "BUILTIN_HANDLERS", [hook, *botocore.handlers.BUILTIN_HANDLERS]
    )
    monkeypatch.setenv("FALLBACK_REGIONS", "us-west-2")
    module = load_handler(monkeypatch, created["ARN"])
    answer = invoke(module)
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["authenticated"] is True
    stats = module.cache.stats()
    assert stats.failovers == 1
    assert stats.calls_by_region == {"us-east-1": 1, "us-west-2": 1}
    assert [url.split(".")[1] for url in attempts] == ["us-east-1", "us-west-2"]
    assert canary not in answer["body"]
