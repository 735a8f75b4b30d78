"""Regional failover on moto: the primary region fails at the HTTP level, a replica answers.

moto replicates a secret created with ``AddReplicaRegions`` (same name, same
VersionIds, ARN in the replica's region). Faults are injected on the primary region's
client only (``FaultInjector``), so every fallback answer comes through botocore from
the replica region.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

from secretcache import (
    InvalidSecretRequestError,
    RotationEvent,
    SecretAccessDeniedError,
    SecretCache,
    SecretCacheError,
    SecretCredentialsError,
    SecretDecryptionError,
    SecretDeletedError,
    SecretNotFoundError,
    SecretsManagerThrottledError,
    SecretsManagerUnavailableError,
)
from secretcache.testing import FakeClock, FaultInjector, counting_calls, rotate_secret

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from mypy_boto3_secretsmanager import SecretsManagerClient

EAST, WEST = "us-east-1", "us-west-2"
RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 3})


@pytest.fixture
def east(boto_session: boto3.Session, moto_backend: None) -> SecretsManagerClient:
    """The primary region's client: the one that fails."""
    return boto_session.client("secretsmanager", region_name=EAST, config=RETRIES)


@pytest.fixture
def west(boto_session: boto3.Session, moto_backend: None) -> SecretsManagerClient:
    """The replica region's client."""
    return boto_session.client("secretsmanager", region_name=WEST, config=RETRIES)


@pytest.fixture
def admin(boto_session: boto3.Session, moto_backend: None) -> SecretsManagerClient:
    """An unfaulted client of the primary region, to create and rotate secrets."""
    return boto_session.client("secretsmanager", region_name=EAST)


@pytest.fixture
def arn(admin: SecretsManagerClient, canary: str) -> str:
    """prod/db, replicated to us-west-2; returns its primary ARN."""
    created = admin.create_secret(
        Name="prod/db", SecretString=f"v1-{canary}", AddReplicaRegions=[{"Region": WEST}]
    )
    return created["ARN"]


@pytest.fixture
def make(
    east: SecretsManagerClient, west: SecretsManagerClient, clock: FakeClock
) -> Iterator[Callable[..., SecretCache]]:
    """Build caches reading us-east-1 first, us-west-2 when it fails (ttl 300 s)."""
    built: list[SecretCache] = []

    def build(**kwargs: Any) -> SecretCache:
        kwargs.setdefault("client", east)
        kwargs.setdefault("fallback_clients", (west,))
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("ttl", 300.0)
        cache = SecretCache(**kwargs)
        built.append(cache)
        return cache

    yield build
    for cache in built:
        cache.close()


@pytest.fixture
def outage(east: SecretsManagerClient) -> Iterator[FaultInjector]:
    """The primary region's client refuses every connection until healed."""
    with FaultInjector(east) as faults:
        faults.connection_error()
        faults.connection_error(operation="DescribeSecret")
        faults.connection_error(operation="BatchGetSecretValue")
        yield faults


def _region(arn: str) -> str:
    return arn.split(":")[3]


# -- cold reads: each kind of transient failure fails over ---------------------------
@pytest.mark.parametrize(
    "inject",
    [
        lambda f: f.connection_error(),
        lambda f: f.connect_timeout(),
        lambda f: f.read_timeout(),
        lambda f: f.fail("InternalServiceError", status=500),
        lambda f: f.fail("ServiceUnavailable", status=503),
        lambda f: f.fail("ThrottlingException"),
    ],
    ids=["connection", "connect-timeout", "read-timeout", "500", "503", "throttled"],
)
def test_a_cold_read_fails_over_on_every_transient_failure(
    make: Callable[..., SecretCache],
    east: SecretsManagerClient,
    west: SecretsManagerClient,
    arn: str,
    canary: str,
    inject: Callable[[FaultInjector], object],
) -> None:
    cache = make()
    with FaultInjector(east) as faults, counting_calls(west) as west_calls:
        inject(faults)
        secret = cache.get_secret("prod/db")
    assert secret.secret_string == f"v1-{canary}"
    assert secret.secret_id == "prod/db"
    assert _region(secret.arn) == WEST
    assert secret.arn == arn.replace(EAST, WEST)
    assert west_calls == {"GetSecretValue": 1}
    stats = cache.stats()
    assert stats.failovers == 1
    assert stats.calls_by_region == {EAST: 1, WEST: 1}
    assert stats.errors == 0  # the load worked: nothing to back off from
    assert faults.attempts["GetSecretValue"] >= 1  # the primary was asked first


