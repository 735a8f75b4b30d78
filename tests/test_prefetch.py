"""SecretCache.prefetch: BatchGetSecretValue warm-up, per-id typed errors, fallbacks."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from secretcache import (
    AWSCURRENT,
    AWSPREVIOUS,
    RotationEvent,
    Secret,
    SecretAccessDeniedError,
    SecretCache,
    SecretDeletedError,
    SecretNotFoundError,
    SecretsManagerThrottledError,
)
from secretcache.testing import FakeClock, FaultInjector, InMemorySource, counting_calls

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

MakeCache = Callable[..., SecretCache]


def seed(sm: SecretsManagerClient, names: list[str]) -> None:
    for name in names:
        sm.create_secret(Name=name, SecretString=json.dumps({"name": name}))


def test_45_ids_take_3_batch_calls_and_the_gets_that_follow_take_none(
    sm: SecretsManagerClient, make_cache: MakeCache
) -> None:
    names = [f"app/s{i:02d}" for i in range(45)]
    seed(sm, names)
    cache = make_cache()

    with counting_calls(sm) as calls:
        found = cache.prefetch(names)
    assert calls == {"BatchGetSecretValue": 3}
    assert list(found) == names
    assert all(isinstance(s, Secret) for s in found.values())

    with counting_calls(sm) as calls:
        values = [cache.get_secret_json(name)["name"] for name in names]
    assert values == names
    assert sum(calls.values()) == 0
    assert cache.stats().api_calls == {"BatchGetSecretValue": 3}


def test_prefetched_entries_expire_like_any_other(
    sm: SecretsManagerClient, make_cache: MakeCache, clock: FakeClock
) -> None:
    seed(sm, ["a"])
    cache = make_cache(ttl=60.0)
    cache.prefetch(["a"])
    clock.advance(61)
    with counting_calls(sm) as calls:
        assert cache.get_secret_json("a") == {"name": "a"}
    assert calls == {"GetSecretValue": 1}


def test_a_missing_id_maps_to_its_typed_error_and_is_remembered(
    sm: SecretsManagerClient, make_cache: MakeCache, clock: FakeClock
) -> None:
    seed(sm, ["here"])
    cache = make_cache()

    found = cache.prefetch(["here", "gone"])
    assert isinstance(found["here"], Secret)
    error = found["gone"]
    assert isinstance(error, SecretNotFoundError)
    assert error.secret_id == "gone"
    assert error.code == "ResourceNotFoundException"

    with counting_calls(sm) as calls, pytest.raises(SecretNotFoundError):
        cache.get_secret("gone")  # inside the backoff step: no call
    assert sum(calls.values()) == 0

    sm.create_secret(Name="gone", SecretString="{}")
    clock.advance(5)  # past the first backoff step (1 s, plus jitter)
    with counting_calls(sm) as calls:
        assert cache.get_secret_string("gone") == "{}"
    assert calls == {"GetSecretValue": 1}


def test_a_denied_batch_falls_back_to_one_get_per_id(
    sm: SecretsManagerClient, make_cache: MakeCache
) -> None:
    names = [f"s{i:02d}" for i in range(25)]
    seed(sm, names)
    cache = make_cache()

    with FaultInjector(sm) as faults, counting_calls(sm) as calls:
        faults.fail("AccessDeniedException", operation="BatchGetSecretValue")
        found = cache.prefetch([*names, "missing"])
    # One denied batch is enough to know: the second chunk goes straight to singles.
    assert calls == {"BatchGetSecretValue": 1, "GetSecretValue": 26}
    assert [json.loads(found[n].secret_string or "")["name"] for n in names] == names  # type: ignore[union-attr]
    assert isinstance(found["missing"], SecretNotFoundError)

    with counting_calls(sm) as calls:
        cache.get_secret("s00")
    assert sum(calls.values()) == 0


def test_filters_page_through_next_token(sm: SecretsManagerClient, make_cache: MakeCache) -> None:
    wanted = [f"team-a/s{i:02d}" for i in range(45)]
    seed(sm, [*wanted, "team-b/other"])
    cache = make_cache()

    with counting_calls(sm) as calls:
        found = cache.prefetch(filters=[{"Key": "name", "Values": ["team-a/"]}])
    assert calls == {"BatchGetSecretValue": 3}  # 20 + 20 + 5
    assert sorted(found) == wanted
    assert "team-b/other" not in found

    with counting_calls(sm) as calls:
        for name in wanted:
            cache.get_secret(name)
    assert sum(calls.values()) == 0


def test_a_throttled_batch_maps_every_id_to_the_error_without_remembering_it(
    sm: SecretsManagerClient, make_cache: MakeCache
) -> None:
    names = [f"s{i:02d}" for i in range(30)]
    seed(sm, names)
    cache = make_cache()

    with FaultInjector(sm) as faults, counting_calls(sm) as calls:
        faults.fail("ThrottlingException", operation="BatchGetSecretValue")
        found = cache.prefetch(names)
    assert calls == {"BatchGetSecretValue": 1}  # no second chunk while throttled
    assert set(found) == set(names)
    assert all(isinstance(e, SecretsManagerThrottledError) for e in found.values())

    with counting_calls(sm) as calls:
        cache.get_secret("s29")  # not in backoff: a later get simply tries
    assert calls == {"GetSecretValue": 1}


def test_prefetch_reports_a_rotation_once(
    sm: SecretsManagerClient, make_cache: MakeCache, clock: FakeClock
) -> None:
    seed(sm, ["db"])
    events: list[RotationEvent] = []
    cache = make_cache(on_rotation=events.append)
    old = cache.get_secret("db")
    sm.put_secret_value(SecretId="db", SecretString='{"name": "new"}')

    cache.prefetch(["db"])
    cache.prefetch(["db"])  # the same version again is no rotation
    assert cache.get_secret_json("db") == {"name": "new"}
    assert len(events) == 1
    assert events[0].old_version_id == old.version_id
    assert events[0].new_version_id == cache.get_secret("db").version_id
    assert cache.stats().rotations == 1


def test_ids_given_as_arns_map_back_to_the_arn(
    sm: SecretsManagerClient, make_cache: MakeCache
) -> None:
    arn = sm.create_secret(Name="by-arn", SecretString="v")["ARN"]
    cache = make_cache()
    found = cache.prefetch([arn])
    assert list(found) == [arn]
    with counting_calls(sm) as calls:
        assert cache.get_secret_string(arn) == "v"
    assert sum(calls.values()) == 0


def test_a_deleted_secret_in_a_batch_drops_its_other_cached_stages(clock: FakeClock) -> None:
    # InMemorySource reports deletion per id, as AWS does (moto fails the whole call).
    source = InMemorySource({"db": "one"})
    source.rotate("db", "two")
    cache = SecretCache(source=source, clock=clock, ttl=60.0, jitter=0.0)
    assert cache.get_secret_string("db", AWSPREVIOUS) == "one"

    source.delete("db")
    found = cache.prefetch(["db"])
    assert isinstance(found["db"], SecretDeletedError)
    with pytest.raises(SecretDeletedError):
        cache.get_secret("db", AWSPREVIOUS)  # nothing stale served after a deletion
    with pytest.raises(SecretDeletedError):
        cache.get_secret("db", AWSCURRENT)


def test_duplicates_are_read_once_and_an_empty_list_costs_nothing(
    sm: SecretsManagerClient, make_cache: MakeCache
) -> None:
    seed(sm, ["a"])
    cache = make_cache()
    with counting_calls(sm) as calls:
        assert cache.prefetch([]) == {}
        assert list(cache.prefetch(["a", "a", "a"])) == ["a"]
    assert calls == {"BatchGetSecretValue": 1}


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {}),
        ((["a"],), {"filters": [{"Key": "name", "Values": ["a"]}]}),
        (("just-one-id",), {}),
        ((), {"filters": {"Key": "name", "Values": ["a"]}}),
        (([42],), {}),
    ],
    ids=["neither", "both", "a-string", "filters-not-a-list", "id-not-a-str"],
)
def test_misuse_is_a_type_error_before_any_call(
    sm: SecretsManagerClient,
    make_cache: MakeCache,
    args: tuple[object, ...],
    kwargs: dict[str, object],
) -> None:
    cache = make_cache()
    with counting_calls(sm) as calls, pytest.raises(TypeError):
        cache.prefetch(*args, **kwargs)  # type: ignore[arg-type]
    assert sum(calls.values()) == 0


def test_a_failed_filtered_batch_raises_its_typed_error(
    sm: SecretsManagerClient, make_cache: MakeCache
) -> None:
    seed(sm, ["team-a/s"])
    cache = make_cache()
    with FaultInjector(sm) as faults:
        faults.fail("AccessDeniedException", operation="BatchGetSecretValue")
        with pytest.raises(SecretAccessDeniedError):
            cache.prefetch(filters=[{"Key": "name", "Values": ["team-a/"]}])
