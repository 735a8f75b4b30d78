"""rotation_candidate's rules: what to retry a failed login with, and how often to ask.

After a login failed with version F of a secret, the candidate is

- AWSCURRENT, if it is acceptable: not a version that failed, and not older (by
  CreatedDate, where known) than one that failed;
- else AWSPENDING, if acceptable (a rotation window: setSecret changed the database,
  finishSecret has not moved AWSCURRENT yet);
- else None.

How often Secrets Manager is asked: a version reported failed for the first time
always gets a fresh look; a version reported again is answered from the last look,
which stays good for one second per API call it made (at most one call a second per
secret, however many logins fail). A look is single-flight and remembers failures like
any cache entry: while Secrets Manager throttles or is down, its backoff (1 s doubling
to 60 s) holds for new failures too, so a throttled secret costs at most about six
calls a minute.

A look reads AWSCURRENT into the cache itself, so once AWSCURRENT has moved,
``get_secret`` returns the new version and later logins succeed the first time. When
AWSPENDING is absent (or its read denied: an IAM condition may allow AWSCURRENT only),
AWSCURRENT is read once more, since finishSecret may have moved it between the reads.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING

from ..exceptions import SecretAccessDeniedError, SecretNotFoundError
from .forksafe import ForkSafeLock
from .models import AWSCURRENT, AWSPENDING, Secret
from .store import Load, Store

if TYPE_CHECKING:
    from datetime import datetime

    from .models import Key

__all__ = ["PER_CALL", "Look", "LookPlan", "Recovery", "look_plan"]

#: Seconds a look stays good per API call it made.
PER_CALL = 1.0
_MAX_FAILED = 16  # failed versions remembered per secret


class Look:
    """What one look saw: AWSCURRENT, and AWSPENDING when it was read and found."""

    __slots__ = ("current", "pending")

    def __init__(self, current: Secret, pending: Secret | None) -> None:
        self.current = current
        self.pending = pending


LookPlan = Generator["Key", Secret, Load[Look]]


def look_plan(secret_id: str, acceptable: Callable[[Secret], bool]) -> LookPlan:
    """Yield the keys to read afresh (into the cache); return the look."""
    current_key: Key = (secret_id, AWSCURRENT, None)
    current = yield current_key
    if acceptable(current):
        return Load(Look(current, None), PER_CALL)
    try:
        pending = yield (secret_id, AWSPENDING, None)
    except (SecretNotFoundError, SecretAccessDeniedError):
        again = yield current_key
        return Load(Look(again, None), 3 * PER_CALL)
    return Load(Look(current, pending), 2 * PER_CALL)


class Recovery:
    """Per-secret memory of failed versions, and the looks that answer them."""

    def __init__(self, *, clock: Callable[[], float], max_size: int) -> None:
        self.max_size = max_size
        self._lock = ForkSafeLock()
        # secret id -> failed VersionId -> its CreatedDate (None when unknown)
        self._failed: dict[str, dict[str, datetime | None]] = {}
        self.looks: Store[str, Look] = Store(
            ttl=3 * PER_CALL, jitter=0.0, max_size=max_size, max_stale=0.0, clock=clock
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

    def choose(self, secret_id: str, look: Look) -> Secret | None:
        """Return the candidate a look offers for the failures known now."""
        for secret in (look.current, look.pending):
            if self.acceptable(secret_id, secret):
                return secret
        return None
