"""rotation_candidate's bookkeeping, shared by both caches (the rules: ``recovery``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .validate import check_secret_id, check_version_id

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from .forksafe import ForkSafeLock
    from .keys import Key
    from .models import Secret
    from .recovery import Look, LookPlan, Recovery
    from .store import Entry, Store

__all__ = ["Candidates"]


class Candidates:
    """The memory of failed logins, and the looks that answer them, built on first use."""

    _store: Store[Key, Secret]
    _clock: Callable[[], float]
    _counter_lock: ForkSafeLock
    _recovery_state: Recovery | None

    @property
    def _recovery(self) -> Recovery:
        """Return rotation_candidate's memory, built (and its module imported) on first use."""
        state = self._recovery_state
        if state is None:
            from .recovery import Recovery

            with self._counter_lock:
                state = self._recovery_state
                if state is None:
                    state = Recovery(clock=self._clock, max_size=self._store.max_size)
                    self._recovery_state = state
        return state

    def _known_look(
        self, secret_id: str, failed_version_id: str
    ) -> tuple[bool, Entry[Look] | None]:
        """Check rotation_candidate()'s arguments and record the failure.

        Return whether the failure is news (the look must be fresh) and, when it is not,
        the last look if it is still good: the shells look again only without one.
        """
        check_secret_id(secret_id)
        check_version_id(failed_version_id)
        news = self._recovery.note_failure(
            secret_id, failed_version_id, lambda: self._created(failed_version_id)
        )
        return news, None if news else self._recovery.looks.lookup(secret_id)

    def _created(self, version_id: str) -> datetime | None:
        for value in self._store.values():
            if value.version_id == version_id:
                return value.created_date
        return None

    def _look_plan(self, secret_id: str) -> LookPlan:
        """Return the plan of a fresh look at ``secret_id`` (both caches drive it)."""
        from .recovery import look_plan

        recovery = self._recovery
        return look_plan(secret_id, lambda secret: recovery.acceptable(secret_id, secret))

    def _candidate(self, secret_id: str, look: Entry[Look]) -> Secret | None:
        return self._recovery.choose(secret_id, look.value)
