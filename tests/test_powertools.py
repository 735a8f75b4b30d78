"""secretcache.integrations.powertools: the parameters provider and the EMF metrics, on moto."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.utilities.parameters.base import BaseProvider
from aws_lambda_powertools.utilities.parameters.exceptions import (
    GetParameterError,
    TransformParameterError,
)

from secretcache import (
    AWSPREVIOUS,
    SecretAccessDeniedError,
    SecretFormatError,
    SecretNotFoundError,
)
from secretcache.integrations.powertools import SecretCacheProvider, get_secret, publish_stats
from secretcache.testing import FaultInjector, counting_calls, rotate_secret

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache import SecretCache
    from secretcache.testing import FakeClock

NAME = "app/config"


@pytest.fixture
def cache(make_cache: Callable[..., SecretCache]) -> SecretCache:
    return make_cache()


@pytest.fixture
def provider(cache: SecretCache, clock: FakeClock) -> SecretCacheProvider:
    return SecretCacheProvider(cache, clock=clock)


@pytest.fixture
def config(sm: SecretsManagerClient) -> str:
    sm.create_secret(Name=NAME, SecretString=json.dumps({"feature": True, "limit": 3}))
    return NAME


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    metrics = Metrics(namespace="SecretCacheTests", service="tests")
    metrics.clear_metrics()  # Powertools shares one metric set between instances
    yield metrics
    metrics.clear_metrics()


def test_importing_secretcache_does_not_import_powertools() -> None:
    code = (
        "import sys, secretcache\n"
        "loaded = sorted(m for m in sys.modules"
        " if m.startswith(('aws_lambda_powertools', 'secretcache.integrations')))\n"
        "print(loaded)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_it_is_a_powertools_provider(provider: SecretCacheProvider) -> None:
    assert isinstance(provider, BaseProvider)


def test_get_reads_once_then_serves_from_memory(
    sm: SecretsManagerClient, config: str, provider: SecretCacheProvider
) -> None:
    with counting_calls(sm) as calls:
        values = [provider.get(NAME) for _ in range(10)]
        parsed = provider.get(NAME, transform="json")
    assert set(values) == {json.dumps({"feature": True, "limit": 3})}
    assert parsed == {"feature": True, "limit": 3}
    assert calls == {"GetSecretValue": 1}


def test_json_is_a_fresh_copy(config: str, provider: SecretCacheProvider) -> None:
    provider.get(NAME, transform="json")["limit"] = 99
    assert provider.get(NAME, transform="json")["limit"] == 3


def test_binary_and_auto_transforms_behave_like_powertools(
    sm: SecretsManagerClient, provider: SecretCacheProvider
) -> None:
    sm.create_secret(Name="key.binary", SecretString=base64.b64encode(b"\x00key").decode())
    sm.create_secret(Name="raw", SecretBinary=b"\x01\x02")
    assert provider.get("key.binary", transform="binary") == b"\x00key"
    assert provider.get("key.binary", transform="auto") == b"\x00key"
    assert provider.get("raw") == b"\x01\x02"


def test_version_stage_and_version_id_are_honoured_and_keyed_apart(
    sm: SecretsManagerClient, provider: SecretCacheProvider
) -> None:
    first = sm.create_secret(Name=NAME, SecretString="v1")["VersionId"]
    rotate_secret(sm, NAME, "v2")
    assert provider.get(NAME) == "v2"
    assert provider.get(NAME, VersionStage=AWSPREVIOUS) == "v1"
    assert provider.get(NAME, VersionId=first) == "v1"
    assert provider.get(NAME) == "v2"  # AWSPREVIOUS never answers for AWSCURRENT
    with pytest.raises(TypeError, match="VersionStage or VersionId"):
        provider.get(NAME, VersionStage=AWSPREVIOUS, VersionId=first)
    with pytest.raises(TypeError, match="SecretId"):
        provider.get(NAME, SecretId="other")


def test_force_fetch_and_max_age_revalidate(
    sm: SecretsManagerClient, provider: SecretCacheProvider, clock: FakeClock
) -> None:
    sm.create_secret(Name=NAME, SecretString="v1")
    assert provider.get(NAME) == "v1"
    rotate_secret(sm, NAME, "v2")
    clock.advance(10)  # within the cache's 60 s TTL
    with counting_calls(sm) as calls:
        assert provider.get(NAME) == "v1"  # max_age=None: the cache's TTL decides
        assert provider.get(NAME, max_age=30) == "v1"  # fetched 10 s ago: young enough
        assert provider.get(NAME, max_age=5) == "v2"  # older than 5 s: revalidated
        assert provider.get(NAME, max_age=5) == "v2"
    assert calls == {"GetSecretValue": 1}
    rotate_secret(sm, NAME, "v3")
    assert provider.get(NAME, force_fetch=True) == "v3"
    rotate_secret(sm, NAME, "v4")
    assert provider.get(NAME, max_age=0) == "v4"


def test_threads_missing_at_once_make_one_call(
    sm: SecretsManagerClient, config: str, provider: SecretCacheProvider
) -> None:
    barrier = threading.Barrier(16)
    results: list[Any] = []

    def read() -> None:
        barrier.wait()
        results.append(provider.get(NAME, transform="json"))

    with counting_calls(sm) as calls:
        threads = [threading.Thread(target=read) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(results) == 16
    assert calls == {"GetSecretValue": 1}


def _chain_text(exc: BaseException | None) -> str:
    """Return str, repr and attributes of an error and of all its causes and contexts."""
    texts = []
    while exc is not None:
        texts += [str(exc), repr(exc), repr(exc.args), repr(getattr(exc, "__dict__", {}))]
        exc = exc.__cause__ or exc.__context__
    return "\n".join(texts)


def test_errors_are_typed_and_powertools_compatible(
    sm: SecretsManagerClient, provider: SecretCacheProvider, canary: str
) -> None:
    with pytest.raises(SecretNotFoundError) as missing:
        provider.get("nope")
    assert isinstance(missing.value, GetParameterError)
    assert missing.value.code == "ResourceNotFoundException"
    assert missing.value.secret_id == "nope"

    sm.create_secret(Name="text", SecretString=f"not json {canary}")
    with pytest.raises(SecretFormatError) as bad_json:
        provider.get("text", transform="json")
    assert isinstance(bad_json.value, TransformParameterError)
    with pytest.raises(TransformParameterError) as bad_b64:
        provider.get("text", transform="binary")
    sm.create_secret(Name="text.json", SecretString=f"not json {canary}")
    with pytest.raises(TransformParameterError) as bad_auto:  # "auto" decodes *.json
        provider.get("text.json", transform="auto")
    for caught in (bad_json, bad_b64, bad_auto):
        assert canary not in _chain_text(caught.value)

    with FaultInjector(sm) as faults:
        faults.fail("AccessDeniedException")
        with pytest.raises(GetParameterError) as denied:
            provider.get("other")
    assert isinstance(denied.value, SecretAccessDeniedError)


def test_clear_cache_forgets_what_it_read(
    sm: SecretsManagerClient, config: str, provider: SecretCacheProvider
) -> None:
    provider.get(NAME)
    provider.clear_cache()
    with counting_calls(sm) as calls:
        provider.get(NAME)
    assert calls == {"GetSecretValue": 1}
    with pytest.raises(NotImplementedError):
        provider.set(NAME, "x")


def test_get_secret_helper_uses_the_default_cache(sm: SecretsManagerClient) -> None:
    name = f"helper-{uuid.uuid4().hex}"  # the default cache outlives this test
    sm.create_secret(Name=name, SecretString=json.dumps({"a": 1}))
    assert get_secret(name) == '{"a": 1}'
    assert get_secret(name, transform="json") == {"a": 1}


# -- metrics -------------------------------------------------------------------------


def _emitted(metrics: Metrics) -> dict[str, float]:
    emf: dict[str, Any] = dict(metrics.serialize_metric_set())
    names = [m["Name"] for m in emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert all(m["Unit"] == "Count" for m in emf["_aws"]["CloudWatchMetrics"][0]["Metrics"])
    return {name: sum(emf[name]) for name in names}


def test_publish_stats_emits_deltas_as_emf(
    sm: SecretsManagerClient, config: str, cache: SecretCache, clock: FakeClock, metrics: Metrics
) -> None:
    for _ in range(5):
        cache.get_secret(NAME)  # 1 miss, 4 hits
    first = _emitted_after(metrics, cache)
    assert first["SecretCacheHits"] == 4
    assert first["SecretCacheMisses"] == 1
    assert first["SecretCacheApiCalls"] == 1
    assert first["SecretCacheApiCalls.GetSecretValue"] == 1
    assert first["SecretCacheRotations"] == 0
    assert first["SecretCacheSize"] == 1

    rotate_secret(sm, NAME, "v2")
    clock.advance(61)
    cache.get_secret(NAME)  # expired: one revalidation that finds a rotation
    cache.get_secret(NAME)
    second = _emitted_after(metrics, cache)
    assert second["SecretCacheHits"] == 1  # the delta, not the total (5)
    assert second["SecretCacheMisses"] == 1
    assert second["SecretCacheRotations"] == 1
    assert second["SecretCacheApiCalls.GetSecretValue"] == 1

    third = _emitted_after(metrics, cache)
    assert third["SecretCacheHits"] == 0
    assert "SecretCacheApiCalls.GetSecretValue" not in third
    assert third["SecretCacheApiCalls"] == 0


def test_publish_stats_counts_errors_and_stale_serves(
    sm: SecretsManagerClient, config: str, cache: SecretCache, clock: FakeClock, metrics: Metrics
) -> None:
    publish_stats(metrics, cache)
    metrics.clear_metrics()
    cache.get_secret(NAME)
    clock.advance(61)
    with FaultInjector(sm) as faults:
        faults.fail("ThrottlingException")
        cache.get_secret(NAME)  # served stale while Secrets Manager throttles
    emitted = _emitted_after(metrics, cache)
    assert emitted["SecretCacheStaleServed"] >= 1
    assert emitted["SecretCacheErrors"] >= 1


def _emitted_after(metrics: Metrics, cache: SecretCache) -> dict[str, float]:
    returned = publish_stats(metrics, cache)
    emitted = _emitted(metrics)
    metrics.clear_metrics()  # what a flush at the end of an invocation does
    assert emitted == returned
    return emitted
