"""FailoverSource's rules on in-process sources: probes, replication lag, ARNs, pages.

The primary and its replica are ``InMemorySource``s sharing their versions (``replica``);
a lagging replica is a small source of this file that answers what the replica held
before a rotation, as a real replica does until replication catches up.
"""

from __future__ import annotations

import contextlib
import random
import re
import threading
from typing import TYPE_CHECKING, Any

import pytest
from docs_pages import table

import secretcache
from secretcache import (
    FailoverSource,
    RotationEvent,
    Secret,
    SecretAccessDeniedError,
    SecretCache,
    SecretCacheError,
    SecretsManagerUnavailableError,
    SecretSource,
)
from secretcache._sources.botocore import BatchPage, secret_from_response
from secretcache.testing import FakeClock, InMemorySource

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from secretcache import SecretMetadata

EAST, WEST = "us-east-1", "us-west-2"
ACCOUNT = "123456789012"


def down() -> SecretsManagerUnavailableError:
    return SecretsManagerUnavailableError("connection refused", code="EndpointConnectionError")


@pytest.fixture
def primary() -> InMemorySource:
    return InMemorySource({f"k{i}": f"v{i}" for i in range(100)}, region=EAST)


@pytest.fixture
def replica(primary: InMemorySource) -> InMemorySource:
    return primary.replica(WEST)


def cache_over(
    primary: SecretSource, fallbacks: Sequence[SecretSource], clock: FakeClock, **kwargs: Any
) -> SecretCache:
    kwargs.setdefault("ttl", 300.0)
    kwargs.setdefault("jitter", 0.0)
    rng = random.Random(7)
    source = FailoverSource(primary, fallbacks, clock=clock, rng=rng)
    return SecretCache(source=source, clock=clock, rng=rng, **kwargs)


# -- the primary's backoff: one probe per step ----------------------------------------
def test_while_the_primary_backs_off_loads_skip_it_but_for_one_probe_a_step(
    primary: InMemorySource, replica: InMemorySource, clock: FakeClock
) -> None:
    cache = cache_over(primary, [replica], clock)
    primary.fail(down())
    probes = []
    for key, wait in [("k0", 0.0), ("k1", 0.9), ("k2", 0.4), ("k3", 1.5), ("k4", 2.5)]:
        clock.advance(wait)
        cache.get_secret(key)
        probes.append(primary.calls["GetSecretValue"])
    # t=0 fails (step 1-1.2 s); t=0.9 skipped; t=1.3 probes (step 2-2.4 s); t=2.8
    # skipped; t=5.3 probes.
    assert probes == [1, 1, 2, 2, 3]
    assert replica.calls["GetSecretValue"] == 5
    primary.heal()
    clock.advance(60.0)
    assert cache.get_secret("k5").arn.split(":")[3] == EAST  # the probe answered
    clock.advance(0.01)
    assert cache.get_secret("k6").arn.split(":")[3] == EAST  # used again at once
    assert cache.stats().calls_by_region == {EAST: 5, WEST: 5}
    assert cache.stats().failovers == 5


def test_an_hour_of_outage_costs_the_primary_at_most_one_call_a_backoff_step(
    primary: InMemorySource, replica: InMemorySource, clock: FakeClock
) -> None:
    cache = cache_over(primary, [replica], clock, jitter=0.1)
    primary.fail(down())
    draw = random.Random(3)
    for _ in range(36_000):  # 100 keys, 10 reads a second between them
        assert cache.get_secret_string(f"k{draw.randrange(100)}").startswith("v")
        clock.advance(0.1)
    calls = primary.calls["GetSecretValue"]
    # 1 s doubling to a 60 s cap: ~65 steps in an hour, however many keys load.
    assert calls <= 70
    assert replica.calls["GetSecretValue"] > 100 * 3600 / 300 - 100


