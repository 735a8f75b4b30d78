"""inject_secret on plain functions and methods, end to end on moto with a fake clock."""

from __future__ import annotations

import inspect
import json
import logging
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import secretcache
from secretcache import (
    AWSPREVIOUS,
    SecretDeletedError,
    SecretFieldError,
    SecretFormatError,
    SecretNotFoundError,
    inject_secret,
)
from secretcache.testing import FaultInjector, counting_calls, rotate_secret, start_rotation

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache import SecretCache
    from secretcache.testing import FakeClock

DB = "prod/db"


class LoginFailed(Exception):
    """What a database driver raises when the password is wrong."""


class FakeDatabase:
    """Accepts one password; counts login attempts (the function under test)."""

    def __init__(self, password: str) -> None:
        self.password = password
        self.attempts: list[str] = []

    def login(self, password: str) -> str:
        self.attempts.append(password)
        if password != self.password:
            raise LoginFailed("password authentication failed for user app")
        return "connected"


@pytest.fixture
def db_secret(sm: SecretsManagerClient) -> str:
    sm.create_secret(Name=DB, SecretString=json.dumps({"username": "app", "password": "pw-1"}))
    return DB


@pytest.fixture
def cache(make_cache: Callable[..., SecretCache]) -> SecretCache:
    return make_cache()


# -- resolution at call time -------------------------------------------------------


def test_nothing_is_read_at_decoration_time(sm: SecretsManagerClient, cache: SecretCache) -> None:
    with counting_calls(sm) as calls:

        @inject_secret(DB, into="password", cache=cache)
        def connect(password: str = "") -> str:
            return password

    assert sum(calls.values()) == 0
    # The secret may even be created after the decoration.
    sm.create_secret(Name=DB, SecretString="s3cret")
    assert connect() == "s3cret"


def test_every_form_of_injection(
    sm: SecretsManagerClient, db_secret: str, cache: SecretCache
) -> None:
    sm.create_secret(Name="blob", SecretBinary=b"\x00\x01")

    @inject_secret(DB, into="text", cache=cache)
    def as_text(text: str = "") -> str:
        return text

    @inject_secret(DB, into="creds", transform="json", cache=cache)
    def as_json(creds: Any = None) -> Any:
        return creds

    @inject_secret(DB, into="password", field="password", cache=cache)
    def one_field(password: str = "") -> str:
        return password

    @inject_secret(DB, fields={"user": "username", "pw": "password"}, cache=cache)
    def two_fields(*, user: str = "", pw: str = "") -> tuple[str, str]:
        return user, pw

    @inject_secret("blob", into="key", transform="binary", cache=cache)
    def as_bytes(key: bytes = b"") -> bytes:
        return key

    assert json.loads(as_text()) == {"username": "app", "password": "pw-1"}
    assert as_json() == {"username": "app", "password": "pw-1"}
    assert one_field() == "pw-1"
    assert two_fields() == ("app", "pw-1")
    assert as_bytes() == b"\x00\x01"


def test_injected_json_is_a_fresh_copy_each_call(db_secret: str, cache: SecretCache) -> None:
    @inject_secret(DB, into="creds", transform="json", cache=cache)
    def mutate(creds: Any = None) -> Any:
        creds["password"] = "clobbered"
        return creds

    mutate()
    assert mutate()["username"] == "app"
    assert cache.get_secret_json(DB)["password"] == "pw-1"


def test_version_stage_selects_the_stage(
    sm: SecretsManagerClient, db_secret: str, cache: SecretCache
) -> None:
    rotate_secret(sm, DB, json.dumps({"username": "app", "password": "pw-2"}))

    @inject_secret(DB, into="pw", field="password", version_stage=AWSPREVIOUS, cache=cache)
    def previous(pw: str = "") -> str:
        return pw

    assert previous() == "pw-1"


def test_one_api_call_then_hits_within_the_ttl(
    sm: SecretsManagerClient, db_secret: str, cache: SecretCache
) -> None:
    @inject_secret(DB, into="pw", field="password", cache=cache)
    def read(pw: str = "") -> str:
        return pw

    with counting_calls(sm) as calls:
        results = {read() for _ in range(50)}
    assert results == {"pw-1"}
    assert calls == {"GetSecretValue": 1}


