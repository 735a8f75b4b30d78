"""Shared fixtures: an in-process moto backend, clients, a fake clock, a leak canary.

Nothing here talks to AWS: credentials are fake, the region is fixed, and every test
that needs Secrets Manager runs inside ``mock_aws()``.
"""

from __future__ import annotations

import logging
import os
import uuid
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from secretcache import SecretCache
from secretcache.testing import FakeClock

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from mypy_boto3_secretsmanager import SecretsManagerClient

REGION = "us-east-1"

# The throwaway PostgreSQL cluster for the rotation tests lives in its own plugin module;
# db_setups holds the database integrations' setups and their ``db_cache`` fixture;
# framecheck gives the frame-locals tests their ``world`` fixture.
pytest_plugins = ["fixtures_postgres", "db_setups", "framecheck", "fixtures_extension"]

# Never reach a real endpoint, whatever the developer's shell holds.
for _var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_var, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = REGION
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ.pop("SECRETCACHE_TTL", None)


@pytest.fixture(scope="session")
def boto_session() -> boto3.Session:
    """One boto3 session for the run: building clients inside mock_aws() is then cheap."""
    return boto3.Session(region_name=REGION)


@pytest.fixture
def moto_backend() -> Iterator[None]:
    """An empty in-process moto backend for one test."""
    with mock_aws():
        yield


@pytest.fixture
def sm(boto_session: boto3.Session, moto_backend: None) -> SecretsManagerClient:
    """A Secrets Manager client on moto, with botocore's standard retries (3 attempts)."""
    return boto_session.client(
        "secretsmanager", config=Config(retries={"mode": "standard", "total_max_attempts": 3})
    )


@pytest.fixture
def clock() -> FakeClock:
    """A clock that moves only when the test says so."""
    return FakeClock()


@pytest.fixture
def make_cache(sm: SecretsManagerClient, clock: FakeClock) -> Iterator[Callable[..., SecretCache]]:
    """Build SecretCaches on the moto client and the fake clock (ttl 60 s, no jitter)."""
    built: list[SecretCache] = []

    def make(**kwargs: Any) -> SecretCache:
        kwargs.setdefault("client", sm)
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("ttl", 60.0)
        kwargs.setdefault("jitter", 0.0)
        cache = SecretCache(**kwargs)
        built.append(cache)
        return cache

    yield make
    for cache in built:
        cache.close()


@pytest.fixture
def canary() -> str:
    """A unique string to plant in a secret value and search for in every output."""
    return f"CANARY-{uuid.uuid4().hex}"


class RecordAll(logging.Handler):
    """Keep every record's formatted message (and exception text) for leak checks."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))


@pytest.fixture
def debug_logs() -> Iterator[RecordAll]:
    """Capture every log record at DEBUG on the root logger, botocore's included."""
    handler = RecordAll()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
