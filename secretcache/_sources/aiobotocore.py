"""The async source: aiobotocore clients, one per event loop, closed when the loop ends.

``AioBotocoreSource`` implements ``AsyncSecretSource`` on aiobotocore (imported only when
a client is built): the async twin of ``botocore.BotocoreSource``. What it sends and
what each answer means is ``answers``, shared with that twin; this module only awaits,
and keeps the clients per event loop. A client the caller made belongs to the loop it
was first used in: read from another loop, it is misuse, said so (never an outage).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .._core import forksafe as _forksafe
from .._core.errors import mapping_errors
from .._core.forksafe import ForkSafeLock
from .._core.rules import renews_client
from ..exceptions import SecretCacheError
from .answers import (
    CLIENT_SETTINGS,
    Call,
    batch_call,
    batch_page_from_response,
    describe_call,
    for_read,
    get_call,
    metadata_from_response,
    secret_from_response,
)
from .botocore import _install_scrubber, one_attempt

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Mapping, Sequence

    from .._core.models import BatchPage, Secret, SecretMetadata

__all__ = ["AioBotocoreSource", "AsyncSecretSource", "build_async_client"]

log = logging.getLogger("secretcache")


@runtime_checkable
class AsyncSecretSource(Protocol):
    """Where an AsyncSecretCache reads secrets from; raises only ``SecretCacheError``s."""

    async def get_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        """Await one version of a secret (GetSecretValue)."""
        ...

    async def describe_secret(self, secret_id: str) -> SecretMetadata:
        """Await a secret's metadata and stage map (DescribeSecret), never its value."""
        ...

    async def batch_get_secret_value(
        self,
        *,
        secret_ids: Sequence[str] | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        next_token: str | None = None,
    ) -> BatchPage:
        """Await the AWSCURRENT version of up to 20 secrets (BatchGetSecretValue)."""
        ...


async def build_async_client(
    session: Any, stack: contextlib.AsyncExitStack, region_name: str | None = None
) -> Any:
    """Build the default aiobotocore client on ``stack``: as ``botocore.build_client``."""
    from aiobotocore.config import AioConfig

    if session is None:
        from aiobotocore.session import get_session

        session = get_session()
    config = AioConfig(**CLIENT_SETTINGS)
    with mapping_errors():
        return await stack.enter_async_context(
            session.create_client("secretsmanager", config=config, region_name=region_name)
        )


class _LoopClient:
    """The client built for one event loop, and what closes it when that loop ends."""

    __slots__ = ("building", "client", "closer", "stack")

    def __init__(self) -> None:
        self.building = asyncio.Lock()
        self.client: Any = None
        self.stack: contextlib.AsyncExitStack | None = None
        self.closer: AsyncGenerator[None, None] | None = None

    async def close(self) -> None:
        stack, self.stack, self.client = self.stack, None, None
        if stack is None:
            return
        try:
            await stack.aclose()
        except (RuntimeError, OSError):
            # Its event loop is closing under it: its connections go with it.
            log.debug("secretcache: could not close a client of a closing event loop")


async def _close_with_loop(
    source: AioBotocoreSource, loop: asyncio.AbstractEventLoop, state: _LoopClient
) -> AsyncGenerator[None, None]:
    """Hold ``state``'s client open until the loop shuts its async generators down.

    asyncio.run() (and asyncio.Runner) close every async generator started in their
    loop before closing it: this one then closes the client built for that loop, so a
    module-level cache used by one asyncio.run() per Lambda invocation leaves no
    unclosed client session behind.
    """
    try:
        yield
    finally:
        source._forget(loop, state)
        await state.close()


