"""rotation_candidate() through the hand rotation orders, for both caches.

A hand rotation is two steps a person runs: ``ALTER ROLE`` in the database and
``put-secret-value`` in Secrets Manager. Whichever comes first, the refused version
must lead to the one the database takes: a version stored after a refusal within one
look (a second); AWSPREVIOUS while AWSCURRENT has moved ahead of the database; and back
to AWSCURRENT once the database moved too. SecretCache and AsyncSecretCache share these
rules; each test runs on both, on a FakeClock with a long TTL (only looks read).
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest

from secretcache import AWSPREVIOUS, SecretCache
from secretcache.aio import AsyncSecretCache
from secretcache.testing import AsyncInMemorySource, FakeClock, InMemorySource

if TYPE_CHECKING:
    from secretcache import Secret


def _pw(n: int) -> str:
    return json.dumps({"username": "app", "password": f"p{n}"})


class Caches:
    """One cache of either kind, driven through blocking calls."""

    def __init__(self, kind: str) -> None:
        self.clock = FakeClock()
        self.kind = kind
        if kind == "sync":
            self.source: Any = InMemorySource({"db": _pw(1)})
            self.cache: Any = SecretCache(source=self.source, clock=self.clock, ttl=3600)
        else:
            self.source = AsyncInMemorySource({"db": _pw(1)})
            self.cache = AsyncSecretCache(source=self.source, clock=self.clock, ttl=3600)
            self.loop = asyncio.new_event_loop()

    def run(self, method: str, *args: Any) -> Any:
        result = getattr(self.cache, method)(*args)
        if self.kind == "sync":
            return result
        return self.loop.run_until_complete(result)

    def current(self) -> str:
        secret: Secret = self.run("get_secret", "db")
        return secret.version_id

    def candidate(self, failed: str) -> str | None:
        found: Secret | None = self.run("rotation_candidate", "db", failed)
        return None if found is None else found.version_id

    def calls(self) -> int:
        return int(self.source.calls["GetSecretValue"])

    def close(self) -> None:
        if self.kind == "async":
            self.loop.run_until_complete(self.cache.aclose())
            self.loop.close()
        else:
            self.cache.close()


@pytest.fixture(params=["sync", "async"])
def caches(request: pytest.FixtureRequest) -> Any:
    built = Caches(request.param)
    yield built
    built.close()


def test_database_first_a_version_stored_after_the_refusal_is_offered_within_a_look(
    caches: Caches,
) -> None:
    v1 = caches.current()
    # ALTER ROLE ran; the secret still holds p1: nothing to offer yet.
    assert caches.candidate(v1) is None
    v2 = caches.source.put("db", _pw(2))  # put-secret-value, 0.2 s later
    caches.clock.advance(0.2)
    assert caches.candidate(v1) is None  # the same look still answers
    caches.clock.advance(0.8)  # one second after the look: a new look sees v2
    assert caches.candidate(v1) == v2
    assert caches.current() == v2


def test_repeated_refusals_cost_about_four_reads_in_three_seconds(caches: Caches) -> None:
    v1 = caches.current()
    assert caches.candidate(v1) is None
    after_first_look = caches.calls()
    for _ in range(9):
        for _ in range(100):
            assert caches.candidate(v1) is None
            caches.clock.advance(0.01)
    # AWSCURRENT once a second, AWSPENDING once every three seconds.
    assert caches.calls() - after_first_look <= 9 + 3


def test_a_pending_stored_after_the_refusal_is_offered_within_three_seconds(
    caches: Caches,
) -> None:
    v1 = caches.current()  # a password changed by hand: nothing to offer
    assert caches.candidate(v1) is None
    v2 = caches.source.put("db", _pw(2), stages=["AWSPENDING"])  # a rotation starts
    offered = []
    for _ in range(30):
        caches.clock.advance(0.1)
        offered.append(caches.candidate(v1))
    assert offered[-1] == v2
    assert offered.index(v2) < 30


def test_secret_first_awsprevious_while_the_database_has_not_changed(
    caches: Caches,
) -> None:
    v1 = caches.current()
    v2 = caches.source.put("db", _pw(2))  # put-secret-value; ALTER ROLE not run yet
    caches.run("refresh", "db")  # the cache reads AWSCURRENT now (its TTL ended)
    assert caches.current() == v2
    # The database refuses p2: the previous version is what it still takes.
    previous = caches.run("rotation_candidate", "db", v2)
    assert previous is not None
    assert previous.version_id == v1
    assert AWSPREVIOUS in previous.version_stages
    # ALTER ROLE: p1 is refused now; AWSCURRENT (refused before) is offered again.
    assert caches.candidate(v1) == v2
    # Were p2 refused once more, nothing would be left: v1 failed after v2.
    assert caches.candidate(v2) is None


def test_a_refused_awsprevious_is_never_offered(caches: Caches) -> None:
    v1 = caches.current()
    v2 = caches.source.put("db", _pw(2))
    caches.run("refresh", "db")
    # Someone set a third password by hand: both versions are refused.
    assert caches.candidate(v2) == v1
    assert caches.candidate(v1) == v2
    assert caches.candidate(v2) is None
    caches.clock.advance(10)
    assert caches.candidate(v2) is None
    assert caches.candidate(v1) is None


def test_awsprevious_is_no_candidate_while_awspending_is_newer(caches: Caches) -> None:
    v1 = caches.current()
    v2 = caches.source.put("db", _pw(2), stages=["AWSPENDING"])
    assert caches.candidate(v1) == v2  # the rotation window: AWSPENDING, not AWSPREVIOUS