def test_concurrent_loads_when_a_step_runs_out_send_one_probe(
    replica: InMemorySource, clock: FakeClock
) -> None:
    slow = InMemorySource({f"k{i}": "v" for i in range(8)}, region=EAST, latency=0.05)
    cache = cache_over(slow, [slow.replica(WEST)], clock)
    slow.fail(down())
    cache.get_secret("k0")
    clock.advance(5.0)
    threads = [threading.Thread(target=cache.get_secret, args=(f"k{i}",)) for i in range(1, 8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert slow.calls["GetSecretValue"] == 2  # the first failure and one probe
    assert cache.stats().size == 8


class Interrupted(BaseException):
    """Stands for a cancellation or an interrupt reaching a probe in flight."""


class Interruptible(InMemorySource):
    """A primary whose next read is interrupted while ``interrupt`` is set."""

    interrupt = False

    def get_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        if self.interrupt:
            raise Interrupted
        return super().get_secret_value(
            secret_id, version_stage=version_stage, version_id=version_id
        )


def test_an_interrupted_probe_is_given_back_for_the_next_request(clock: FakeClock) -> None:
    primary = Interruptible({"k": "v"}, region=EAST)
    source = FailoverSource(primary, [primary.replica(WEST)], clock=clock)
    primary.fail(down())
    source.get_secret_value("k", version_stage="AWSCURRENT")
    clock.advance(5.0)
    primary.interrupt = True
    with pytest.raises(Interrupted):
        source.get_secret_value("k", version_stage="AWSCURRENT")
    primary.interrupt = False
    primary.heal()
    answer = source.get_secret_value("k", version_stage="AWSCURRENT")
    assert answer.arn.split(":")[3] == EAST  # probed again: the step was not used up


# -- replication lag -------------------------------------------------------------------
class Lagging:
    """A replica that has not caught up: it answers what ``replica`` held when built."""

    def __init__(self, replica: InMemorySource, secret_id: str) -> None:
        self.region_name = replica.region_name
        self.calls = 0
        self._held = replica.get_secret_value(secret_id, version_stage="AWSCURRENT")
        self._meta = replica.describe_secret(secret_id)

    def get_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        self.calls += 1
        return self._held

    def describe_secret(self, secret_id: str) -> SecretMetadata:
        self.calls += 1
        return self._meta

    def batch_get_secret_value(
        self,
        *,
        secret_ids: Sequence[str] | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        next_token: str | None = None,
    ) -> BatchPage:
        self.calls += 1
        return BatchPage([self._held])


@pytest.mark.parametrize("mode", ["get", "describe", "prefetch"])
def test_a_lagging_replica_never_moves_a_stage_back(
    primary: InMemorySource, replica: InMemorySource, clock: FakeClock, mode: str
) -> None:
    lagging = Lagging(replica, "k1")  # holds v1's version
    events: list[RotationEvent] = []
    revalidate = "describe" if mode == "describe" else "get"
    cache = cache_over(primary, [lagging], clock, revalidate=revalidate, on_rotation=events.append)
    cache.get_secret("k1")
    new_version = primary.rotate("k1", "v1-rotated")
    clock.advance(300.0)
    assert cache.get_secret_string("k1") == "v1-rotated"
    primary.fail(down())
    clock.advance(300.0)
    if mode == "prefetch":
        found = cache.prefetch(["k1"])
        assert isinstance(found["k1"], Secret)
        assert found["k1"].version_id == new_version
    secret = cache.get_secret("k1")
    assert (secret.version_id, secret.secret_string) == (new_version, "v1-rotated")
    assert lagging.calls >= 1
    assert len(events) == 1  # the real rotation; the lagging answer is no rotation back
    assert cache.stats().failovers >= 1


def test_a_replica_answer_for_the_same_version_is_not_a_rotation(
    primary: InMemorySource, replica: InMemorySource, clock: FakeClock
) -> None:
    events: list[RotationEvent] = []
    cache = cache_over(primary, [replica], clock, on_rotation=events.append)
    before = cache.get_secret("k1")
    primary.fail(down())
    clock.advance(300.0)
    after = cache.get_secret("k1")
    assert after.version_id == before.version_id
    assert (before.arn.split(":")[3], after.arn.split(":")[3]) == (EAST, WEST)
    assert events == []
    assert cache.stats().rotations == 0


# -- ARNs ----------------------------------------------------------------------------------
class Recording:
    """A fallback answering the way GetSecretValue does, recording the ids asked."""

    def __init__(self, region: str) -> None:
        self.region_name = region
        self.asked: list[str] = []

    def get_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        self.asked.append(secret_id)
        arn = f"arn:aws:secretsmanager:{self.region_name}:{ACCOUNT}:secret:prod/db-AbCdEf"
        response = {"ARN": arn, "Name": "prod/db", "VersionId": "v" * 32, "SecretString": "s"}
        return secret_from_response(secret_id, response)

    def describe_secret(self, secret_id: str) -> SecretMetadata:
        raise NotImplementedError

    def batch_get_secret_value(self, **kwargs: Any) -> BatchPage:
        raise NotImplementedError


@pytest.mark.parametrize(
    "asked",
    [
        f"arn:aws:secretsmanager:{EAST}:{ACCOUNT}:secret:prod/db-AbCdEf",
        f"arn:aws:secretsmanager:{EAST}:{ACCOUNT}:secret:prod/db",  # partial
        "prod/db",
    ],
)
def test_a_fallback_is_asked_the_arn_in_its_region_and_its_answer_keeps_the_id_asked(
    primary: InMemorySource, clock: FakeClock, asked: str
) -> None:
    west = Recording(WEST)
    source = FailoverSource(primary, [west], clock=clock)
    primary.fail(down())
    secret = source.get_secret_value(asked, version_stage="AWSCURRENT")
    assert west.asked == [asked.replace(f":{EAST}:", f":{WEST}:")]
    assert secret.secret_id == asked
    assert secret.arn == f"arn:aws:secretsmanager:{WEST}:{ACCOUNT}:secret:prod/db-AbCdEf"


# -- batches -----------------------------------------------------------------------------
def test_a_fallbacks_next_page_is_asked_of_the_same_region(
    primary: InMemorySource, replica: InMemorySource, clock: FakeClock
) -> None:
    source = FailoverSource(primary, [replica], clock=clock)
    filters = [{"Key": "name", "Values": ["k"]}]
    primary.fail(down())
    first = source.batch_get_secret_value(filters=filters)
    primary.heal()
    clock.advance(120.0)  # the primary may be probed again: but not for this page
    second = source.batch_get_secret_value(filters=filters, next_token=first.next_token)
    assert primary.calls["BatchGetSecretValue"] == 1
    assert replica.calls["BatchGetSecretValue"] == 2
    names = [s.name for s in (*first.secrets, *second.secrets)]
    assert names == sorted(f"k{i}" for i in range(100))[:40]
    third = source.batch_get_secret_value(filters=filters)  # a new listing: the primary
    assert third.secrets[0].arn.split(":")[3] == EAST


def test_ids_a_fallbacks_batch_could_not_read_get_the_primarys_error(
    primary: InMemorySource, replica: InMemorySource, clock: FakeClock
) -> None:
    cache = cache_over(primary, [replica], clock)
    warm = cache.get_secret_string("k2")
    replica.fail(SecretAccessDeniedError("denied in this region", code="AccessDenied"), "k2")
    primary.fail(down())
    clock.advance(300.0)
    found = cache.prefetch(["k1", "k2"])
    assert isinstance(found["k1"], Secret)
    assert isinstance(found["k2"], SecretsManagerUnavailableError)  # not the replica's denial
    assert found["k2"].secret_id == "k2"
    assert cache.get_secret_string("k2") == warm  # kept, served stale


# -- arguments -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fallbacks", "kwargs", "error"),
    [
        ([], {}, ValueError),
        ("us-west-2", {}, TypeError),
        (None, {}, TypeError),
        ([InMemorySource()], {"clock": 3}, TypeError),
        ([InMemorySource()], {"rng": 3}, TypeError),
    ],
)
def test_failover_source_refuses_bad_arguments(
    fallbacks: Any, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        FailoverSource(InMemorySource(), fallbacks, **kwargs)


def test_a_cache_built_on_a_source_rejects_fallback_arguments(replica: InMemorySource) -> None:
    with pytest.raises(TypeError, match="FailoverSource"):
        SecretCache(source=replica, fallback_regions=("eu-west-1",))


# -- the manual's table ------------------------------------------------------------------
def test_the_manuals_fallback_table_says_which_failures_are_put_to_the_fallbacks() -> None:
    rows = table("| The primary region's failure |")
    named: set[type[SecretCacheError]] = set()
    for row in rows:
        asked = row[2].strip().startswith("yes")
        for name in re.findall(r"`(\w+Error)`", row[1]):
            error_class = getattr(secretcache, name)
            named.add(error_class)
            primary = InMemorySource({"k": "v"}, region=EAST)
            replica = primary.replica(WEST)
            primary.fail(error_class("injected", code="Injected"))
            source = FailoverSource(primary, [replica])
            with contextlib.suppress(SecretCacheError):
                source.get_secret_value("k", version_stage="AWSCURRENT")
            assert replica.calls["GetSecretValue"] == int(asked), name
    readable = {SecretCacheError, secretcache.SecretFormatError, secretcache.SecretFieldError}
    every = {
        getattr(secretcache, name)
        for name in secretcache.__all__
        if name.endswith("Error") and getattr(secretcache, name) not in readable
    }
    assert named == every  # every failure a read can meet has its row
