"""IAM's rules where moto does not apply them, for the policy tests.

moto's IAM enforcement checks each request's own action, and honours only grants whose
Resource is ``"*"`` for Secrets Manager; it never calls KMS and evaluates no condition
key. So the policy tests run the generated policy in moto with every Resource widened to
``"*"`` (``widened``), check the resource patterns with IAM's wildcard rules
(``iam_match``, ``allows``), and apply the two checks AWS documents inside
BatchGetSecretValue that moto skips (``BatchRules``): GetSecretValue on each secret in
the batch, and ListSecrets when the batch uses filters.
"""

from __future__ import annotations

import copy
import json
import re
from typing import TYPE_CHECKING, Any

from secretcache.testing import FaultInjector

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

Policy = dict[str, Any]


def iam_match(pattern: str, value: str, *, case: bool = True) -> bool:
    """Return whether IAM's ``pattern`` matches: ``*`` any run of characters, ``?`` one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.DOTALL | (0 if case else re.IGNORECASE)
    return re.fullmatch(regex, value, flags) is not None


def _many(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def allows(policy: Policy, action: str, resource: str) -> bool:
    """Return whether an Allow statement grants ``action`` on ``resource`` (no conditions)."""
    return any(
        statement["Effect"] == "Allow"
        and any(iam_match(a, action, case=False) for a in _many(statement["Action"]))
        and any(iam_match(r, resource) for r in _many(statement["Resource"]))
        for statement in policy["Statement"]
    )


def actions_of(policy: Policy) -> list[str]:
    """Return every action the policy names, in order."""
    return [a for statement in policy["Statement"] for a in _many(statement["Action"])]


def widened(policy: Policy) -> Policy:
    """Return the policy with every Resource ``"*"``: the only grant moto honours."""
    wide = copy.deepcopy(policy)
    for statement in wide["Statement"]:
        statement["Resource"] = "*"
    return wide


def without(policy: Policy, action: str) -> Policy:
    """Return the policy with ``action`` removed (and any statement it leaves empty)."""
    kept = []
    for statement in copy.deepcopy(policy)["Statement"]:
        left = [a for a in _many(statement["Action"]) if a != action]
        if left:
            statement["Action"] = left
            kept.append(statement)
    return {**policy, "Statement": kept}


class BatchRules:
    """Apply AWS's checks inside BatchGetSecretValue that moto skips, to ``policy``.

    A secret the policy may not GetSecretValue comes back in ``Errors`` as
    AccessDeniedException (AWS's documented answer); a filtered batch without ListSecrets
    is denied whole. The policy is the real one, resources and all.
    """

    def __init__(self, client: SecretsManagerClient, policy: Policy) -> None:
        self.client = client
        self.policy = policy
        self.faults = FaultInjector(client)

    def __enter__(self) -> BatchRules:
        events = self.client.meta.events
        events.register("before-parameter-build.secrets-manager.BatchGetSecretValue", self._before)
        events.register("after-call.secrets-manager.BatchGetSecretValue", self._after)
        self.faults.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.faults.stop()
        events = self.client.meta.events
        events.unregister(
            "before-parameter-build.secrets-manager.BatchGetSecretValue", self._before
        )
        events.unregister("after-call.secrets-manager.BatchGetSecretValue", self._after)

    def _before(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["asked"] = list(params.get("SecretIdList") or [])
        self.faults.heal()
        if "Filters" in params and not allows(self.policy, "secretsmanager:ListSecrets", "*"):
            self.faults.fail(
                "AccessDeniedException",
                operation="BatchGetSecretValue",
                message="User is not authorized to perform: secretsmanager:ListSecrets",
            )

    def _after(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        kept = []
        for item in parsed.get("SecretValues", []):
            if allows(self.policy, "secretsmanager:GetSecretValue", item["ARN"]):
                kept.append(item)
                continue
            asked = context.get("asked") or []
            secret_id = next((a for a in asked if a in (item["Name"], item["ARN"])), item["ARN"])
            parsed.setdefault("Errors", []).append(
                {
                    "SecretId": secret_id,
                    "ErrorCode": "AccessDeniedException",
                    "Message": "User is not authorized to perform: "
                    f"secretsmanager:GetSecretValue on resource: {json.dumps(secret_id)}",
                }
            )
        if "SecretValues" in parsed:
            parsed["SecretValues"] = kept
