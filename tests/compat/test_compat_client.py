"""The client compat builds when given none: at construction, from botocore alone."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import botocore.session
import pytest
from botocore.exceptions import NoRegionError

import secretcache
from secretcache.compat import SecretCache

if TYPE_CHECKING:
    from pathlib import Path

    from mypy_boto3_secretsmanager import SecretsManagerClient


def test_the_default_client_says_who_it_is(
    sm: SecretsManagerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    sm.create_secret(Name="db", SecretString="v1")
    session = botocore.session.get_session()
    agents: list[str] = []

    def record(request: Any, **kwargs: Any) -> None:
        agents.append(request.headers["User-Agent"].decode())

    session.register("before-send.secrets-manager", record)
    monkeypatch.setattr(botocore.session, "get_session", lambda: session)
    cache = SecretCache()  # built here: the region is us-east-1 (tests/conftest.py)
    assert cache.get_secret_string("db") == "v1"
    assert len(agents) == 2
    assert all(f"secretcache/{secretcache.__version__}" in agent for agent in agents)


def test_no_region_fails_at_construction(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(NoRegionError):
        SecretCache()
