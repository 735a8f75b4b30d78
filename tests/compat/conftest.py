"""Fixtures for secretcache.compat: caches on the moto client and fake clock, a call log."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

from secretcache.compat import SecretCache, SecretCacheConfig

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secretcache.testing import FakeClock


# What a cache may call; the tests' own set-up calls (CreateSecret, ...) are not logged.
READS = frozenset({"DescribeSecret", "GetSecretValue", "BatchGetSecretValue", "ListSecrets"})


class CallLog:
    """Every read a client makes, in order, with the parameters it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def record(self, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        if model.name in READS:
            self.calls.append((model.name, dict(params)))

    def count(self, operation: str) -> int:
        """Return how many times ``operation`` was called."""
        return sum(name == operation for name, _ in self.calls)

    @property
    def operations(self) -> list[str]:
        """Return the operation names, in call order."""
        return [name for name, _ in self.calls]

    def clear(self) -> None:
        """Forget the calls so far."""
        self.calls.clear()


@pytest.fixture
def calls(sm: SecretsManagerClient) -> Iterator[CallLog]:
    """Log the moto client's API calls (logical calls: botocore retries not counted)."""
    log = CallLog()
    event = "before-parameter-build.secrets-manager"
    sm.meta.events.register(event, log.record, unique_id="compat-call-log")
    yield log
    sm.meta.events.unregister(event, unique_id="compat-call-log")


@pytest.fixture
def make_compat(sm: SecretsManagerClient, clock: FakeClock) -> Callable[..., SecretCache]:
    """Build compat caches on the moto client and the fake clock from config keywords."""

    def make(**options: Any) -> SecretCache:
        return SecretCache(config=SecretCacheConfig(**options), client=sm, clock=clock)

    return make


@pytest.fixture
def slow_network(sm: SecretsManagerClient) -> Iterator[Callable[[float], None]]:
    """Return a setter for a delay added to each HTTP attempt of the moto client."""
    delay = [0.0]

    def send(**kwargs: Any) -> None:
        if delay[0]:
            time.sleep(delay[0])  # real time: threads must overlap inside the request

    sm.meta.events.register("before-send.secrets-manager", send, unique_id="compat-slow")
    yield lambda seconds: delay.__setitem__(0, seconds)
    sm.meta.events.unregister("before-send.secrets-manager", unique_id="compat-slow")
