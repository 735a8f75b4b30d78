"""secretcache.compat reads like aws-secretsmanager-caching: same calls, same answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import botocore.session
import pytest
from botocore.stub import Stubber

from secretcache.compat import SecretCache, SecretCacheConfig
from secretcache.testing import rotate_secret, start_rotation

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import CallLog
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache.testing import FakeClock

VERSION_ID = "0123456789abcdef0123456789abcdef"


def test_a_cold_read_is_describe_then_get_by_version_id(
    sm: SecretsManagerClient, calls: CallLog, make_compat: Callable[..., SecretCache]
) -> None:
    version_id = sm.create_secret(Name="app/db", SecretString="s3cret")["VersionId"]
    cache = make_compat()
    assert cache.get_secret_string("app/db") == "s3cret"
    assert calls.calls == [
        ("DescribeSecret", {"SecretId": "app/db"}),
        ("GetSecretValue", {"SecretId": "app/db", "VersionId": version_id}),
    ]
    for _ in range(5):
        assert cache.get_secret_string("app/db") == "s3cret"
    assert len(calls.calls) == 2  # hits cost nothing


def test_a_stubber_test_written_for_the_official_package_passes() -> None:
    # What users' own unit tests pin down: the exact requests, in order.
    client = botocore.session.get_session().create_client("secretsmanager", region_name="eu-west-1")
    with Stubber(client) as stubber:
        stubber.add_response(
            "describe_secret",
            {"VersionIdsToStages": {VERSION_ID: ["AWSCURRENT"]}},
            {"SecretId": "svc/key"},
        )
        stubber.add_response(
            "get_secret_value",
            {"SecretString": "k3y"},
            {"SecretId": "svc/key", "VersionId": VERSION_ID},
        )
        cache = SecretCache(client=client)
        assert cache.get_secret_string("svc/key") == "k3y"
        stubber.assert_no_pending_responses()


def test_binary_and_string_fields(
    sm: SecretsManagerClient, make_compat: Callable[..., SecretCache]
) -> None:
    sm.create_secret(Name="tls", SecretBinary=b"\x00\x01key")
    sm.create_secret(Name="text", SecretString="plain")
    cache = make_compat()
    assert cache.get_secret_binary("tls") == b"\x00\x01key"
    assert cache.get_secret_string("tls") is None  # a binary secret has no string
    assert cache.get_secret_binary("text") is None
    assert cache.get_secret_string("text") == "plain"


def test_a_missing_stage_or_value_is_none_and_costs_no_get(
    sm: SecretsManagerClient, calls: CallLog, make_compat: Callable[..., SecretCache]
) -> None:
    sm.create_secret(Name="one-version", SecretString="v1")
    sm.create_secret(Name="valueless")
    cache = make_compat()
    assert cache.get_secret_string("one-version", "AWSPREVIOUS") is None
    assert cache.get_secret_string("one-version", "AWSPENDING") is None
    assert cache.get_secret_binary("valueless") is None
    assert calls.operations == ["DescribeSecret", "DescribeSecret"]
    # The stage map is cached too: asking again costs nothing.
    assert cache.get_secret_string("one-version", "AWSPENDING") is None
    assert len(calls.calls) == 2


def test_stages_read_their_own_versions(
    sm: SecretsManagerClient, make_compat: Callable[..., SecretCache]
) -> None:
    sm.create_secret(Name="db", SecretString="old")
    rotate_secret(sm, "db", "new")
    start_rotation(sm, "db", "next")
    cache = make_compat()
    assert cache.get_secret_string("db") == "new"
    assert cache.get_secret_string("db", "AWSCURRENT") == "new"
    assert cache.get_secret_string("db", "AWSPREVIOUS") == "old"
    assert cache.get_secret_string("db", "AWSPENDING") == "next"


@pytest.mark.parametrize("stage", [None, ""])
def test_no_stage_means_the_configured_default(
    sm: SecretsManagerClient, make_compat: Callable[..., SecretCache], stage: str | None
) -> None:
    sm.create_secret(Name="db", SecretString="old")
    rotate_secret(sm, "db", "new")
    assert make_compat().get_secret_string("db", stage) == "new"
    previous = make_compat(default_version_stage="AWSPREVIOUS")
    assert previous.get_secret_string("db", stage) == "old"
    assert previous.get_secret_string("db", "AWSCURRENT") == "new"


def test_refresh_interval_is_jittered_between_half_and_all_of_it(
    sm: SecretsManagerClient, clock: FakeClock, calls: CallLog
) -> None:
    sm.create_secret(Name="db", SecretString="v1")
    caches = [
        SecretCache(SecretCacheConfig(secret_refresh_interval=100), sm, clock=clock)
        for _ in range(20)
    ]
    for cache in caches:
        cache.get_secret_string("db")
    refreshed_at: dict[int, float] = {}
    for second in range(1, 102):
        clock.advance(1.0)
        for index, cache in enumerate(caches):
            before = calls.count("DescribeSecret")
            cache.get_secret_string("db")
            if calls.count("DescribeSecret") > before and index not in refreshed_at:
                refreshed_at[index] = second
    assert len(refreshed_at) == len(caches)  # every cache asked again by the interval
    assert min(refreshed_at.values()) >= 50  # ... and none before half of it
    assert len(set(refreshed_at.values())) > 1  # spread, not in lockstep
    assert calls.count("GetSecretValue") == len(caches)  # unchanged version: no re-read


def test_a_rotation_is_seen_after_the_interval(
    sm: SecretsManagerClient,
    clock: FakeClock,
    calls: CallLog,
    make_compat: Callable[..., SecretCache],
) -> None:
    sm.create_secret(Name="db", SecretString="v1")
    cache = make_compat(secret_refresh_interval=60)
    assert cache.get_secret_string("db") == "v1"
    rotate_secret(sm, "db", "v2")
    assert cache.get_secret_string("db") == "v1"  # within the interval, as documented
    clock.advance(61)
    assert cache.get_secret_string("db") == "v2"
    # The old version is still cached under its VersionId: AWSPREVIOUS costs no get.
    gets = calls.count("GetSecretValue")
    assert cache.get_secret_string("db", "AWSPREVIOUS") == "v1"
    assert calls.count("GetSecretValue") == gets


def test_max_cache_size_bounds_what_is_kept(
    sm: SecretsManagerClient, calls: CallLog, make_compat: Callable[..., SecretCache]
) -> None:
    names = [f"s{i}" for i in range(6)]
    for name in names:
        sm.create_secret(Name=name, SecretString=f"value-{name}")
    cache = make_compat(max_cache_size=2)
    for _ in range(2):
        for name in names:
            assert cache.get_secret_string(name) == f"value-{name}"
    # Six secrets through two slots: the second pass had to load again.
    assert calls.count("DescribeSecret") > len(names)
    assert "secrets=2 versions=2" in repr(cache)


def test_a_config_is_read_once(sm: SecretsManagerClient, clock: FakeClock, calls: CallLog) -> None:
    sm.create_secret(Name="db", SecretString="v1")
    config = SecretCacheConfig(secret_refresh_interval=10)
    cache = SecretCache(config=config, client=sm, clock=clock)
    config.secret_refresh_interval = 100_000  # too late: the cache took a copy
    cache.get_secret_string("db")
    clock.advance(11)
    cache.get_secret_string("db")
    assert calls.count("DescribeSecret") == 2


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"max_cache_size": 0}, ValueError),
        ({"max_cache_size": "10"}, TypeError),
        ({"secret_refresh_interval": -1}, ValueError),
        ({"secret_refresh_interval": float("inf")}, ValueError),
        ({"exception_retry_delay_base": "1"}, TypeError),
        ({"exception_retry_delay_max": -5}, ValueError),
        ({"exception_retry_growth_factor": float("nan")}, ValueError),
        ({"exception_retry_growth_factor": True}, TypeError),
        ({"default_version_stage": 5}, TypeError),
        ({"default_version_stage": ""}, ValueError),
        ({"secret_cache_hook": object()}, TypeError),
    ],
)
def test_bad_config_values_fail_at_construction(
    sm: SecretsManagerClient, options: dict[str, Any], error: type[Exception]
) -> None:
    config = SecretCacheConfig(**options)
    with pytest.raises(error):
        SecretCache(config=config, client=sm)


def test_unknown_config_keyword_and_wrong_config_type() -> None:
    with pytest.raises(TypeError, match="Unexpected keyword argument refresh"):
        SecretCacheConfig(refresh=5)
    with pytest.raises(TypeError, match="SecretCacheConfig"):
        SecretCache(config={"max_cache_size": 5})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("",), ValueError),
        ((5,), TypeError),
        ((["db"],), TypeError),
        (("db", 5), TypeError),
        (("db", " AWSCURRENT"), ValueError),
    ],
)
def test_bad_arguments_raise_before_any_call(
    sm: SecretsManagerClient,
    calls: CallLog,
    make_compat: Callable[..., SecretCache],
    args: tuple[Any, ...],
    error: type[Exception],
) -> None:
    sm.create_secret(Name="db", SecretString="v1")
    cache = make_compat()
    cache.get_secret_string("db")  # warm: the hit path sees the bad arguments first
    calls.clear()
    with pytest.raises(error):
        cache.get_secret_string(*args)
    with pytest.raises(error):
        cache.get_secret_binary(*args)
    assert calls.calls == []