def test_rotation_is_picked_up_after_the_ttl_without_redeploy(
    sm: SecretsManagerClient, db_secret: str, cache: SecretCache, clock: FakeClock
) -> None:
    @inject_secret(DB, into="pw", field="password", cache=cache)
    def read(pw: str = "") -> str:
        return pw

    assert read() == "pw-1"
    rotate_secret(sm, DB, json.dumps({"username": "app", "password": "pw-2"}))
    assert read() == "pw-1"  # still fresh: no API call, the old value
    clock.advance(61)
    assert read() == "pw-2"
    assert cache.stats().rotations == 1


# -- explicit arguments win ----------------------------------------------------------


def test_explicit_arguments_win_and_cost_no_api_call(
    sm: SecretsManagerClient, cache: SecretCache
) -> None:
    # No secret exists at all: any read would raise SecretNotFoundError.
    @inject_secret("missing", into="password", cache=cache)
    def connect(host: str, password: str = "", port: int = 5432) -> str:
        return f"{host}:{port}:{password}"

    @inject_secret("missing", into="token", cache=cache)
    def call(*, token: str = "") -> str:
        return token

    with counting_calls(sm) as calls:
        assert connect("h", "given") == "h:5432:given"
        assert connect("h", password="kw") == "h:5432:kw"
        assert connect(host="h", password="kw", port=1) == "h:1:kw"
        assert call(token="t") == "t"
    assert sum(calls.values()) == 0
    with pytest.raises(SecretNotFoundError):
        connect("h")


def test_only_the_parameters_not_passed_are_injected(db_secret: str, cache: SecretCache) -> None:
    @inject_secret(DB, fields={"user": "username", "pw": "password"}, cache=cache)
    def login(user: str = "", pw: str = "") -> tuple[str, str]:
        return user, pw

    assert login("admin") == ("admin", "pw-1")
    assert login(pw="mine") == ("app", "mine")


def test_inject_into_var_keyword(db_secret: str, cache: SecretCache) -> None:
    @inject_secret(DB, into="password", field="password", cache=cache)
    def connect(**options: Any) -> dict[str, Any]:
        return options

    assert connect(host="h") == {"host": "h", "password": "pw-1"}


# -- methods -------------------------------------------------------------------------


def test_methods_classmethods_and_staticmethods(db_secret: str, cache: SecretCache) -> None:
    class Repo:
        def __init__(self, name: str) -> None:
            self.name = name

        @inject_secret(DB, into="pw", field="password", cache=cache)
        def method(self, pw: str = "") -> str:
            return f"{self.name}:{pw}"

        @classmethod
        @inject_secret(DB, into="pw", field="password", cache=cache)
        def klass(cls, pw: str = "") -> str:
            return f"{cls.__name__}:{pw}"

        @staticmethod
        @inject_secret(DB, into="pw", field="password", cache=cache)
        def static(pw: str = "") -> str:
            return pw

    repo = Repo("r")
    assert repo.method() == "r:pw-1"
    assert repo.method("given") == "r:given"
    assert Repo.method(repo) == "r:pw-1"
    assert Repo.klass() == "Repo:pw-1"
    assert repo.static() == "pw-1"
    assert Repo.static("x") == "x"


# -- metadata and misuse -------------------------------------------------------------


def test_signature_and_metadata_are_preserved(cache: SecretCache) -> None:
    def connect(host: str, *, password: str = "") -> str:
        """Connect to the database."""
        return host

    wrapped = inject_secret(DB, into="password", cache=cache)(connect)
    assert inspect.signature(wrapped) == inspect.signature(connect)
    assert wrapped.__wrapped__ is connect  # type: ignore[attr-defined]
    assert wrapped.__name__ == "connect"
    assert wrapped.__qualname__ == connect.__qualname__
    assert wrapped.__doc__ == "Connect to the database."
    assert not inspect.iscoroutinefunction(wrapped)
    assert wrapped.secret_id == DB  # type: ignore[attr-defined]
    assert wrapped.injected == ("password",)  # type: ignore[attr-defined]


