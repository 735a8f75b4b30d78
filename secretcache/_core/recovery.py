"""rotation_candidate's rules: what to retry a failed login with, and how often to ask.

After a login failed with version F of a secret, the candidate is

- AWSCURRENT, if it is acceptable: not a version that failed, and not older (by
  CreatedDate, where known) than one that failed;
- else AWSPENDING, if acceptable (a rotation window: setSecret changed the database,
  finishSecret has not moved AWSCURRENT yet);
- else AWSPREVIOUS, when the refused version is AWSCURRENT itself and AWSPREVIOUS never
  failed: AWSCURRENT moved before the database changed (a hand rotation that ran
  put-secret-value before ALTER ROLE). Secrets Manager does not say when a stage moved,
  so this is offered whenever AWSCURRENT is refused with nothing newer: at worst one
  more refused login, since a version that failed is never offered again. When that
  rollback is refused in turn, the database has changed since AWSCURRENT was refused:
  AWSCURRENT is acceptable again (back to it as soon as the database accepts it);
- else None.

How often Secrets Manager is asked: a version reported failed for the first time
always gets a full look (AWSCURRENT, AWSPENDING, AWSCURRENT again when AWSPENDING is
absent, AWSPREVIOUS when AWSCURRENT is the refused version). A version reported again
is answered from the last look while it is good (one second); after that a repeat look
reads AWSCURRENT, and while AWSCURRENT has not changed keeps what the last look knew of
the other stages, reading AWSPENDING again every three seconds. So a version stored as
AWSCURRENT after a refusal is offered within one look, at most a second after it is
stored (an AWSPENDING within three), and a refused secret costs about four calls every
three seconds. A look is single-flight and remembers failures like any cache entry:
while Secrets Manager throttles or is down, its backoff (1 s doubling to 60 s) holds for
new failures too, so a throttled secret costs at most about six calls a minute.

A look reads AWSCURRENT into the cache itself, so once AWSCURRENT has moved,
``get_secret`` returns the new version and later logins succeed the first time. When
AWSPENDING is absent (or its read denied: an IAM condition may allow AWSCURRENT only),
AWSCURRENT is read once more, since finishSecret may have moved it between the reads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING

from ..exceptions import SecretAccessDeniedError, SecretNotFoundError
from .forksafe import ForkSafeLock
from .models import AWSCURRENT, AWSPENDING, AWSPREVIOUS, Secret
from .store import Load, Store

if TYPE_CHECKING:
    from datetime import datetime

    from .models import Key

__all__ = ["PER_CALL", "Look", "LookPlan", "Recovery", "look_plan"]

#: Seconds a look stays good, however many calls it made.
PER_CALL = 1.0
_MAX_FAILED = 16  # failed versions remembered per secret


class Look:
    """What one look saw: AWSCURRENT, and AWSPENDING / AWSPREVIOUS when read and found."""

    __slots__ = ("current", "pending", "pending_at", "previous")

    def __init__(
        self,
        current: Secret,
        pending: Secret | None = None,
        previous: Secret | None = None,
        *,
        pending_at: float = -math.inf,
    ) -> None:
        self.current = current
        self.pending = pending
        self.previous = previous
        self.pending_at = pending_at  # when AWSPENDING was last read (the cache's clock)


LookPlan = Generator["Key", Secret, Load[Look]]
_ABSENT = (SecretNotFoundError, SecretAccessDeniedError)
#: Seconds a repeat look may go without reading AWSPENDING again.
PENDING_EVERY = 3 * PER_CALL


def look_plan(
    secret_id: str,
    acceptable: Callable[[Secret], bool],
    refused: Callable[[Secret], bool],
    last: Look | None = None,
    now: float = 0.0,
) -> LookPlan:
    """Yield the keys to read afresh (into the cache); return the look.

    ``last`` is the previous look, for a repeat report: AWSCURRENT is read, and while it
    has not changed the other stages are kept from ``last``, AWSPENDING being read again
    once ``PENDING_EVERY`` seconds have passed since ``last`` read it (``now``: the
    cache's clock).
    """
    current_key: Key = (secret_id, AWSCURRENT, None)
    current = yield current_key
    if acceptable(current):
        return Load(Look(current))
    if last is not None and last.current.version_id == current.version_id:
        if now - last.pending_at < PENDING_EVERY:
            return Load(Look(current, last.pending, last.previous, pending_at=last.pending_at))
        try:
            pending = yield (secret_id, AWSPENDING, None)
        except _ABSENT:
            pending = None
        return Load(Look(current, pending, last.previous, pending_at=now))
    try:
        pending = yield (secret_id, AWSPENDING, None)
    except _ABSENT:
        pending = None
        current = yield current_key
        if acceptable(current):
            return Load(Look(current))
    if (pending is not None and acceptable(pending)) or not refused(current):
        return Load(Look(current, pending, pending_at=now))
    try:
        previous: Secret | None = yield (secret_id, AWSPREVIOUS, None)
    except _ABSENT:
        previous = None
    return Load(Look(current, pending, previous, pending_at=now))


class Recovery:
    """Per-secret memory of failed versions, and the looks that answer them."""

    def __init__(self, *, clock: Callable[[], float], max_size: int) -> None:
        self.max_size = max_size
        self._lock = ForkSafeLock()
        # secret id -> failed VersionId -> its CreatedDate (None when unknown)
        self._failed: dict[str, dict[str, datetime | None]] = {}
        # secret id -> (AWSPREVIOUS offered as a rollback, the AWSCURRENT refused before)
        self._rollbacks: dict[str, tuple[str, str]] = {}
        self.looks: Store[str, Look] = Store(
            ttl=PER_CALL, jitter=0.0, max_size=max_size, max_stale=0.0, clock=clock
        )

    def note_failure(
        self, secret_id: str, version_id: str, created: Callable[[], datetime | None]
    ) -> bool:
        """Record that a login failed with ``version_id``; return True if that is news."""
        with self._lock:
            failed = self._failed.pop(secret_id, None)
            if failed is None:
                while len(self._failed) >= self.max_size:
                    del self._failed[next(iter(self._failed))]
                failed = {}
            self._failed[secret_id] = failed  # most recently used last
            if version_id in failed:
                return False
            rollback = self._rollbacks.get(secret_id)
            if rollback is not None and rollback[0] == version_id:
                # The rollback worked until now: the database changed since AWSCURRENT
                # was refused, so AWSCURRENT may be tried again.
                del self._rollbacks[secret_id]
                failed.pop(rollback[1], None)
            # The last look, and any look in flight, predate this failure: nobody may
            # answer from them now. A report of the same version arriving meanwhile
            # waits for the look this one starts (or starts it), never the old answer.
            self.looks.restart(lambda key: key == secret_id)
            if len(failed) >= _MAX_FAILED:
                del failed[next(iter(failed))]
            failed[version_id] = None
        # Outside the lock: finding the date scans the cache.
        failed[version_id] = created()
        return True

    def acceptable(self, secret_id: str, secret: Secret | None) -> bool:
        """Return True if ``secret`` is worth a retry: not failed, not older than a failure."""
        if secret is None:
            return False
        failed = self._failed.get(secret_id, {})
        if secret.version_id in failed:
            return False
        created = secret.created_date
        if created is None:
            return True
        return all(date is None or created >= date for date in list(failed.values()))

    def refused(self, secret_id: str, secret: Secret) -> bool:
        """Return True if a login with ``secret`` failed (and nothing put it right since)."""
        return secret.version_id in self._failed.get(secret_id, {})

    def choose(self, secret_id: str, look: Look) -> Secret | None:
        """Return the candidate a look offers for the failures known now."""
        for secret in (look.current, look.pending):
            if self.acceptable(secret_id, secret):
                return secret
        previous = look.previous
        if (
            previous is None
            or self.refused(secret_id, previous)
            or not self.refused(secret_id, look.current)
        ):
            return None
        with self._lock:
            if len(self._rollbacks) >= self.max_size and secret_id not in self._rollbacks:
                del self._rollbacks[next(iter(self._rollbacks))]
            self._rollbacks[secret_id] = (previous.version_id, look.current.version_id)
        return previous
