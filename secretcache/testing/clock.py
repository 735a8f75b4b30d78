"""A clock that moves only when told to, and fresh VersionIds, for tests."""

from __future__ import annotations

import threading
import uuid

__all__ = ["FakeClock", "new_version_id"]


class FakeClock:
    """A clock that moves only when told to; thread-safe."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` and return the new time."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._now += seconds
            return self._now

    def __repr__(self) -> str:
        return f"FakeClock({self._now})"


def new_version_id() -> str:
    """Return a fresh VersionId (a ClientRequestToken of the right length)."""
    return str(uuid.uuid4())
