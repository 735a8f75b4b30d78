"""examples/fastapi_settings.py: a FastAPI app whose settings follow two rotating secrets.

In process, on moto, with FastAPI's TestClient: requests within the TTL cost no API call,
a rotation is served after the TTL, and a rotated value the model refuses keeps the last
good settings while /healthz names the field, never the value.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from fastapi.testclient import TestClient
from settings_kit import every_client_counted

from secretcache import SecretCache
from secretcache.testing import FakeClock, rotate_secret

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import ModuleType

    from mypy_boto3_secretsmanager import SecretsManagerClient

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "fastapi_settings.py"
TTL = 300.0


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_fastapi_settings", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


example = _load(SCRIPT)


def _db(username: str, port: object = 5432, password: str = "pw") -> str:
    return json.dumps({"username": username, "password": password, "host": "db", "port": port})


@pytest.fixture
def service(sm: SecretsManagerClient, clock: FakeClock) -> Iterator[tuple[TestClient, object]]:
    sm.create_secret(Name=example.DB_SECRET, SecretString=_db("app"))
    sm.create_secret(Name=example.PAYMENTS_SECRET, SecretString='{"api_key": "sk"}')
    with every_client_counted() as calls:
        client = boto3.client("secretsmanager", region_name="us-east-1")
        cache = SecretCache(client=client, clock=clock, ttl=TTL, jitter=0.0)
        with TestClient(example.create_app(cache)) as http:
            yield http, calls
        cache.close()


def test_requests_within_the_ttl_cost_no_call_and_a_rotation_is_served_after_it(
    service: tuple[TestClient, object], sm: SecretsManagerClient, clock: FakeClock
) -> None:
    http, calls = service
    for _ in range(20):
        answer = http.get("/whoami")
        assert answer.status_code == 200
        assert answer.json() == {
            "db": "app@db:5432",
            "log_level": "info",
            "payments_configured": True,
        }
    assert calls == {"GetSecretValue": 2}  # one per secret, for 20 requests
    rotate_secret(sm, example.DB_SECRET, _db("app2"))
    clock.advance(TTL)
    assert http.get("/whoami").json()["db"] == "app2@db:5432"
    assert calls == {"GetSecretValue": 4}  # each expired secret revalidated once
    assert http.get("/healthz").json() == {"settings": "ok", "refused": []}


def test_a_refused_rotation_keeps_the_last_good_settings_and_says_where(
    service: tuple[TestClient, object], sm: SecretsManagerClient, clock: FakeClock, canary: str
) -> None:
    http, _ = service
    assert http.get("/whoami").json()["db"] == "app@db:5432"
    rotate_secret(sm, example.DB_SECRET, _db("app3", port=f"port-{canary}", password=canary))
    clock.advance(TTL)
    assert http.get("/whoami").json()["db"] == "app@db:5432"
    health = http.get("/healthz")
    assert health.json()["settings"] == "last good kept"
    (refusal,) = health.json()["refused"]
    assert "port: int_parsing" in refusal
    assert canary not in health.text
