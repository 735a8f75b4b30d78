"""An older answer never replaces a newer one; a rotation is reported once.

Loads, refreshes and prefetch batches can be in flight together; whichever lands
last, the cache keeps the answer to the request sent last, and reports each change of
version once, against the value it actually replaced.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from secretcache import RotationEvent, Secret, SecretCache
from secretcache.testing import FakeClock, InMemorySource

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from secretcache import BatchPage

WAIT = 60.0  # a hang guard, not a speed limit


class SlowBatch(InMemorySource):
    """An InMemorySource whose BatchGetSecretValue reads, then holds its answer."""

    def __init__(self, secrets: dict[str, str]) -> None:
        super().__init__(secrets)
        self.gate = threading.Event()
        self.read = threading.Event()

    def batch_get_secret_value(
        self,
        *,
        secret_ids: Sequence[str] | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        next_token: str | None = None,
    ) -> BatchPage:
        page = super().batch_get_secret_value(
            secret_ids=secret_ids, filters=filters, next_token=next_token
        )
        self.read.set()  # the answer is on the wire
        assert self.gate.wait(WAIT)
        return page


def _prefetch_in_background(cache: SecretCache, ids: list[str]) -> tuple[threading.Thread, dict]:
    out: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: out.update(cache.prefetch(ids)))
    thread.start()
    return thread, out


def test_a_batch_answer_landing_after_a_newer_value_does_not_replace_it() -> None:
    source = SlowBatch({"db": "v1"})
    events: list[RotationEvent] = []
    cache = SecretCache(source=source, clock=FakeClock(), on_rotation=events.append)
    v1 = cache.get_secret("db").version_id
    thread, out = _prefetch_in_background(cache, ["db"])
    assert source.read.wait(WAIT)  # the batch read v1...
    v2 = source.rotate("db", "v2")
    assert cache.refresh("db")  # ...and a later read found v2 and stored it
    source.gate.set()
    thread.join(WAIT)
    assert cache.get_secret_string("db") == "v2"  # not the batch's older answer
    assert isinstance(out["db"], Secret)
    assert out["db"].version_id == v2  # the batch reports what the cache keeps
    assert [(e.old_version_id, e.new_version_id) for e in events] == [(v1, v2)]


def test_a_load_sent_before_a_batch_that_lands_after_it_does_not_replace_it() -> None:
    source = InMemorySource({"db": "v1"})
    gate, entered = threading.Event(), threading.Event()
    first_read: list[Secret] = []

    class SlowGet(InMemorySource):
        def get_secret_value(self, secret_id: str, **kwargs: Any) -> Secret:
            secret = source.get_secret_value(secret_id, **kwargs)
            if not first_read:
                first_read.append(secret)
                entered.set()
                assert gate.wait(WAIT)
            return secret

        def batch_get_secret_value(self, **kwargs: Any) -> BatchPage:
            return source.batch_get_secret_value(**kwargs)

    events: list[RotationEvent] = []
    clock = FakeClock()
    cache = SecretCache(source=SlowGet(), clock=clock, on_rotation=events.append)
    reader = threading.Thread(target=cache.get_secret_string, args=("db",))
    reader.start()
    assert entered.wait(WAIT)  # the load read v1 and holds it
    v2 = source.rotate("db", "v2")
    (found,) = cache.prefetch(["db"]).values()
    assert isinstance(found, Secret)
    assert found.version_id == v2
    gate.set()
    reader.join(WAIT)
    assert cache.get_secret("db").version_id == v2
    assert events == []  # the cache never held v1 under a later request: no "rotation"


def test_one_rotation_seen_by_a_batch_and_a_load_is_reported_once() -> None:
    source = SlowBatch({"db": "v1"})
    events: list[RotationEvent] = []
    clock = FakeClock()
    cache = SecretCache(source=source, clock=clock, on_rotation=events.append, ttl=60)
    cache.get_secret("db")
    source.rotate("db", "v2")
    thread, _ = _prefetch_in_background(cache, ["db"])
    assert source.read.wait(WAIT)  # the batch read v2
    assert cache.refresh("db")  # a load read v2 too, and landed first
    source.gate.set()
    thread.join(WAIT)
    assert len(events) == 1
    assert cache.stats().rotations == 1