def _f(a: str = "", /, b: str = "", *args: str, c: str = "", **kw: str) -> None:
    """A function with one parameter of every kind."""


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"into": "a"}, TypeError, "positional-only"),
        ({"into": "args"}, TypeError, r"\*args"),
        ({"into": "kw"}, TypeError, r"\*\*kw"),
        ({}, TypeError, "into= or fields="),
        ({"into": "b", "fields": {"c": "x"}}, TypeError, "fields= alone"),
        ({"fields": {}}, TypeError, "fields must map"),
        ({"into": "b", "transform": "yaml"}, ValueError, "transform"),
        ({"into": "b", "field": "x", "transform": "binary"}, TypeError, "binary"),
        ({"into": "b", "refresh_on": (ValueError, "x")}, TypeError, "refresh_on"),
        ({"into": "b", "cache": object()}, TypeError, "cache must be"),
    ],
)
def test_misuse_is_a_type_error_at_decoration_time(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        inject_secret(DB, **kwargs)(_f)


def test_unknown_parameter_without_var_keyword_is_rejected() -> None:
    def connect(password: str = "") -> None:
        """No **kwargs: only 'password' can be injected."""

    with pytest.raises(TypeError, match="no parameter 'passwd'"):
        inject_secret(DB, into="passwd")(connect)


def test_bad_secret_id_or_stage_fails_at_decoration_time() -> None:
    with pytest.raises(ValueError, match="secret_id"):
        inject_secret("  ", into="x")
    with pytest.raises(TypeError, match="version_stage"):
        inject_secret(DB, into="x", version_stage=1)  # type: ignore[arg-type]


# -- refresh_on ----------------------------------------------------------------------


def _login_with(cache: SecretCache, db: FakeDatabase) -> Callable[..., str]:
    @inject_secret(DB, into="password", field="password", cache=cache, refresh_on=(LoginFailed,))
    def connect(password: str = "") -> str:
        return db.login(password)

    return connect


def test_refresh_on_retries_once_with_the_rotated_version(
    sm: SecretsManagerClient, db_secret: str, cache: SecretCache, clock: FakeClock
) -> None:
    db = FakeDatabase("pw-1")
    connect = _login_with(cache, db)
    assert connect() == "connected"
    # Rotated while our value is still fresh: the login fails, the retry picks pw-2.
    rotate_secret(sm, DB, json.dumps({"username": "app", "password": "pw-2"}))
    db.password = "pw-2"
    clock.advance(2)  # rotation_candidate re-asks AWS at most once a second
    assert connect() == "connected"
    assert db.attempts == ["pw-1", "pw-1", "pw-2"]
    # The cache now holds the new version: the next call logs in at once.
    assert connect() == "connected"
    assert db.attempts[-1] == "pw-2"
    assert len(db.attempts) == 4


def test_refresh_on_uses_awspending_during_the_rotation_window(
    sm: SecretsManagerClient, db_secret: str, cache: SecretCache, clock: FakeClock
) -> None:
    db = FakeDatabase("pw-1")
    connect = _login_with(cache, db)
    connect()
    clock.advance(2)
    # setSecret has changed the database password; AWSCURRENT has not moved yet.
    start_rotation(sm, DB, json.dumps({"username": "app", "password": "pw-2"}))
    db.password = "pw-2"
    assert connect() == "connected"
    assert db.attempts[-2:] == ["pw-1", "pw-2"]


def test_refresh_on_without_a_candidate_reraises_the_original_unchanged(
    sm: SecretsManagerClient, db_secret: str, cache: SecretCache
) -> None:
    db = FakeDatabase("not-what-the-secret-says")
    connect = _login_with(cache, db)
    with pytest.raises(LoginFailed) as caught:
        connect()
    assert db.attempts == ["pw-1"]  # called exactly once
    assert str(caught.value) == "password authentication failed for user app"
    assert caught.value.__context__ is None
    assert caught.value.__cause__ is None


def test_refresh_on_when_the_retry_fails_too(
    sm: SecretsManagerClient, db_secret: str, cache: SecretCache, clock: FakeClock
) -> None:
    db = FakeDatabase("pw-9")
    connect = _login_with(cache, db)
    cache.get_secret(DB)
    rotate_secret(sm, DB, json.dumps({"username": "app", "password": "pw-2"}))
    clock.advance(2)
    with pytest.raises(LoginFailed) as caught:
        connect()
    assert db.attempts == ["pw-1", "pw-2"]  # called exactly twice
    assert caught.value.__context__ is None  # the retry's error is not chained to the first


def test_other_exceptions_are_not_retried(
    sm: SecretsManagerClient, db_secret: str, cache: SecretCache
) -> None:
    calls: list[str] = []

    @inject_secret(DB, into="pw", field="password", cache=cache, refresh_on=LoginFailed)
    def connect(pw: str = "") -> None:
        calls.append(pw)
        raise ConnectionRefusedError("db is down")

    connect_pw = cache.get_secret_field(DB, "password")
    assert connect_pw == "pw-1"
    with counting_calls(sm) as api, pytest.raises(ConnectionRefusedError):
        connect()
    assert calls == ["pw-1"]
    assert sum(api.values()) == 0


def test_refresh_on_when_the_lookup_itself_fails(
    sm: SecretsManagerClient,
    db_secret: str,
    cache: SecretCache,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = FakeDatabase("other")
    connect = _login_with(cache, db)
    cache.get_secret(DB)
    clock.advance(2)
    with FaultInjector(sm) as faults:
        faults.fail("AccessDeniedException", status=400)
        with caplog.at_level(logging.WARNING, "secretcache"), pytest.raises(LoginFailed):
            connect()
    assert db.attempts == ["pw-1"]
    assert "SecretAccessDeniedError" in caplog.text


def test_a_missing_field_is_not_a_reason_to_refresh(
    sm: SecretsManagerClient, db_secret: str, cache: SecretCache
) -> None:
    calls: list[str] = []

    @inject_secret(DB, into="pw", field="passwd", cache=cache, refresh_on=(ValueError,))
    def connect(pw: str = "") -> None:
        calls.append(pw)

    with counting_calls(sm) as api, pytest.raises(SecretFieldError):
        connect()
    assert calls == []
    assert api == {"GetSecretValue": 1}


# -- errors --------------------------------------------------------------------------


def test_typed_errors_propagate_without_the_value(
    sm: SecretsManagerClient, cache: SecretCache, canary: str, debug_logs: Any
) -> None:
    sm.create_secret(Name="text", SecretString=f"{canary} is not json")
    sm.create_secret(Name="obj", SecretString=json.dumps({"password": canary}))
    sm.create_secret(Name="gone", SecretString=canary)
    sm.delete_secret(SecretId="gone", RecoveryWindowInDays=7)

    def take(value: Any = None) -> Any:
        return value

    cases: list[tuple[Callable[..., Any], type[Exception]]] = [
        (inject_secret("nope", into="value", cache=cache)(take), SecretNotFoundError),
        (inject_secret("gone", into="value", cache=cache)(take), SecretDeletedError),
        (
            inject_secret("text", into="value", transform="json", cache=cache)(take),
            SecretFormatError,
        ),
        (inject_secret("obj", into="value", field="user", cache=cache)(take), SecretFieldError),
    ]
    for func, error in cases:
        with pytest.raises(error) as caught:
            func()
        assert canary not in str(caught.value)
        assert canary not in repr(caught.value)
    assert not [text for text in debug_logs.texts if canary in text]


def test_cache_none_uses_the_default_cache(sm: SecretsManagerClient) -> None:
    name = f"default-{uuid.uuid4().hex}"  # the default cache outlives this test
    sm.create_secret(Name=name, SecretString="v")

    @inject_secret(name, into="value")
    def read(value: str = "") -> str:
        return value

    before = secretcache.default_cache().stats()
    assert read() == "v"
    assert read() == "v"
    after = secretcache.default_cache().stats()
    assert after.misses - before.misses == 1
    assert after.hits - before.hits == 1


CHECK_FILE = "tests/typing/check_decorators.py"


def test_mypy_sees_the_wrapped_signature(tmp_path: Path) -> None:
    """Methods bind self, async stays a coroutine, wrong calls are rejected (2 s, cold)."""
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path), CHECK_FILE],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