class AioBotocoreSource:
    """An AsyncSecretSource over aiobotocore clients: one per event loop, built lazily.

    A client passed in is used as it is (it belongs to the loop it was made in) and
    stays the caller's to close. A client built here belongs to one event loop: each
    loop that reads gets its own, closed by ``aclose()`` in that loop or, at the latest,
    when asyncio.run() ends the loop. ``region_name`` and ``single_attempt``: as
    ``BotocoreSource``'s.
    """

    def __init__(
        self,
        client: Any = None,
        session: Any = None,
        *,
        region_name: str | None = None,
        single_attempt: bool = False,
    ) -> None:
        if client is not None and region_name is not None:
            raise TypeError("region_name is for a client built here; a client has its own")
        self._given = client
        self._given_loop: asyncio.AbstractEventLoop | None = None  # where it was first used
        self._session = session
        self._region_name = region_name
        self._single_attempt = single_attempt
        self._loops: dict[asyncio.AbstractEventLoop, _LoopClient] = {}
        self._lock = ForkSafeLock()  # loops in several threads share the map
        # Clients inherited across a fork: never used again, kept so that collecting
        # them does not try to close the parent's connections.
        self._inherited: list[_LoopClient] = []
        if client is not None:
            _install_scrubber()
        _forksafe.register(self)

    def _state(self, loop: asyncio.AbstractEventLoop) -> _LoopClient:
        with self._lock:
            state = self._loops.get(loop)
            if state is None:
                # Loops closed without shutting their async generators down leave
                # their entry behind: drop those (their connections died with them).
                for old in [lp for lp in self._loops if lp.is_closed()]:
                    del self._loops[old]
                state = self._loops[loop] = _LoopClient()
            return state

    def _forget(self, loop: asyncio.AbstractEventLoop, state: _LoopClient) -> None:
        with self._lock:
            if self._loops.get(loop) is state:
                del self._loops[loop]

    async def client(self) -> Any:
        """Return this event loop's client, building it on first use in the loop."""
        loop = asyncio.get_running_loop()
        if self._given is not None:
            self._check_loop(loop)
            return self._given
        state = self._state(loop)
        if state.client is None:
            async with state.building:
                if state.client is None:
                    stack = contextlib.AsyncExitStack()
                    client = await build_async_client(self._session, stack, self._region_name)
                    if self._single_attempt:
                        one_attempt(client)
                    state.stack = stack
                    closer = _close_with_loop(self, loop, state)
                    await closer.__anext__()  # started here: the loop will close it
                    state.closer = closer
                    state.client = client
                    _install_scrubber()
        return state.client

    def _check_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Raise RuntimeError if the caller's client belongs to another event loop.

        An aiobotocore client's connections belong to the loop that opened them: from
        another loop every request fails ("Event loop is closed"), which would look
        like an outage and serve stale values. It is misuse, and named so.
        """
        owners = _opened_in(self._given)
        with self._lock:
            if self._given_loop is None and not owners:
                self._given_loop = loop
            owners.add(self._given_loop or loop)
        if owners != {loop}:
            raise RuntimeError(
                "the aiobotocore client passed to AsyncSecretCache belongs to another event "
                "loop (it was used in one that is not running this read, e.g. an earlier "
                "asyncio.run): make the client in the event loop that reads with it, or let "
                "AsyncSecretCache build its own (client=None), one per event loop"
            )

    @property
    def region_name(self) -> str | None:
        """Return the region this source reads in (None until a client is known)."""
        if self._region_name is not None:
            return self._region_name
        if self._given is not None:
            return self._given.meta.region_name  # type: ignore[no-any-return]
        with self._lock:
            built = [s.client for s in self._loops.values() if s.client is not None]
        return built[0].meta.region_name if built else None

    async def _call(self, call: Call) -> Any:
        try:
            client = await self.client()
        except SecretCacheError as exc:  # no region, say: name the read that needed it
            for_read(exc, call.context)
            raise
        try:
            with mapping_errors(operation=call.name, **call.context):
                return await getattr(client, call.operation)(**call.kwargs)
        except SecretCacheError as exc:
            if self._given is None and renews_client(exc):
                await self._renew(asyncio.get_running_loop(), client)
            raise

    async def _renew(self, loop: asyncio.AbstractEventLoop, client: Any) -> None:
        """Close a client built here whose credentials failed: the next read builds one."""
        with self._lock:
            state = self._loops.get(loop)
            if state is None or state.client is not client:
                return  # renewed already, by another read that failed on it
            del self._loops[loop]
        await _retire(state)

    async def get_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        """Await GetSecretValue, always naming a VersionStage or a VersionId."""
        # Straight into the parser: no local of this frame holds the answer's value.
        answer = self._call(get_call(secret_id, version_stage, version_id))
        return secret_from_response(secret_id, await answer)

    async def describe_secret(self, secret_id: str) -> SecretMetadata:
        """Await DescribeSecret."""
        return metadata_from_response(await self._call(describe_call(secret_id)))

    async def batch_get_secret_value(
        self,
        *,
        secret_ids: Sequence[str] | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        next_token: str | None = None,
    ) -> BatchPage:
        """Await one BatchGetSecretValue; per-id errors come back typed, not raised."""
        page = self._call(batch_call(secret_ids, filters, next_token))
        return batch_page_from_response(await page, secret_ids)

    async def aclose(self) -> None:
        """Close the client this event loop built (a client passed in stays open).

        A read after this builds a new one, closed in turn when the loop ends.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            state = self._loops.pop(loop, None)
        if state is not None:
            await _retire(state)

    def _after_fork_in_child(self) -> None:
        # The parent's loops and their clients mean nothing here (and their sockets are
        # the parent's): keep them unreachable but uncollected, build anew.
        self._inherited.extend(self._loops.values())
        self._loops = {}


async def _retire(state: _LoopClient) -> None:
    """Close a loop's client now (its closer, if started, then has nothing left to do)."""
    if state.closer is not None:
        await state.closer.aclose()  # runs its finally: closes the client
    else:
        await state.close()


def _opened_in(client: Any) -> set[asyncio.AbstractEventLoop]:
    """Return the event loops an aiobotocore client's HTTP sessions were opened in."""
    http = getattr(getattr(client, "_endpoint", None), "http_session", None)
    sessions = getattr(http, "_sessions", None)
    if not isinstance(sessions, dict):
        return set()
    loops = (getattr(session, "_loop", None) for session in list(sessions.values()))
    return {loop for loop in loops if isinstance(loop, asyncio.AbstractEventLoop)}