def test_a_warm_key_stays_fresh_through_an_hour_long_outage(
    make: Callable[..., SecretCache],
    east: SecretsManagerClient,
    west: SecretsManagerClient,
    arn: str,
    clock: FakeClock,
    canary: str,
) -> None:
    cache = make(max_stale=900.0)
    assert _region(cache.get_secret("prod/db").arn) == EAST
    served: Counter[str] = Counter()
    with (
        FaultInjector(east) as faults,
        counting_calls(east) as east_calls,
        counting_calls(west) as west_calls,
    ):
        faults.connection_error()
        for _ in range(3600 * 10):  # 10 reads a second for an hour: 4x max_stale
            served[cache.get_secret_string("prod/db")] += 1
            clock.advance(0.1)
    assert served == {f"v1-{canary}": 36_000}
    stats = cache.stats()
    assert stats.stale_served == 0  # every value came fresh from the replica
    assert stats.errors == 0
    # One load per ~TTL, each probing the primary once (its backoff step has run out).
    assert 12 <= west_calls["GetSecretValue"] <= 14
    assert east_calls["GetSecretValue"] == west_calls["GetSecretValue"] <= 70
    assert stats.failovers == west_calls["GetSecretValue"]


def test_the_primary_is_used_again_as_soon_as_it_answers(
    make: Callable[..., SecretCache],
    east: SecretsManagerClient,
    west: SecretsManagerClient,
    arn: str,
    clock: FakeClock,
) -> None:
    cache = make(jitter=0.0)
    with FaultInjector(east) as faults:
        faults.connection_error()
        assert _region(cache.get_secret("prod/db").arn) == WEST
        clock.advance(300.0)
        assert _region(cache.get_secret("prod/db").arn) == WEST
        faults.heal()
        clock.advance(300.0)
        with counting_calls(west) as west_calls:
            recovered = cache.get_secret("prod/db")
    assert _region(recovered.arn) == EAST
    assert west_calls == {}
    assert cache.stats().failovers == 2
    assert cache.stats().rotations == 0  # replicas share VersionIds: never a rotation


def test_a_rotation_during_the_outage_is_read_from_the_replica(
    make: Callable[..., SecretCache],
    east: SecretsManagerClient,
    admin: SecretsManagerClient,
    arn: str,
    clock: FakeClock,
    outage: FaultInjector,
) -> None:
    events: list[RotationEvent] = []
    cache = make(jitter=0.0, on_rotation=events.append)
    old = cache.get_secret("prod/db")
    new_version = rotate_secret(admin, "prod/db", "v2")
    clock.advance(300.0)
    assert cache.get_secret_string("prod/db") == "v2"
    assert events == [RotationEvent("prod/db", "AWSCURRENT", old.version_id, new_version)]


def test_failing_over_logs_the_region_and_never_a_value(
    make: Callable[..., SecretCache],
    arn: str,
    clock: FakeClock,
    outage: FaultInjector,
    debug_logs: Any,
    canary: str,
) -> None:
    cache = make(jitter=0.0)
    outage.heal()
    cache.get_secret("prod/db")
    outage.connection_error()
    clock.advance(300.0)
    cache.get_secret("prod/db")
    outage.heal()
    clock.advance(300.0)
    cache.get_secret("prod/db")
    warnings = [text for text in debug_logs.texts if text.startswith("secretcache: region")]
    assert warnings == [
        "secretcache: region us-east-1 failed (SecretsManagerUnavailableError); "
        "skipped while it backs off, but for one probe a step",
        "secretcache: region us-east-1 answers again",
    ]
    assert not any(canary in text for text in debug_logs.texts)


