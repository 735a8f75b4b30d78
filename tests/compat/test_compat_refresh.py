"""refresh_secret_now: an immediate DescribeSecret, a bool, and never a sleep."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from secretcache.testing import FaultInjector, rotate_secret

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import CallLog
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache.compat import SecretCache
    from secretcache.testing import FakeClock


@pytest.fixture(autouse=True)
def no_sleeping(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything sleeps (the official package sleeps 2.5 to 5 s here)."""

    def sleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds} s")

    monkeypatch.setattr(time, "sleep", sleep)


def test_a_rotation_is_seen_at_once(
    sm: SecretsManagerClient, calls: CallLog, make_compat: Callable[..., SecretCache]
) -> None:
    sm.create_secret(Name="db", SecretString="v1")
    cache = make_compat()  # interval 3600 s: without a refresh, v1 for up to an hour
    assert cache.get_secret_string("db") == "v1"
    rotate_secret(sm, "db", "v2")
    assert cache.refresh_secret_now("db") is True
    assert cache.get_secret_string("db") == "v2"
    assert calls.operations == ["DescribeSecret", "GetSecretValue"] * 2


def test_refreshing_a_secret_never_read_loads_its_stage_map(
    sm: SecretsManagerClient, calls: CallLog, make_compat: Callable[..., SecretCache]
) -> None:
    sm.create_secret(Name="db", SecretString="v1")
    cache = make_compat()
    assert cache.refresh_secret_now("db") is True
    assert cache.get_secret_string("db") == "v1"
    assert calls.operations == ["DescribeSecret", "GetSecretValue"]


def test_a_failed_refresh_is_false_and_the_value_stays_for_a_transient_error(
    sm: SecretsManagerClient,
    clock: FakeClock,
    calls: CallLog,
    make_compat: Callable[..., SecretCache],
) -> None:
    sm.create_secret(Name="db", SecretString="v1")
    cache = make_compat()
    cache.get_secret_string("db")
    with FaultInjector(sm) as faults:
        faults.fail("ThrottlingException", operation="DescribeSecret")
        assert cache.refresh_secret_now("db") is False
        # While backing off: False at once, no request (the official package would
        # sleep until the backoff ends, up to 10 s, and ask again).
        assert cache.refresh_secret_now("db") is False
        assert calls.count("DescribeSecret") == 2
        assert cache.get_secret_string("db") == "v1"
    clock.advance(1.3)
    assert cache.refresh_secret_now("db") is True


def test_refreshing_a_missing_secret_is_false_not_an_error(
    make_compat: Callable[..., SecretCache],
) -> None:
    assert make_compat().refresh_secret_now("nope") is False


@pytest.mark.parametrize("call", ["refresh_secret_now", "_get_cached_secret"])
@pytest.mark.parametrize(("secret_id", "error"), [("", ValueError), (None, TypeError)])
def test_bad_ids_are_misuse(
    make_compat: Callable[..., SecretCache],
    secret_id: object,
    error: type[Exception],
    call: str,
) -> None:
    with pytest.raises(error):
        getattr(make_compat(), call)(secret_id)


def test_the_private_seam_users_call_refreshes_as_the_official_one_does(
    sm: SecretsManagerClient, calls: CallLog, make_compat: Callable[..., SecretCache]
) -> None:
    # aws-secretsmanager-caching issue #16: after a failed login, code reaches for the
    # private item to force a refresh. Handing it out asks nothing.
    sm.create_secret(Name="db", SecretString="v1")
    cache = make_compat()
    item = cache._get_cached_secret("db")
    assert calls.operations == []
    due = item._next_refresh_time
    assert cache.get_secret_string("db") == "v1"
    rotate_secret(sm, "db", "v2")
    assert cache._get_cached_secret("db").refresh_secret_now() is True
    assert cache.get_secret_string("db") == "v2"
    assert calls.operations == ["DescribeSecret", "GetSecretValue"] * 2
    # The next DescribeSecret is due later than before the first one (interval 3600 s,
    # jittered down to at least half of it).
    assert (item._next_refresh_time - due).total_seconds() >= 1800
    assert "v1" not in repr(item)
    assert "v2" not in repr(item)
