"""Report errors that pass through secretcache to sentry-sdk at its defaults; print the events.

Run by ``tests/test_frames_sentry.py`` in a subprocess, because ``sentry_sdk.init`` patches
the process for good: ``python sentry_scenarios.py [--recipe] < CANARY`` (on stdin, since
sentry-sdk reports ``sys.argv``). There is no DSN, so nothing can be sent anywhere;
``before_send`` keeps each event (already serialized, local variables included) and
returns None. With ``--recipe``, the manual's ``before_send`` for ``@inject_secret`` users
is applied first. Prints ``[[scenario, event], ...]`` as JSON.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

from docs_pages import python_blocks
from framecheck import raised

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_secretsmanager import SecretsManagerClient

RECIPE = "drop_vars_below_inject_secret"


class LoginFailed(Exception):
    """What a database driver raises on a wrong password."""


def _connect(conninfo: str) -> None:
    """Stands for a database driver: its frame holds what it was given."""
    raise LoginFailed("password authentication failed for user app")


def _creds(sm: SecretsManagerClient, canary: str, name: str) -> str:
    sm.create_secret(Name=name, SecretString=json.dumps({"user": "app", "password": canary}))
    return name


def _decorated_handler(sm: SecretsManagerClient, canary: str) -> list[BaseException]:
    from secretcache import SecretCache, inject_secret

    name = _creds(sm, canary, "handler/db")

    @inject_secret(name, into="conninfo", field="password", cache=SecretCache(client=sm),
                   refresh_on=LoginFailed)  # fmt: skip
    def handler(event: dict[str, Any], conninfo: str = "") -> None:
        _connect(conninfo)

    return [raised(handler, {"path": "/orders"})]


def _format_errors(sm: SecretsManagerClient, canary: str) -> list[BaseException]:
    from secretcache import SecretCache
    from secretcache.testing import rotate_secret

    cache = SecretCache(client=sm)
    name = _creds(sm, canary, "format/db")
    assert cache.get_secret_json(name)["password"] == canary
    missing = raised(cache.get_secret_field, name, "host")
    rotate_secret(sm, name, '{"password": ' + canary)  # no longer JSON
    cache.refresh(name)
    return [missing, raised(cache.get_secret_json, name), raised(cache.get_secret_field, name, "x")]


def _aws_errors(sm: SecretsManagerClient, canary: str) -> list[BaseException]:
    from secretcache import SecretCache
    from secretcache.testing import FakeClock, FaultInjector

    clock = FakeClock()
    cache = SecretCache(client=sm, clock=clock, max_stale=0.0)
    name = _creds(sm, canary, "aws/db")
    assert cache.get_secret_field(name, "password") == canary
    clock.advance(3600)
    with FaultInjector(sm) as faults:
        faults.fail("AccessDeniedException")
        return [raised(cache.get_secret_json, name), raised(cache.get_secret_json, name)]


def _powertools_and_compat(sm: SecretsManagerClient, canary: str) -> list[BaseException]:
    from secretcache import SecretCache
    from secretcache.compat import InjectKeywordedSecretString
    from secretcache.compat import SecretCache as CompatCache
    from secretcache.integrations.powertools import SecretCacheProvider

    name = _creds(sm, canary, "other/db")
    provider = SecretCacheProvider(SecretCache(client=sm))

    @InjectKeywordedSecretString(name, CompatCache(client=sm), conninfo="password")
    def legacy(conninfo: str) -> None:
        _connect(conninfo)

    return [raised(provider.get, name, transform="binary"), raised(legacy)]


SCENARIOS: dict[str, Callable[[SecretsManagerClient, str], list[BaseException]]] = {
    "inject_secret": _decorated_handler,
    "format": _format_errors,
    "aws": _aws_errors,
    "powertools-compat": _powertools_and_compat,
}


def manual_recipe() -> Callable[[dict[str, Any], dict[str, Any]], Any]:
    """Return the manual's before_send for @inject_secret users (its code, run as written)."""
    ((where, code),) = [(p, c) for p, c in python_blocks() if f"def {RECIPE}(" in c]
    namespace: dict[str, Any] = {"__name__": "manual_recipe"}
    exec(compile(code, where, "exec"), namespace)
    return namespace[RECIPE]  # type: ignore[no-any-return]


def main(argv: list[str]) -> None:
    canary, recipe = sys.stdin.read().strip(), "--recipe" in argv[1:]
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    os.environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    import boto3
    import sentry_sdk
    from moto import mock_aws

    scrub = manual_recipe() if recipe else None
    events: list[dict[str, Any]] = []

    def before_send(event: Any, hint: Any) -> Any:
        events.append(scrub(event, hint) if scrub is not None else event)
        return None  # kept here, never sent

    # sentry-sdk's defaults otherwise: include_local_variables=True, the default scrubber.
    sentry_sdk.init(before_send=before_send)
    out: list[tuple[str, dict[str, Any]]] = []
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        for name, scenario in SCENARIOS.items():
            for error in scenario(sm, canary):
                sentry_sdk.capture_exception(error)
                out.append((name, events.pop()))
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv)
