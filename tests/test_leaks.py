"""Leak scanner: a planted canary value must appear in no output a user could see.

Each scenario runs whole (errors, JSON failures, the fault matrix, the decorator, the
CLI without --reveal, the demo) while the ``leaks`` fixture records every log record at
DEBUG on the root logger (botocore's included), every warning, and every exception's
str/repr/args with its causes and contexts, plus the reprs of the public objects; the
test fails if the canary (or its base64 form, as botocore logs binaries) shows anywhere.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import traceback
import uuid
import warnings
from typing import TYPE_CHECKING, Any

import pytest
from faultmatrix import FAULTS, FaultCase
from framecheck import exceptions
from test_fault_matrix import run_cell

import secretcache
from secretcache import (
    SecretCache,
    SecretFieldError,
    SecretFormatError,
    SecretsManagerThrottledError,
    inject_secret,
    install_log_scrubber,
    remove_log_scrubber,
)
from secretcache.testing import FakeClock, FaultInjector, rotate_secret

if TYPE_CHECKING:
    from collections.abc import Iterator

    import boto3
    from mypy_boto3_secretsmanager import SecretsManagerClient


class LeakScanner(logging.Handler):
    """Collect every text a user could see, and fail if a needle shows up in one."""

    def __init__(self, canary: str) -> None:
        super().__init__(level=logging.DEBUG)
        self.canary = canary
        self.needles = {canary, base64.b64encode(canary.encode()).decode()}
        self.texts: list[tuple[str, str]] = []
        self.records = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1
        self.texts.append((f"log {record.name}", self.format(record)))

    def add(self, where: str, text: object) -> None:
        self.texts.append((where, str(text)))

    def objects(self, *objs: object) -> None:
        """Record the repr and str of public objects."""
        for obj in objs:
            self.add(f"repr {type(obj).__name__}", repr(obj))
            self.add(f"str {type(obj).__name__}", str(obj))

    def exception(self, exc: BaseException) -> None:
        """Record str/repr/args of an exception and of every cause and context."""
        for current in exceptions(exc):
            name = type(current).__name__
            self.add(f"str {name}", str(current))
            self.add(f"repr {name}", repr(current))
            self.add(f"args {name}", repr(current.args))
            # Every exception's attributes: error reporters serialise them, and e.g.
            # JSONDecodeError keeps the whole document it failed on in ``doc``.
            self.add(f"attrs {name}", repr(getattr(current, "__dict__", {})))
            self.add(f"notes {name}", repr(getattr(current, "__notes__", [])))
        self.add("traceback", "".join(traceback.format_exception(exc)))

    def leaked(self) -> list[str]:
        """Return where a needle was found (empty when clean)."""
        return [
            f"{where}: ...{text[max(0, text.find(n) - 80) : text.find(n) + 40]}..."
            for where, text in self.texts
            for n in self.needles
            if n in text
        ]


@pytest.fixture
def leaks(canary: str) -> Iterator[LeakScanner]:
    """Capture logs at DEBUG and warnings for the test; fail on any canary found."""
    scanner = LeakScanner(canary)
    scanner.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(scanner)
    root.setLevel(logging.DEBUG)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield scanner
        for warning in caught:
            scanner.add("warning", f"{warning.category.__name__}: {warning.message}")
    finally:
        root.removeHandler(scanner)
        root.setLevel(old_level)
    assert scanner.records > 0, "the scanner saw no log record: is it wired?"
    assert scanner.leaked() == []


def _raised(scanner: LeakScanner, call: Any, *args: Any, **kwargs: Any) -> BaseException:
    """Call, expect a failure, record it for the scan, and return it."""
    try:
        call(*args, **kwargs)
    except Exception as exc:
        scanner.exception(exc)
        return exc
    raise AssertionError(f"{call!r} did not raise")


def test_errors_and_public_objects_never_show_the_value(
    sm: SecretsManagerClient, leaks: LeakScanner, canary: str
) -> None:
    events: list[Any] = []
    clock = FakeClock()
    # Built first: handing the client to the library installs the log scrubber, which
    # then covers the set-up calls below too.
    with SecretCache(client=sm, clock=clock, ttl=60, on_rotation=events.append) as cache:
        sm.create_secret(Name="plain", SecretString=canary)
        sm.create_secret(Name="blob", SecretBinary=canary.encode())
        sm.create_secret(Name="creds", SecretString=json.dumps({"password": canary}))
        secret = cache.get_secret("plain")
        assert cache.get_secret_string("plain") == canary  # the value is there to leak
        blob = cache.get_secret("blob")
        rotate_secret(sm, "plain", canary + "-2")
        cache.refresh("plain")
        # JSON failures: not JSON, not an object, no such field, binary asked as text.
        assert isinstance(_raised(leaks, cache.get_secret_json, "plain"), SecretFormatError)
        assert isinstance(
            _raised(leaks, cache.get_secret_field, "plain", "password"), SecretFormatError
        )
        assert isinstance(_raised(leaks, cache.get_secret_field, "creds", "user"), SecretFieldError)
        assert isinstance(_raised(leaks, cache.get_secret_string, "blob"), SecretFormatError)
        sm.put_secret_value(SecretId="creds", SecretString='{"password": "' + canary)
        cache.refresh("creds")
        assert isinstance(_raised(leaks, cache.get_secret_json, "creds"), SecretFormatError)
        # AWS errors after a value was cached.
        sm.delete_secret(SecretId="plain", RecoveryWindowInDays=7)
        _raised(leaks, cache.refresh, "plain")
        _raised(leaks, cache.get_secret, "plain", version_id="x" * 40)
        leaks.objects(secret, blob, cache, cache.stats(), *events)
    assert [e.secret_id for e in events] == ["plain", "creds"]


@pytest.mark.parametrize("case", FAULTS, ids=[c.id for c in FAULTS])
def test_fault_matrix_runs_never_show_the_value(
    case: FaultCase,
    boto_session: boto3.Session,
    sm: SecretsManagerClient,
    leaks: LeakScanner,
    canary: str,
) -> None:
    SecretCache(client=sm)  # the scrubber covers the set-up calls too
    run = run_cell(case, warm=True, session=boto_session, admin=sm, value=canary)
    for error in run.errors:
        leaks.exception(error)
    leaks.objects(run.stats)


def test_decorator_failures_never_show_the_value(
    sm: SecretsManagerClient, leaks: LeakScanner, canary: str
) -> None:
    cache = SecretCache(client=sm, clock=FakeClock(), ttl=60)
    sm.create_secret(Name="db", SecretString=json.dumps({"password": canary}))

    class LoginError(Exception):
        pass

    @inject_secret("db", into="password", field="password", cache=cache, refresh_on=(LoginError,))
    def login(password: str) -> str:
        raise LoginError("login failed for user app")

    @inject_secret("db", into="user", field="user", cache=cache)
    def missing_field(user: str) -> str:
        return user

    @inject_secret("db", into="raw", transform="binary", cache=cache)
    def fine(raw: bytes) -> bytes:
        return raw

    assert isinstance(_raised(leaks, login), LoginError)
    assert isinstance(_raised(leaks, missing_field), SecretFieldError)
    assert canary.encode() in fine()
    sm.put_secret_value(SecretId="db", SecretString=canary)
    cache.refresh("db")
    assert isinstance(_raised(leaks, login), SecretFormatError)
    leaks.objects(login, cache)
    cache.close()


def test_cli_without_reveal_never_shows_the_value(
    sm: SecretsManagerClient,
    leaks: LeakScanner,
    canary: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from secretcache.cli import main

    SecretCache(client=sm)  # the scrubber covers the set-up calls too
    sm.create_secret(Name="app/db", SecretString=json.dumps({"password": canary, "port": 5432}))
    sm.create_secret(Name="app/blob", SecretBinary=canary.encode())
    sm.create_secret(Name="app/gone", SecretString=canary)
    sm.delete_secret(SecretId="app/gone", RecoveryWindowInDays=7)
    runs = [
        ["get", "app/db"],
        ["get", "app/db", "--json"],
        ["get", "app/db", "--field", "password"],
        ["get", "app/db", "--field", "password", "--json"],
        ["get", "app/blob"],
        ["get", "app/gone"],
        ["get", "app/db", "--field", "nope"],
        ["check", "app/db"],
        ["check", "app/gone"],
    ]
    codes = [main([*argv, "--region", "us-east-1"]) for argv in runs]
    captured = capsys.readouterr()
    leaks.add("cli stdout", captured.out)
    leaks.add("cli stderr", captured.err)
    assert codes[:5] == [0, 0, 0, 0, 0]
    assert all(code != 0 for code in codes[5:7])
    # The scanner is live: --reveal does print it.
    assert main(["get", "app/db", "--field", "password", "--reveal", "--region", "us-east-1"]) == 0
    assert canary in capsys.readouterr().out


def test_demo_without_reveal_never_shows_the_values(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo's values are learnt from its own CreateSecret/PutSecretValue calls."""
    import botocore.client

    from secretcache.cli import main

    planted: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def spy(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation in ("CreateSecret", "PutSecretValue") and "SecretString" in params:
            planted.append(params["SecretString"])
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", spy)
    scanner = LeakScanner(uuid.uuid4().hex)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(scanner)
    root.setLevel(logging.DEBUG)
    try:
        assert main(["demo"]) == 0
    finally:
        root.removeHandler(scanner)
        root.setLevel(old_level)
    out = capsys.readouterr()
    scanner.add("demo stdout", out.out)
    scanner.add("demo stderr", out.err)
    values = {leaf for text in planted for leaf in _leaves(text)}
    assert len(values) >= 2, planted
    scanner.needles = values
    assert scanner.leaked() == []
    assert main(["demo", "--reveal"]) == 0
    revealed = capsys.readouterr().out
    assert all(value in revealed for value in values)


def _leaves(text: str) -> list[str]:
    try:
        parsed = json.loads(text)
    except ValueError:
        return [text]
    if isinstance(parsed, dict):
        return [v for v in parsed.values() if isinstance(v, str) and len(v) >= 6]
    return [text]


# -- the botocore log scrubber --------------------------------------------------------


def _botocore_traffic(sm: SecretsManagerClient, canary: str) -> None:
    """Every call whose request or response carries a value, straight through botocore."""
    sm.create_secret(Name="s1", SecretString=canary)
    sm.create_secret(Name="s2", SecretBinary=canary.encode())
    sm.put_secret_value(SecretId="s1", SecretString=canary + "-next")
    sm.get_secret_value(SecretId="s1")
    sm.get_secret_value(SecretId="s2")
    sm.batch_get_secret_value(SecretIdList=["s1", "s2"])


def test_scrubber_hides_values_in_botocore_request_and_response_logs(
    sm: SecretsManagerClient, leaks: LeakScanner, canary: str
) -> None:
    SecretCache(client=sm)  # handing a client to the library installs the scrubber
    _botocore_traffic(sm, canary)
    logged = "\n".join(text for where, text in leaks.texts if where.startswith("log botocore"))
    assert "Response body" in logged
    assert "<redacted by secretcache>" in logged


def test_removing_the_scrubber_shows_values_again(
    sm: SecretsManagerClient, debug_logs: Any, canary: str
) -> None:
    remove_log_scrubber()
    try:
        SecretCache(client=sm)  # does not re-install after an explicit opt-out
        _botocore_traffic(sm, canary)
        assert any(canary in text for text in debug_logs.texts)
    finally:
        install_log_scrubber()
    debug_logs.texts.clear()
    sm.get_secret_value(SecretId="s1")
    assert debug_logs.texts
    assert not any(canary in text for text in debug_logs.texts)


SCRIPT = """
import io, logging, boto3
from moto import mock_aws
import secretcache
stream = io.StringIO()
logging.basicConfig(stream=stream, level=logging.DEBUG)
with mock_aws():
    sm = boto3.Session(region_name="us-east-1").client("secretsmanager")
    secretcache.SecretCache(client=sm)
    sm.create_secret(Name="s", SecretString="CANARY-sub")
    sm.get_secret_value(SecretId="s")
print("LEAKED" if "CANARY-sub" in stream.getvalue() else "CLEAN")
"""


@pytest.mark.parametrize(("setting", "expected"), [(None, "CLEAN"), ("0", "LEAKED")])
def test_env_opt_out_of_the_scrubber(setting: str | None, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SECRETCACHE_SCRUB_LOGS"}
    if setting is not None:
        env["SECRETCACHE_SCRUB_LOGS"] = setting
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == expected


def _levels() -> dict[str, Any]:
    manager = logging.Logger.manager
    return {
        "root": logging.getLogger().level,
        "disable": manager.disable,
        **{
            name: (logger.level, logger.propagate, logger.disabled)
            for name, logger in manager.loggerDict.items()
            if isinstance(logger, logging.Logger)
        },
    }


def test_library_never_changes_logging_levels(sm: SecretsManagerClient, canary: str) -> None:
    before = _levels()
    with SecretCache(client=sm) as cache:
        sm.create_secret(Name="lv", SecretString=canary)
        cache.get_secret_string("lv")
        with FaultInjector(sm) as faults:
            faults.fail("ThrottlingException")
            with pytest.raises(SecretsManagerThrottledError):
                cache.refresh("lv")
    install_log_scrubber()
    secretcache.remove_log_scrubber()
    install_log_scrubber()
    after = _levels()
    assert {k: after[k] for k in before} == before
