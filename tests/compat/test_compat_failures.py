"""Failures through compat: botocore's exception classes, secretcache's failure rules."""

from __future__ import annotations

import copy
import pickle
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
from raw_answers import raw_answers

import secretcache
from secretcache.testing import FaultInjector, rotate_secret

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import CallLog
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache.compat import SecretCache
    from secretcache.testing import FakeClock


def _raised(call: Callable[[], object]) -> BaseException:
    try:
        call()
    except Exception as exc:
        return exc
    raise AssertionError("no exception")


def test_a_missing_secret_raises_what_botocore_raised(
    sm: SecretsManagerClient, make_compat: Callable[..., SecretCache]
) -> None:
    cache = make_compat()
    error = _raised(lambda: cache.get_secret_string("nope"))
    # Every way users of the official package catch it, and secretcache's way.
    assert isinstance(error, ClientError)
    assert isinstance(error, sm.exceptions.ResourceNotFoundException)
    assert isinstance(error, secretcache.SecretNotFoundError)
    assert error.response["Error"]["Code"] == "ResourceNotFoundException"
    assert error.operation_name == "DescribeSecret"
    assert str(error).startswith("An error occurred (ResourceNotFoundException) when calling")
    assert error.secret_id == "nope"
    assert isinstance(error.__cause__, sm.exceptions.ResourceNotFoundException)


def test_the_error_is_remembered_for_the_backoff(
    sm: SecretsManagerClient,
    clock: FakeClock,
    calls: CallLog,
    make_compat: Callable[..., SecretCache],
) -> None:
    cache = make_compat()
    first = _raised(lambda: cache.get_secret_string("nope"))
    again = _raised(lambda: cache.get_secret_string("nope"))
    assert type(again) is type(first)  # the same classes, botocore's included
    assert again.response == first.response  # type: ignore[attr-defined]
    assert calls.count("DescribeSecret") == 1  # the second answer came from memory
    clock.advance(1.3)  # the first step: 1 s (plus up to 20 % jitter)
    _raised(lambda: cache.get_secret_string("nope"))
    assert calls.count("DescribeSecret") == 2


def test_errors_pickle_and_copy(make_compat: Callable[..., SecretCache]) -> None:
    error = _raised(lambda: make_compat().get_secret_string("nope"))
    assert isinstance(error, secretcache.SecretCacheError)
    clone = copy.copy(error)
    assert type(clone) is type(error)
    assert str(clone) == str(error)
    restored = pickle.loads(pickle.dumps(error))
    # botocore's modelled class is built at run time and cannot be pickled by name;
    # like botocore, the copy falls back to ClientError (and keeps our class).
    assert isinstance(restored, ClientError)
    assert isinstance(restored, secretcache.SecretNotFoundError)
    assert restored.response == error.response
    assert restored.secret_id == "nope"
    assert str(restored) == str(error)


def test_a_throttled_refresh_keeps_serving_and_backs_off_as_configured(
    sm: SecretsManagerClient,
    clock: FakeClock,
    calls: CallLog,
    make_compat: Callable[..., SecretCache],
) -> None:
    sm.create_secret(Name="db", SecretString="v1")
    defaults = make_compat(secret_refresh_interval=60)
    capped = make_compat(secret_refresh_interval=60, exception_retry_delay_max=5)
    slow = make_compat(
        secret_refresh_interval=60, exception_retry_delay_base=10, exception_retry_growth_factor=3
    )
    caches = {"defaults": defaults, "capped": capped, "slow": slow}
    for cache in caches.values():
        cache.get_secret_string("db")
    clock.advance(61)
    describes = {}
    with FaultInjector(sm) as faults:
        faults.fail("ThrottlingException", operation="DescribeSecret")
        for name, cache in caches.items():
            before = calls.count("DescribeSecret")
            for _ in range(600):  # 10 reads a second for a minute
                assert cache.get_secret_string("db") == "v1"
                clock.advance(0.1)
            describes[name] = calls.count("DescribeSecret") - before
    # 1, 2, 4, 8, 16 s (each up to 20 % longer), then 32: 6 calls in the minute.
    assert describes["defaults"] == 6
    # 1, 2, 4, then every 5 s: 14 or 15.
    assert 13 <= describes["capped"] <= 15
    # 10 then 30 s (each up to 20 % longer): 3 calls.
    assert describes["slow"] == 3


def test_no_value_is_served_after_access_is_denied(
    sm: SecretsManagerClient,
    clock: FakeClock,
    calls: CallLog,
    make_compat: Callable[..., SecretCache],
) -> None:
    sm.create_secret(Name="db", SecretString="v1")
    cache = make_compat(secret_refresh_interval=60)
    assert cache.get_secret_string("db") == "v1"
    clock.advance(61)
    with FaultInjector(sm) as faults:
        faults.fail("AccessDeniedException", operation="DescribeSecret")
        for _ in range(3):
            error = _raised(lambda: cache.get_secret_string("db"))
            assert isinstance(error, ClientError)
            assert isinstance(error, secretcache.SecretAccessDeniedError)
        assert calls.count("DescribeSecret") == 2  # then backing off
        clock.advance(2)
    # Access given back: read again, at the cost of a new GetSecretValue.
    assert cache.get_secret_string("db") == "v1"
    assert calls.count("GetSecretValue") == 2


