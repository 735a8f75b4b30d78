"""ExtensionEmulator speaks the Agent's protocol: what a raw HTTP client sees of it."""

from __future__ import annotations

import http.client
import json
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache.testing import ExtensionEmulator, FakeClock


def get(
    emu: ExtensionEmulator, target: str, *, method: str = "GET", **headers: str
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=5)
    try:
        conn.request(method, target, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.fixture
def secret(sm: SecretsManagerClient) -> str:
    sm.create_secret(Name="app/db+1", SecretString='{"password": "pw"}')
    return "app/db+1"


def test_it_answers_get_secret_value_json_as_the_agent_writes_it(
    emulator: ExtensionEmulator, secret: str
) -> None:
    token = {"X-Aws-Parameters-Secrets-Token": emulator.token}
    status, body = get(emulator, f"/secretsmanager/get?secretId={quote(secret, safe='')}", **token)
    assert status == 200
    answer = json.loads(body)
    assert answer["Name"] == secret
    assert answer["VersionStages"] == ["AWSCURRENT"]
    assert isinstance(answer["CreatedDate"], str)  # epoch seconds as text, like the Agent
    path_form = get(emulator, f"/v1/{quote(secret, safe='')}", **token)
    assert json.loads(path_form[1])["VersionId"] == answer["VersionId"]
    vault = get(emulator, f"/v1/{quote(secret, safe='')}", **{"X-Vault-Token": emulator.token})
    assert vault[0] == 200
    assert get(emulator, "/ping") == (200, b"healthy")  # no token needed


def test_it_refuses_what_the_agent_refuses(emulator: ExtensionEmulator, secret: str) -> None:
    token = {"X-Aws-Parameters-Secrets-Token": emulator.token}
    target = f"/secretsmanager/get?secretId={quote(secret, safe='')}"
    assert get(emulator, target) == (403, b"Bad Token")
    assert get(emulator, target, **{"X-Aws-Parameters-Secrets-Token": "nope"})[0] == 403
    assert get(emulator, target, **token, **{"X-Forwarded-For": "10.0.0.1"}) == (
        400,
        b"Forwarded",
    )
    assert get(emulator, target, method="POST", **token)[0] == 405
    assert get(emulator, "/elsewhere", **token)[0] == 404
    assert get(emulator, target + "&color=red", **token) == (400, b"unknown parameter: color")
    assert get(emulator, "/secretsmanager/get", **token)[0] == 400  # no secretId
    status, body = get(emulator, "/secretsmanager/get?secretId=missing", **token)
    assert json.loads(body)["__type"] == "ResourceNotFoundException"
    assert status in (400, 404)  # the client's own status (moto's)


def test_its_cache_keeps_answers_for_its_ttl_and_refresh_now_bypasses_it(
    sm: SecretsManagerClient, emulator: ExtensionEmulator, secret: str, clock: FakeClock
) -> None:
    token = {"X-Aws-Parameters-Secrets-Token": emulator.token}
    target = f"/secretsmanager/get?secretId={quote(secret, safe='')}"
    first = json.loads(get(emulator, target, **token)[1])["VersionId"]
    sm.put_secret_value(SecretId=secret, SecretString='{"password": "pw2"}')
    assert json.loads(get(emulator, target, **token)[1])["VersionId"] == first
    assert emulator.calls == 1
    fresh = json.loads(get(emulator, target + "&refreshNow=true", **token)[1])["VersionId"]
    assert fresh != first
    assert json.loads(get(emulator, target, **token)[1])["VersionId"] == fresh  # updated
    clock.advance(301)
    get(emulator, target, **token)
    assert emulator.calls == 3
    assert [r.token_ok for r in emulator.requests] == [True] * 5
    assert emulator.token not in repr(emulator.requests)
    assert emulator.token not in repr(emulator)
