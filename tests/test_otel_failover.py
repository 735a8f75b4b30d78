"""OpenTelemetry spans of a SecretCache failing over on moto: each region asked is a span.

The primary region's client refuses connections (``FaultInjector``); the replica in
us-west-2 answers through botocore. The fixtures are tests/test_failover.py's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.trace import StatusCode
from otel_kit import Telemetry, telemetry_fixture
from test_failover import EAST, WEST, admin, arn, east, make, outage, west

if TYPE_CHECKING:
    from collections.abc import Callable

    from secretcache import SecretCache
    from secretcache.testing import FakeClock, FaultInjector

__all__ = ["admin", "arn", "east", "make", "outage", "telemetry_fixture", "west"]


def test_an_outage_is_an_error_span_in_the_primary_and_an_answer_from_the_replica(
    make: Callable[..., SecretCache],
    telemetry: Telemetry,
    arn: str,
    outage: FaultInjector,
    clock: FakeClock,
    canary: str,
) -> None:
    cache = telemetry.instrument(make())
    with telemetry.tracer.start_as_current_span("handler") as handler:
        assert cache.get_secret_string(arn) == f"v1-{canary}"
    primary, replica = telemetry.spans()
    for span in (primary, replica):
        assert span.parent is not None
        assert span.parent.span_id == handler.get_span_context().span_id
    asked = primary.attributes or {}
    assert asked["cloud.region"] == EAST
    assert asked["aws.secretsmanager.secret.arn"] == arn
    assert asked["error.type"] == "SecretsManagerUnavailableError"
    assert primary.status.status_code is StatusCode.ERROR
    answered = replica.attributes or {}
    assert answered["cloud.region"] == WEST
    assert answered["aws.secretsmanager.secret.arn"] == arn.replace(EAST, WEST)
    assert answered["aws.request_id"]
    assert replica.status.status_code is StatusCode.UNSET
    # Its backoff step over, the next load probes the primary once more: a span too.
    clock.advance(301)
    cache.get_secret_string(arn)
    later = [(s.attributes or {}) for s in telemetry.spans()[2:]]
    assert [(a["cloud.region"], a["secretcache.reason"]) for a in later] == [
        (EAST, "revalidate"),
        (WEST, "revalidate"),
    ]
    assert later[0]["secretcache.stale_served"] is False  # the replica answered instead
    telemetry.collect()
    assert telemetry.metric("secretcache.failovers") == {frozenset(): 2}
    assert not [t for t in telemetry.texts() if canary in t]