def test_a_denied_or_undecryptable_new_version_raises(
    sm: SecretsManagerClient, clock: FakeClock, make_compat: Callable[..., SecretCache]
) -> None:
    sm.create_secret(Name="db", SecretString="v1")
    cache = make_compat(secret_refresh_interval=60)
    cache.get_secret_string("db")
    rotate_secret(sm, "db", "v2")
    clock.advance(61)
    with FaultInjector(sm) as faults:
        faults.fail("DecryptionFailure")
        error = _raised(lambda: cache.get_secret_string("db"))
    assert isinstance(error, sm.exceptions.DecryptionFailure)
    assert isinstance(error, secretcache.SecretDecryptionError)
    assert error.operation_name == "GetSecretValue"  # type: ignore[attr-defined]


def test_no_value_is_served_once_the_secret_is_scheduled_for_deletion(
    sm: SecretsManagerClient,
    clock: FakeClock,
    calls: CallLog,
    make_compat: Callable[..., SecretCache],
) -> None:
    sm.create_secret(Name="db", SecretString="v1")
    cache = make_compat(secret_refresh_interval=60)
    assert cache.get_secret_string("db") == "v1"
    sm.delete_secret(SecretId="db", RecoveryWindowInDays=7)
    clock.advance(61)
    # DescribeSecret still answers (with a DeletedDate): GetSecretValue says why not.
    error = _raised(lambda: cache.get_secret_string("db"))
    assert isinstance(error, sm.exceptions.InvalidRequestException)
    assert isinstance(error, secretcache.SecretDeletedError)
    assert isinstance(_raised(lambda: cache.get_secret_binary("db")), ClientError)
    sm.restore_secret(SecretId="db")
    clock.advance(61)  # the next DescribeSecret sees the restore
    assert cache.get_secret_string("db") == "v1"
    assert calls.count("GetSecretValue") == 3  # first read, the refusal, after the restore


def test_connection_errors_are_botocores_and_keep_the_cached_value(
    sm: SecretsManagerClient, clock: FakeClock, make_compat: Callable[..., SecretCache]
) -> None:
    sm.create_secret(Name="db", SecretString="v1")
    warm = make_compat(secret_refresh_interval=60)
    warm.get_secret_string("db")
    cold = make_compat()
    clock.advance(61)
    with FaultInjector(sm) as faults:
        faults.connection_error(operation="DescribeSecret")
        assert warm.get_secret_string("db") == "v1"
        error = _raised(lambda: cold.get_secret_string("db"))
        assert cold.refresh_secret_now("db") is False
    assert isinstance(error, EndpointConnectionError)
    assert isinstance(error, BotoCoreError)
    assert isinstance(error, secretcache.SecretsManagerUnavailableError)
    assert "Could not connect to the endpoint URL" in str(error)
    assert pickle.loads(pickle.dumps(error)).kwargs == error.kwargs  # type: ignore[attr-defined]
    clock.advance(2)  # healed, and past the backoff step
    assert cold.get_secret_string("db") == "v1"


@pytest.mark.parametrize("read", ["get_secret_string", "get_secret_binary"])
def test_unknown_errors_are_client_errors_too(
    sm: SecretsManagerClient, make_compat: Callable[..., SecretCache], read: str
) -> None:
    sm.create_secret(Name="db", SecretString="v1")
    with FaultInjector(sm) as faults:
        faults.fail("SomethingNew", operation="DescribeSecret")
        error = _raised(lambda: getattr(make_compat(), read)("db"))
    assert isinstance(error, ClientError)
    assert isinstance(error, secretcache.SecretCacheError)
    assert error.response["Error"]["Code"] == "SomethingNew"


@pytest.mark.parametrize(
    ("operation", "body"),
    [
        ("DescribeSecret", b'[{"Name": "db"}]'),  # a JSON list where the object belongs
        ("GetSecretValue", b'{"Name": "db", "CreatedDate": "noon", "SecretString": "x"}'),
    ],
    ids=["describe-list", "get-bad-date"],
)
def test_an_unreadable_answer_is_an_outage_served_stale_with_backoff(
    sm: SecretsManagerClient,
    clock: FakeClock,
    make_compat: Callable[..., SecretCache],
    operation: str,
    body: bytes,
) -> None:
    sm.create_secret(Name="db", SecretString="v1")
    cache = make_compat()
    with raw_answers(sm) as answers:
        answers.bodies[operation] = body
        # Cold: a typed outage, not botocore's bare AttributeError/ValueError.
        error = _raised(lambda: cache.get_secret_string("db"))
        assert isinstance(error, secretcache.SecretsManagerUnavailableError)
        assert error.code == "MalformedResponse"
    clock.advance(3600)  # past the backoff; the value is read and cached
    assert cache.get_secret_string("db") == "v1"
    if operation == "GetSecretValue":
        rotate_secret(sm, "db", "v2")  # a new version to read: the one answered badly
    clock.advance(3601)  # the stage map is due again
    with raw_answers(sm) as answers:
        answers.bodies[operation] = body
        reads = [_outcome(lambda: cache.get_secret_string("db")) for _ in range(20)]
        assert answers.sent[operation] == 1  # one call, then the backoff holds
    # A stage map that cannot be read: the one cached is used. A new version whose value
    # cannot be read has nothing cached to serve (as in the official package).
    assert reads == ["v1" if operation == "DescribeSecret" else "MalformedResponse"] * 20


def _outcome(call: Callable[[], str | None]) -> str | None:
    try:
        return call()
    except secretcache.SecretsManagerUnavailableError as exc:
        return exc.code
