"""Credentials that expire are renewed; credentials that are revoked serve nothing stale.

The default client reads its credentials from the shared credentials file here, and a
Secrets Manager stand-in on loopback (tests/keepalive_endpoint.py) answers requests
signed with a key it was told is expired or revoked the way AWS does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from keepalive_endpoint import KeepAliveEndpoint, value_of

from secretcache import SecretCache, SecretCredentialsError
from secretcache.testing import FakeClock

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

TTL = 60.0


@pytest.fixture
def endpoint() -> Iterator[KeepAliveEndpoint]:
    with KeepAliveEndpoint() as ep:
        yield ep


@pytest.fixture
def credentials_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, endpoint: KeepAliveEndpoint
) -> Path:
    """A shared credentials file the default client reads (no keys in the environment)."""
    path = tmp_path / "credentials"
    _write_key(path, "AKIDOLD")
    (tmp_path / "config").write_text("")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)
    return path


def _write_key(path: Path, key: str) -> None:
    path.write_text(f"[default]\naws_access_key_id = {key}\naws_secret_access_key = s3cr3t\n")


def test_expired_credentials_are_renewed_from_the_chain(
    endpoint: KeepAliveEndpoint, credentials_file: Path
) -> None:
    clock = FakeClock()
    cache = SecretCache(clock=clock, ttl=TTL, jitter=0.0, max_stale=900.0)
    assert cache.get_secret_string("db") == value_of("db")
    endpoint.key_states["AKIDOLD"] = "expired"
    clock.advance(TTL)
    assert cache.get_secret_string("db") == value_of("db")  # stale, while it fails
    _write_key(credentials_file, "AKIDNEW")  # the credentials process wrote new ones
    # Far past max_stale: only a renewed client can answer now.
    clock.advance(1800)
    assert cache.get_secret_string("db") == value_of("db")
    assert endpoint.keys_seen[-1] == "AKIDNEW"
    assert cache.stats().errors == 1  # one failed load, then the renewed client answered


def test_a_revoked_key_is_a_revocation_with_no_stale_value(
    endpoint: KeepAliveEndpoint, credentials_file: Path
) -> None:
    clock = FakeClock()
    cache = SecretCache(clock=clock, ttl=TTL, jitter=0.0, max_stale=900.0)
    assert cache.get_secret_string("db") == value_of("db")
    endpoint.key_states["AKIDOLD"] = "revoked"  # deactivated in IAM
    clock.advance(TTL)
    with pytest.raises(SecretCredentialsError) as raised:
        cache.get_secret_string("db")
    assert raised.value.code == "UnrecognizedClientException"
    assert cache.stats().size == 0
    assert cache.stats().stale_served == 0


def test_renewal_rebuilds_the_client_once_per_failure_not_per_read(
    endpoint: KeepAliveEndpoint, credentials_file: Path
) -> None:
    clock = FakeClock()
    cache = SecretCache(clock=clock, ttl=TTL, jitter=0.0, max_stale=None)
    for sid in ("a", "b", "c"):
        cache.get_secret_string(sid)
    endpoint.key_states["AKIDOLD"] = "expired"
    clock.advance(TTL)
    requests = len(endpoint.keys_seen)
    for _ in range(100):  # hot reads inside the backoff step: stale, no calls
        for sid in ("a", "b", "c"):
            assert cache.get_secret_string(sid) == value_of(sid)
    assert len(endpoint.keys_seen) - requests <= 3  # one failed load per key
