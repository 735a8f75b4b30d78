"""Drive a sans-IO plan: the one loop the sync and the async code share.

A plan is a generator that yields requests (a GetSecretValue to make, a region to ask,
ids to read) and is sent each answer, or thrown the ``SecretCacheError`` that came
instead; what it returns is the result. Every decision lives in the plans (the load
plan, a rotation look, prefetch, a failover trip); the shells only wait: ``run``
performs each request with a blocking call, ``arun`` with an await. Nothing here does
I/O or knows asyncio.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Generic, TypeVar

from ..exceptions import SecretCacheError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Generator
    from types import TracebackType

__all__ = ["Steps", "arun", "run"]

R = TypeVar("R")  # what the plan asks for
A = TypeVar("A")  # what it is sent back
T = TypeVar("T")  # what it returns


class Steps(Generic[R, A, T]):
    """A plan in progress: ``request`` is pending until ``answer`` or ``fail`` moves it on.

    Used as a context manager around the wait for one request: a ``SecretCacheError``
    raised in the block is the request's outcome and goes to the plan; anything else
    (a cancellation, an interrupt) closes the plan, so it gives back what it holds
    (a probe, a batch's token) at once, and goes on up.
    """

    __slots__ = ("_plan", "done", "request", "result")

    def __init__(self, plan: Generator[R, A, T]) -> None:
        self._plan = plan
        self.done = False
        self.request: R
        self.result: T
        self._advance(plan.__next__)

    def answer(self, answer: A) -> None:
        """Send the pending request's answer to the plan."""
        self._advance(partial(self._plan.send, answer))

    def fail(self, error: SecretCacheError) -> None:
        """Throw the pending request's error into the plan (which may raise it on)."""
        self._advance(partial(self._plan.throw, error))

    def _advance(self, step: Callable[[], R]) -> None:
        try:
            self.request = step()
        except StopIteration as stop:
            self.done = True
            self.result = stop.value
        except BaseException:
            self.done = True  # the plan raised: its error is the outcome
            raise

    def __enter__(self) -> Steps[R, A, T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc is None or self.done:
            return False  # answered, or the plan itself raised
        if isinstance(exc, SecretCacheError):
            self.fail(exc)
            return True
        self._plan.close()
        return False


def run(plan: Generator[R, A, T], perform: Callable[[R], A]) -> T:
    """Drive ``plan`` to its end, performing each request with a blocking call."""
    steps = Steps(plan)
    while not steps.done:
        with steps:
            steps.answer(perform(steps.request))
    return steps.result


async def arun(plan: Generator[R, A, T], perform: Callable[[R], Awaitable[A]]) -> T:
    """Drive ``plan`` to its end, awaiting each request."""
    steps: Steps[R, A, T] = Steps(plan)
    while not steps.done:
        with steps:
            steps.answer(await perform(steps.request))
    return steps.result
