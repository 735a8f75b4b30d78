"""The failure backoff never runs out of numbers, however long a secret keeps failing."""

from __future__ import annotations

import pytest

from secretcache import SecretCache, SecretsManagerThrottledError
from secretcache.testing import FakeClock, InMemorySource


def test_a_day_of_failures_still_raises_the_typed_error() -> None:
    source = InMemorySource()
    source.fail(SecretsManagerThrottledError("slow down", code="ThrottlingException"))
    clock = FakeClock()
    cache = SecretCache(source=source, clock=clock)
    # One failed load per backoff step: 2**1024 no longer fits a float by the end.
    for _ in range(1100):
        with pytest.raises(SecretsManagerThrottledError):
            cache.get_secret("db")
        clock.advance(80.0)  # past the longest step (60 s, plus up to 20 % jitter)
    assert source.calls["GetSecretValue"] == 1100
