"""The demo: the classic walkthrough end to end, in-process and as a subprocess."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from secretcache.cli import main
from secretcache.cli.demo import ROTATED_VALUE, SECRET_VALUE

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any socket connection: the demo must never leave the process."""

    def refuse(self: socket.socket, address: Any) -> None:
        raise AssertionError(f"the demo tried to connect to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


@pytest.fixture
def run_demo(
    capsys: pytest.CaptureFixture[str], no_network: None
) -> Callable[..., tuple[int, str]]:
    def run(*args: str) -> tuple[int, str]:
        code = main(["demo", *args])
        captured = capsys.readouterr()
        assert captured.err == ""
        return code, captured.out

    return run


def test_demo_walks_through_authorized_denied_cache_rotation_and_deletion(
    run_demo: Callable[..., tuple[int, str]],
) -> None:
    code, out = run_demo()
    assert code == 0
    # The authorized read: name, ARN, VersionId, stages.
    assert re.search(r"ARN\s+arn:aws:secretsmanager:us-east-1:123456789012:secret:MySecret-", out)
    assert re.search(r"VersionId\s+[0-9a-f-]{36}", out)
    assert re.search(r"stages\s+AWSCURRENT", out)
    # The unauthorized read: the typed error, its code, and a message naming the role.
    assert re.search(r"error\s+SecretAccessDeniedError", out)
    assert re.search(r"code\s+AccessDenied", out)
    assert "assumed-role/UnauthorizedRole/" in out
    # The cache at work, the rotation, the deletion.
    assert re.search(r"second read\s+0 API calls", out)
    assert re.search(r"refresh\(\)\s+True", out)
    assert re.search(r"RotationEvent\s+MySecret AWSCURRENT: \w{8}\.\.\. -> \w{8}\.\.\.", out)
    assert "recovery window 7 days" in out
    assert "SecretDeletedError" in out


def test_demo_masks_the_value_unless_revealed(run_demo: Callable[..., tuple[int, str]]) -> None:
    _, masked = run_demo()
    assert SECRET_VALUE not in masked
    assert ROTATED_VALUE not in masked
    assert '{"secret": ********}' in masked

    code, revealed = run_demo("--reveal")
    assert code == 0
    assert SECRET_VALUE in revealed
    assert ROTATED_VALUE in revealed


def test_demo_leaves_the_users_environment_as_it_was(
    run_demo: Callable[..., tuple[int, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A profile and endpoint override that would break (or redirect) any client
    # built from the environment: the demo must ignore them and put them back.
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    before = dict(os.environ)

    code, _ = run_demo()

    assert code == 0
    assert dict(os.environ) == before


def test_demo_without_moto_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "moto", None)  # makes `import moto` fail

    assert main(["demo"]) == 2
    assert "pip install 'secretcache[demo]'" in capsys.readouterr().err


def test_python_dash_m_secretcache_demo_exits_zero() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_PROFILE"] = "no-such-profile"  # must not matter to the demo
    result = subprocess.run(
        [sys.executable, "-m", "secretcache", "demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "SecretAccessDeniedError" in result.stdout
    assert "SecretDeletedError" in result.stdout
    assert SECRET_VALUE not in result.stdout + result.stderr
