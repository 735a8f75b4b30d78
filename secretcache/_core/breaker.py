"""One region's breaker, and what a region and an ARN mean for failover.

A ``Breaker`` is closed (the region is asked freely) or open for a backoff step after a
transient failure (1 s doubling to 60 s, times 1-1.2 jitter, on the injected clock):
while it is open requests skip the region but for one probe a step; an answer closes
it at once. The rules that use it are ``regions``'.
"""

from __future__ import annotations

from ..exceptions import SecretCacheError, SecretsManagerUnavailableError
from .entries import backoff_step, detached
from .forksafe import ForkSafeLock
from .identity import parse_arn

__all__ = ["FREE", "PROBE", "SKIP", "Breaker", "fails_over", "in_region", "region_of"]

# How a request was let through a breaker.
FREE, PROBE, SKIP = "free", "probe", "skip"


def fails_over(error: SecretCacheError) -> bool:
    """Return True for errors a fallback region may answer instead: outages, throttling."""
    return isinstance(error, SecretsManagerUnavailableError)


def region_of(arn: str) -> str | None:
    """Return the region an ARN names, or None for anything that is not an ARN."""
    found = parse_arn(arn)
    return found["region"] if found else None


def in_region(secret_id: str, region: str | None) -> str:
    """Return ``secret_id`` for ``region``: an ARN with its region replaced, a name as is."""
    found = parse_arn(secret_id)
    if found is None or region is None or found["region"] == region:
        return secret_id
    return f"{found['head']}{region}:{found['account']}:secret:{found['resource']}"


class Breaker:
    """One region's health: closed (asked freely) or backing off until ``retry_at``."""

    __slots__ = ("_lock", "error", "probing", "retry_at", "steps")

    def __init__(self) -> None:
        self._lock = ForkSafeLock()
        self.retry_at: float | None = None  # None: closed
        self.steps = 0  # backoff steps since the region last answered
        self.probing = False  # the step's one probe is out
        self.error: SecretCacheError | None = None  # the failure it is backing off after

    def admit(self, now: float) -> str:
        """Return FREE (closed), PROBE (this request is the step's probe) or SKIP."""
        with self._lock:
            if self.retry_at is None:
                return FREE
            if self.probing or now < self.retry_at:
                return SKIP
            self.probing = True
            return PROBE

    def answered(self) -> bool:
        """Close (the region answered); return True if it was open."""
        with self._lock:
            was_open = self.retry_at is not None
            self.retry_at, self.steps, self.probing, self.error = None, 0, False, None
            return was_open

    def failed(self, now: float, error: SecretCacheError, probe: bool, draw: float) -> bool:
        """Open for the next step after a transient failure; return True if it just opened.

        Only the probe's failure lengthens the step: requests sent while the region
        was still closed fail together and open it once.
        """
        with self._lock:
            if self.retry_at is not None and not probe:
                return False
            opened = self.retry_at is None
            self.retry_at = now + backoff_step(self.steps, draw)
            self.steps += 1
            self.probing = False
            # Without its traceback: its frames would keep the first caller's locals.
            self.error = detached(error)
            return opened

    def release(self, probe: bool) -> None:
        """Give the probe back unused (the request was interrupted, not answered)."""
        if probe:
            with self._lock:
                self.probing = False

    def after_fork_in_child(self) -> None:
        """Reset what a forked child cannot share with its parent."""
        # A probe in flight at the fork was sent by a thread the child does not have.
        self.probing = False