# -- ARNs name their region ----------------------------------------------------------
def test_an_arn_is_asked_in_the_fallbacks_region_and_answered_under_the_id_asked(
    make: Callable[..., SecretCache], west: SecretsManagerClient, arn: str, outage: FaultInjector
) -> None:
    # (moto cannot find a replica by partial ARN: tests/test_failover_rules.py covers those.)
    cache = make()
    asked: list[str] = []
    west.meta.events.register(
        "before-parameter-build.secrets-manager.GetSecretValue",
        lambda params, **kwargs: asked.append(params["SecretId"]),
    )
    by_arn = cache.get_secret(arn)
    assert by_arn.secret_id == arn
    assert by_arn.arn == arn.replace(EAST, WEST)
    assert asked == [arn.replace(EAST, WEST)]
    assert by_arn.version_id == cache.get_secret("prod/db").version_id


# -- answers about the secret are never failed over ----------------------------------
@pytest.mark.parametrize(
    ("code", "message", "raised"),
    [
        ("AccessDeniedException", "not authorized", SecretAccessDeniedError),
        ("ResourceNotFoundException", "can't find the specified secret", SecretNotFoundError),
        ("InvalidRequestException", "marked for deletion", SecretDeletedError),
        ("DecryptionFailure", "KMS key is disabled", SecretDecryptionError),
        ("InvalidParameterException", "bad parameter", InvalidSecretRequestError),
        ("ExpiredTokenException", "token expired", SecretCredentialsError),
        ("UnrecognizedClientException", "invalid token", SecretCredentialsError),
    ],
)
def test_a_terminal_answer_of_the_primary_is_raised_never_failed_over(
    make: Callable[..., SecretCache],
    east: SecretsManagerClient,
    west: SecretsManagerClient,
    arn: str,
    code: str,
    message: str,
    raised: type[SecretCacheError],
) -> None:
    cache = make()
    with FaultInjector(east) as faults, counting_calls(west) as west_calls:
        faults.fail(code, message=message)
        with pytest.raises(raised) as caught:
            cache.get_secret("prod/db")
    assert caught.value.code == code
    assert west_calls == {}
    assert cache.stats().failovers == 0


def test_a_denial_drops_the_value_even_while_the_replica_would_answer(
    make: Callable[..., SecretCache],
    east: SecretsManagerClient,
    west: SecretsManagerClient,
    arn: str,
    clock: FakeClock,
) -> None:
    cache = make(jitter=0.0)
    with FaultInjector(east) as faults:
        faults.connection_error()
        cache.get_secret("prod/db")  # from the replica; the primary backs off
        faults.heal()
        faults.fail("AccessDeniedException", message="access revoked")
        clock.advance(300.0)
        with counting_calls(west) as west_calls:
            for _ in range(3):
                with pytest.raises(SecretAccessDeniedError):
                    cache.get_secret("prod/db")
    assert west_calls == {}


# -- when no region answers ----------------------------------------------------------
def test_when_every_region_fails_the_primarys_error_is_raised_and_stale_rules_hold(
    make: Callable[..., SecretCache],
    east: SecretsManagerClient,
    west: SecretsManagerClient,
    arn: str,
    clock: FakeClock,
    canary: str,
) -> None:
    cache = make(jitter=0.0, max_stale=900.0)
    warm = cache.get_secret_string("prod/db")
    with FaultInjector(east) as east_faults, FaultInjector(west) as west_faults:
        east_faults.connection_error()
        west_faults.fail("AccessDeniedException")  # this replica cannot help: not a denial
        with pytest.raises(SecretsManagerUnavailableError) as cold:
            cache.get_secret("other/secret")
        clock.advance(300.0)
        assert cache.get_secret_string("prod/db") == warm == f"v1-{canary}"  # stale
        clock.advance(901.0)
        with pytest.raises(SecretsManagerUnavailableError) as late:
            cache.get_secret_string("prod/db")
    assert cold.value.code == "EndpointConnectionError"
    # The replica's refusal is in the chain (a broken replica policy shows in an outage).
    assert isinstance(cold.value.__cause__, SecretAccessDeniedError)
    assert "Could not connect" in cold.value.message  # and the primary's failure is told
    assert late.value.code == "EndpointConnectionError"
    assert late.value.secret_id == "prod/db"
    assert cache.stats().stale_served >= 1
    assert cache.stats().failovers == 0


def test_a_throttled_primary_and_an_unreachable_replica_raise_the_throttling(
    make: Callable[..., SecretCache],
    east: SecretsManagerClient,
    west: SecretsManagerClient,
    arn: str,
) -> None:
    cache = make()
    with FaultInjector(east) as east_faults, FaultInjector(west) as west_faults:
        east_faults.fail("ThrottlingException")
        west_faults.read_timeout()
        with pytest.raises(SecretsManagerThrottledError):
            cache.get_secret("prod/db")


