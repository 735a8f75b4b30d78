"""Migrating a Lambda handler written for aws-secretsmanager-caching: change the import.

The same handler source runs once as written (against the official package, which the
dev environment installs for the benchmarks) and once with ``aws_secretsmanager_caching``
replaced by ``secretcache.compat``; every invocation must answer the same.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from typing import TYPE_CHECKING, Any

from secretcache.testing import counting_calls

if TYPE_CHECKING:
    from pathlib import Path
    from types import ModuleType

    from mypy_boto3_secretsmanager import SecretsManagerClient

HANDLER = """
import boto3
from botocore.exceptions import ClientError

from aws_secretsmanager_caching import SecretCache, SecretCacheConfig
from aws_secretsmanager_caching.decorators import InjectKeywordedSecretString, InjectSecretString

client = boto3.client("secretsmanager")
cache = SecretCache(config=SecretCacheConfig(secret_refresh_interval=300), client=client)


@InjectKeywordedSecretString("prod/db", cache, user="username", password="password")
def dsn(host, user, password):
    return f"postgresql://{user}:{password}@{host}/app"


class Api:
    def __init__(self, base):
        self.base = base

    @InjectSecretString("prod/api-token", cache)
    def get(self, token, path):
        return f"GET {self.base}{path} token={token}"


def handler(event, context):
    try:
        extra = cache.get_secret_string(event["extra"]) if "extra" in event else None
        return {
            "status": 200,
            "dsn": dsn(event["host"]),
            "api": Api("https://api.local").get(event["path"]),
            "pending": cache.get_secret_string("prod/db", "AWSPENDING"),
            "key": cache.get_secret_binary("prod/tls-key"),
            "extra": extra,
        }
    except ClientError as error:
        return {"status": 502, "error": error.response["Error"]["Code"]}
"""

EVENTS: list[dict[str, Any]] = [
    {"host": "db1", "path": "/a"},
    {"host": "db2", "path": "/b"},
    {"host": "db3", "path": "/c", "extra": "prod/missing"},
    {"host": "db4", "path": "/d"},
]


def _load(source: str, name: str, folder: Path) -> ModuleType:
    path = folder / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


def _invoke_all(module: ModuleType) -> tuple[list[dict[str, Any]], list[dict[str, int]]]:
    answers, calls = [], []
    for event in EVENTS:
        with counting_calls(module.client) as counts:
            answers.append(module.handler(event, None))
        calls.append(dict(counts))
    return answers, calls


def test_the_migrated_handler_answers_like_the_original(
    sm: SecretsManagerClient, tmp_path: Path
) -> None:
    sm.create_secret(Name="prod/db", SecretString=json.dumps({"username": "app", "password": "pw"}))
    sm.create_secret(Name="prod/api-token", SecretString="t0ken")
    sm.create_secret(Name="prod/tls-key", SecretBinary=b"\x00key")
    migrated_source = HANDLER.replace("aws_secretsmanager_caching", "secretcache.compat")
    assert migrated_source.count("secretcache.compat") == 2  # the whole migration

    original, _ = _invoke_all(_load(HANDLER, "handler_official", tmp_path))
    migrated, calls = _invoke_all(_load(migrated_source, "handler_compat", tmp_path))

    assert migrated == original
    assert migrated[0] == {
        "status": 200,
        "dsn": "postgresql://app:pw@db1/app",
        "api": "GET https://api.local/a token=t0ken",
        "pending": None,
        "key": b"\x00key",
        "extra": None,
    }
    assert migrated[2] == {"status": 502, "error": "ResourceNotFoundException"}
    # Cold: a DescribeSecret per secret and a GetSecretValue per value; warm: nothing.
    assert calls[0] == {"DescribeSecret": 3, "GetSecretValue": 3}
    assert calls[1] == {}
    assert calls[2] == {"DescribeSecret": 1}
    assert calls[3] == {}
