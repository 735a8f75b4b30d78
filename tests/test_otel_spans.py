"""OpenTelemetry spans of a SecretCache on moto: one CLIENT span per API call, why it was made.

Spans go to the SDK's InMemorySpanExporter; every attribute, event and status text is
scanned for the secret's value (a canary).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode
from otel_kit import BOTOCORE, Telemetry, telemetry_fixture

from secretcache import AWSCURRENT, AWSPENDING, SecretCache, SecretNotFoundError
from secretcache.integrations.opentelemetry import instrumented, uninstrument
from secretcache.testing import FaultInjector

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache.testing import FakeClock

__all__ = ["telemetry_fixture"]


@pytest.fixture
def arn(sm: SecretsManagerClient, canary: str) -> str:
    """prod/db holding the canary; returns its ARN."""
    value = json.dumps({"username": "app", "password": canary})
    return sm.create_secret(Name="prod/db", SecretString=value)["ARN"]


@pytest.fixture
def cache(make_cache: Callable[..., SecretCache], telemetry: Telemetry) -> SecretCache:
    """An instrumented cache on moto (ttl 60 s, fake clock)."""
    return telemetry.instrument(make_cache())  # type: ignore[no-any-return]


def assert_no_canary(telemetry: Telemetry, canary: str) -> None:
    texts = list(telemetry.texts())
    assert texts  # something was exported
    assert not [t for t in texts if canary in t]


def test_a_load_is_one_client_span_under_the_callers_span(
    cache: SecretCache, telemetry: Telemetry, arn: str, canary: str
) -> None:
    with telemetry.tracer.start_as_current_span("handler") as parent:
        assert canary in cache.get_secret_string("prod/db")
        cache.get_secret_json("prod/db")  # a hit: no span
    (span,) = telemetry.spans()
    assert span.name == "SecretsManager.GetSecretValue"
    assert span.kind is SpanKind.CLIENT
    assert span.parent is not None
    assert span.parent.span_id == parent.get_span_context().span_id
    assert span.status.status_code is StatusCode.UNSET
    attributes = dict(span.attributes or {})
    request_id = attributes.pop("aws.request_id")
    assert isinstance(request_id, str)
    assert request_id
    assert attributes == {
        "rpc.system": "aws-api",
        "rpc.service": "SecretsManager",
        "rpc.method": "GetSecretValue",
        "cloud.region": "us-east-1",
        "aws.secretsmanager.secret.arn": arn,
        "secretcache.reason": "load",
        "secretcache.transport": "sdk",
        "secretcache.version_stage": AWSCURRENT,
        "secretcache.secret_id": "prod/db",
        "secretcache.stale_served": False,
    }
    assert_no_canary(telemetry, canary)


def test_each_span_says_why_the_cache_called(
    cache: SecretCache, telemetry: Telemetry, sm: SecretsManagerClient, arn: str, clock: FakeClock
) -> None:
    cache.get_secret("prod/db")
    clock.advance(61)
    cache.get_secret("prod/db")  # expired: revalidated
    cache.refresh("prod/db")
    version = cache.get_secret("prod/db").version_id
    cache.get_secret("prod/db", version_id=version)
    cache.prefetch(["prod/db"])
    sm.put_secret_value(SecretId="prod/db", SecretString="{}", VersionStages=[AWSPENDING])
    cache.rotation_candidate("prod/db", version)
    seen = [
        (
            s.name,
            s.attributes["secretcache.reason"],
            s.attributes.get("secretcache.version_stage")
            or s.attributes.get("secretcache.version_id"),
        )
        for s in telemetry.spans()
        if s.attributes is not None
    ]
    assert seen == [
        ("SecretsManager.GetSecretValue", "load", AWSCURRENT),
        ("SecretsManager.GetSecretValue", "revalidate", AWSCURRENT),
        ("SecretsManager.GetSecretValue", "refresh", AWSCURRENT),
        ("SecretsManager.GetSecretValue", "load", version),
        ("SecretsManager.BatchGetSecretValue", "prefetch", None),
        ("SecretsManager.GetSecretValue", "rotation_look", AWSCURRENT),
        ("SecretsManager.GetSecretValue", "rotation_look", AWSPENDING),
    ]
    batch = telemetry.spans()[4].attributes or {}
    assert (batch["secretcache.batch.size"], batch["secretcache.batch.secrets"]) == (1, 1)
    assert all("aws.request_id" in (s.attributes or {}) for s in telemetry.spans())


def test_describe_mode_traces_describe_secret(
    make_cache: Callable[..., SecretCache], telemetry: Telemetry, arn: str, clock: FakeClock
) -> None:
    cache = telemetry.instrument(make_cache(revalidate="describe"))
    cache.get_secret("prod/db")
    clock.advance(61)
    cache.get_secret("prod/db")  # unchanged: DescribeSecret alone
    names = [(s.name, (s.attributes or {})["secretcache.reason"]) for s in telemetry.spans()]
    assert names == [
        ("SecretsManager.GetSecretValue", "load"),
        ("SecretsManager.DescribeSecret", "revalidate"),
    ]
    assert (telemetry.spans()[1].attributes or {})["aws.secretsmanager.secret.arn"] == arn


def test_a_failed_call_is_an_error_span_with_the_typed_class(
    cache: SecretCache, telemetry: Telemetry, moto_backend: None
) -> None:
    with pytest.raises(SecretNotFoundError):
        cache.get_secret("prod/missing")
    (span,) = telemetry.spans()
    assert span.status.status_code is StatusCode.ERROR
    attributes = span.attributes or {}
    assert attributes["error.type"] == "SecretNotFoundError"
    assert attributes["secretcache.error.code"] == "ResourceNotFoundException"
    assert attributes["aws.request_id"]
    assert attributes["secretcache.stale_served"] is False
    (event,) = span.events
    assert event.name == "exception"
    assert (event.attributes or {})[
        "exception.type"
    ] == "secretcache.exceptions.SecretNotFoundError"


def test_a_throttled_revalidation_says_the_stale_value_was_served(
    cache: SecretCache,
    telemetry: Telemetry,
    sm: SecretsManagerClient,
    arn: str,
    clock: FakeClock,
    canary: str,
) -> None:
    cache.get_secret("prod/db")
    clock.advance(61)
    with FaultInjector(sm) as faults:
        faults.fail("ThrottlingException")
        assert canary in cache.get_secret_string("prod/db")  # stale, served
    span = telemetry.spans()[-1]
    attributes = span.attributes or {}
    assert span.status.status_code is StatusCode.ERROR
    assert attributes["error.type"] == "SecretsManagerThrottledError"
    assert attributes["secretcache.reason"] == "revalidate"
    assert attributes["secretcache.stale_served"] is True
    assert cache.stats().stale_served == 1
    assert_no_canary(telemetry, canary)


def test_secret_ids_can_be_left_out(
    make_cache: Callable[..., SecretCache], telemetry: Telemetry, arn: str, canary: str
) -> None:
    cache = telemetry.instrument(make_cache(), record_secret_ids=False)
    cache.get_secret("prod/db")
    with pytest.raises(SecretNotFoundError):
        cache.get_secret(arn.replace("prod/db", "prod/other"))
    cache.prefetch(["prod/db"])
    assert len(telemetry.spans()) == 3
    texts = list(telemetry.texts())
    assert not [t for t in texts if "prod/" in t or canary in t]
    assert all(
        "aws.secretsmanager.secret.arn" not in (s.attributes or {}) for s in telemetry.spans()
    )


def test_uninstrument_stops_the_spans(
    cache: SecretCache, telemetry: Telemetry, arn: str, clock: FakeClock
) -> None:
    cache.get_secret("prod/db")
    assert instrumented(cache)
    uninstrument(cache)
    assert not instrumented(cache)
    clock.advance(61)
    cache.get_secret("prod/db")
    assert len(telemetry.spans()) == 1
    uninstrument(cache)  # twice: nothing to undo


def test_instrumenting_again_replaces_the_instrumentation(
    cache: SecretCache, telemetry: Telemetry, arn: str
) -> None:
    telemetry.instrument(cache, cache_name="main")
    cache.get_secret("prod/db")
    (span,) = telemetry.spans()  # one span: the wrappers were not stacked
    assert (span.attributes or {})["secretcache.cache.name"] == "main"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({"record_secret_ids": "no"}, TypeError), ({"cache_name": ""}, TypeError)],
)
def test_bad_options_are_refused(
    cache: SecretCache, telemetry: Telemetry, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        telemetry.instrument(cache, **kwargs)


def test_only_caches_can_be_instrumented(telemetry: Telemetry) -> None:
    with pytest.raises(TypeError, match="SecretCache or an AsyncSecretCache"):
        telemetry.instrument(object())


# -- with opentelemetry-instrumentation-botocore active --------------------------------------


@pytest.fixture
def botocore_traced(telemetry: Telemetry) -> Iterator[None]:
    """The real botocore instrumentor, on the same tracer provider."""
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor

    instrumentor = BotocoreInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider)
    yield
    instrumentor.uninstrument()


def test_with_the_botocore_instrumentor_a_call_is_traced_once(
    make_cache: Callable[..., SecretCache],
    telemetry: Telemetry,
    sm: SecretsManagerClient,
    arn: str,
    clock: FakeClock,
    botocore_traced: None,
) -> None:
    cache = make_cache()
    cache.get_secret("prod/db")
    assert len(telemetry.spans(BOTOCORE)) == 1  # it traces an uninstrumented cache's call
    telemetry.instrument(cache)
    clock.advance(61)
    with telemetry.tracer.start_as_current_span("handler"):
        cache.get_secret("prod/db")
        cache.prefetch(["prod/db"])
    assert len(telemetry.spans(BOTOCORE)) == 1  # none more: ours suppressed it
    assert [s.name for s in telemetry.spans()] == [
        "SecretsManager.GetSecretValue",
        "SecretsManager.BatchGetSecretValue",
    ]
    # botocore's own calls outside the cache are still its to trace.
    sm.list_secrets()  # the cache's own client
    assert len(telemetry.spans(BOTOCORE)) == 2


def test_two_caches_on_one_client_keep_their_request_ids_apart_from_uninstrument(
    make_cache: Callable[..., SecretCache], telemetry: Telemetry, arn: str
) -> None:
    first, second = telemetry.instrument(make_cache()), telemetry.instrument(make_cache())
    first.get_secret("prod/db")
    uninstrument(first)
    second.get_secret("prod/db")
    assert [bool((s.attributes or {}).get("aws.request_id")) for s in telemetry.spans()] == [
        True,
        True,
    ]