# -- prefetch and describe mode ------------------------------------------------------
def test_prefetch_fails_over_as_one_batch_and_keeps_the_ids_asked(
    make: Callable[..., SecretCache],
    west: SecretsManagerClient,
    admin: SecretsManagerClient,
    arn: str,
    outage: FaultInjector,
) -> None:
    api = admin.create_secret(
        Name="prod/api", SecretString="k", AddReplicaRegions=[{"Region": WEST}]
    )
    cache = make()
    with counting_calls(west) as west_calls:
        found = cache.prefetch(["prod/db", api["ARN"]])
    assert west_calls == {"BatchGetSecretValue": 1}
    assert list(found) == ["prod/db", api["ARN"]]
    for secret_id, secret in found.items():
        assert not isinstance(secret, SecretCacheError)
        assert secret.secret_id == secret_id
        assert _region(secret.arn) == WEST
    assert cache.stats().failovers == 2
    with counting_calls(west) as later:
        assert cache.get_secret(api["ARN"]).arn == api["ARN"].replace(EAST, WEST)
    assert later == {}


def test_describe_mode_revalidates_through_the_replica(
    make: Callable[..., SecretCache],
    west: SecretsManagerClient,
    admin: SecretsManagerClient,
    arn: str,
    clock: FakeClock,
    outage: FaultInjector,
) -> None:
    cache = make(revalidate="describe", jitter=0.0)
    cache.get_secret("prod/db")
    clock.advance(300.0)
    with counting_calls(west) as unchanged:
        cache.get_secret("prod/db")
    assert unchanged == {"DescribeSecret": 1}
    new_version = rotate_secret(admin, "prod/db", "v2")
    clock.advance(300.0)
    with counting_calls(west) as rotated:
        secret = cache.get_secret("prod/db")
    assert rotated == {"DescribeSecret": 1, "GetSecretValue": 1}
    assert (secret.version_id, secret.secret_string) == (new_version, "v2")
    assert cache.stats().failovers == 3  # the cold read and two revalidations


# -- clients secretcache builds --------------------------------------------------------
def test_fallback_regions_build_clients_and_the_primary_tries_each_request_once(
    moto_backend: None, arn: str, canary: str, clock: FakeClock
) -> None:
    session = boto3.Session(region_name=EAST)  # its own: the hook below stays in this test
    attempts: Counter[str] = Counter()

    def primary_down(request: Any, **kwargs: Any) -> None:
        region = WEST if f".{WEST}." in request.url else EAST
        attempts[region] += 1
        if region == EAST:
            raise EndpointConnectionError(endpoint_url=request.url)

    session.events.register_first("before-send.secrets-manager", primary_down)
    with SecretCache(session=session, fallback_regions=(WEST,), clock=clock) as cache:
        assert cache.get_secret_string("prod/db") == f"v1-{canary}"
        assert _region(cache.get_secret("prod/db", "AWSCURRENT").arn) == WEST
        assert attempts == {EAST: 1, WEST: 1}  # no botocore retries on the primary
        assert cache.stats().calls_by_region == {EAST: 1, WEST: 1}


def test_no_primary_region_is_a_configuration_error_not_a_failover(
    moto_backend: None, arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    with SecretCache(fallback_regions=(WEST,)) as cache:
        with pytest.raises(SecretCredentialsError) as caught:
            cache.get_secret("prod/db")
        assert caught.value.code == "NoRegionError"
        assert cache.stats().failovers == 0
        assert WEST not in cache.stats().calls_by_region


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"fallback_regions": WEST}, TypeError),
        ({"fallback_regions": (WEST, WEST)}, ValueError),
        ({"fallback_regions": ("",)}, ValueError),
        ({"fallback_regions": (1,)}, TypeError),
        ({"fallback_regions": None}, TypeError),
        ({"fallback_regions": (WEST,), "fallback_clients": ("c",)}, TypeError),
        ({"fallback_regions": (WEST,), "client": "c"}, TypeError),
    ],
)
def test_misused_fallback_arguments_are_refused_at_once(
    kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        SecretCache(**kwargs)
