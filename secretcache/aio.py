"""AsyncSecretCache: SecretCache's semantics for asyncio, on aiobotocore (extra ``aio``).

It shares the cache core with ``SecretCache``: the same ``Store`` (plan/succeed/fail
tickets), the same sans-IO load plan (``_revalidate.plan_load``), parsing, argument
checks, error table and models. Only the driving differs: a load runs as its own task,
kept on the store's flight, and every reader of that key awaits it through
``asyncio.shield``, so one cancelled reader never cancels the load for the others.
aiobotocore is imported only when the default client is built.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from . import _parse
from ._base import CacheBase, Key, RotationCallback, copy_parsed, make_key
from ._errors import mapping_errors
from ._models import AWSCURRENT, Secret, SecretMetadata
from ._revalidate import Get, plan_load
from ._source import (
    CLIENT_SETTINGS,
    BatchPage,
    _install_scrubber,
    batch_page_from_response,
    batch_request,
    get_request,
    metadata_from_response,
    secret_from_response,
)
from ._store import Entry, Load, Ticket
from ._validate import check_source
from .exceptions import (
    SecretCacheError,
    SecretNotFoundError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from types import TracebackType

__all__ = ["AioBotocoreSource", "AsyncSecretCache", "AsyncSecretSource", "build_async_client"]

log = logging.getLogger("secretcache")


# -- the source -----------------------------------------------------------------------
@runtime_checkable
class AsyncSecretSource(Protocol):
    """Where an AsyncSecretCache reads secrets from; raises only ``SecretCacheError``s."""

    async def get_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        """Read one version of a secret (GetSecretValue)."""
        ...

    async def describe_secret(self, secret_id: str) -> SecretMetadata:
        """Read a secret's metadata and stage map (DescribeSecret), never its value."""
        ...

    async def batch_get_secret_value(
        self,
        *,
        secret_ids: Sequence[str] | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        next_token: str | None = None,
    ) -> BatchPage:
        """Read the AWSCURRENT version of up to 20 secrets (BatchGetSecretValue)."""
        ...


async def build_async_client(session: Any, stack: contextlib.AsyncExitStack) -> Any:
    """Build the default aiobotocore client on ``stack``: as ``_source.build_client``."""
    from aiobotocore.config import AioConfig

    if session is None:
        from aiobotocore.session import get_session

        session = get_session()
    config = AioConfig(**CLIENT_SETTINGS)
    with mapping_errors():
        return await stack.enter_async_context(
            session.create_client("secretsmanager", config=config)
        )


class AioBotocoreSource:
    """An AsyncSecretSource over an aiobotocore client, built lazily if not given.

    A client passed in stays the caller's to close; a client built here is closed by
    ``aclose()``.
    """

    def __init__(self, client: Any = None, session: Any = None) -> None:
        self._client = client
        self._session = session
        self._stack: contextlib.AsyncExitStack | None = None
        self._building: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        if client is not None:
            _install_scrubber()

    async def client(self) -> Any:
        """Return the client, building (and entering) it on first use in this event loop."""
        client = self._client
        loop = asyncio.get_running_loop()
        if client is not None and (self._stack is None or self._loop is loop):
            return client
        if self._loop is not loop:
            # A client we built belongs to the loop it was built in; each asyncio.run()
            # (a Lambda invocation, say) has a new one: build again, retire the old.
            self._loop = loop
            self._building = asyncio.Lock()
            await self._retire()
        assert self._building is not None
        async with self._building:
            if self._client is None:
                stack = contextlib.AsyncExitStack()
                self._client = await build_async_client(self._session, stack)
                self._stack = stack
                _install_scrubber()
        return self._client

    async def get_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        """Call GetSecretValue, always naming a VersionStage or a VersionId."""
        kwargs = get_request(secret_id, version_stage, version_id)
        client = await self.client()
        with mapping_errors(
            secret_id=secret_id, version_stage=version_stage, version_id=version_id
        ):
            response = await client.get_secret_value(**kwargs)
        return secret_from_response(secret_id, response)

    async def describe_secret(self, secret_id: str) -> SecretMetadata:
        """Call DescribeSecret."""
        client = await self.client()
        with mapping_errors(secret_id=secret_id):
            response = await client.describe_secret(SecretId=secret_id)
        return metadata_from_response(response)

    async def batch_get_secret_value(
        self,
        *,
        secret_ids: Sequence[str] | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        next_token: str | None = None,
    ) -> BatchPage:
        """Call BatchGetSecretValue once; per-id errors come back typed, not raised."""
        kwargs = batch_request(secret_ids, filters, next_token)
        client = await self.client()
        with mapping_errors():
            response = await client.batch_get_secret_value(**kwargs)
        return batch_page_from_response(response, secret_ids)

    async def aclose(self) -> None:
        """Close the client if it was built here (a client passed in stays open)."""
        await self._retire()

    async def _retire(self) -> None:
        stack, self._stack = self._stack, None
        if stack is None:
            return
        self._client = None
        try:
            await stack.aclose()
        except (RuntimeError, OSError):
            # Built in an event loop that is closed now: its connections went with it.
            log.debug("secretcache: could not close a client from a closed event loop")


# -- the cache ------------------------------------------------------------------------
class AsyncSecretCache(CacheBase):
    """A TTL cache of Secrets Manager secrets for asyncio code, on aiobotocore.

    The same API and rules as ``SecretCache`` with coroutines: a fresh read awaits
    nothing and calls nothing; concurrent reads of a missing or expired key share one
    load task; transient failures serve stale values with backoff, terminal ones drop
    them. Use ``async with AsyncSecretCache() as cache:`` or ``await cache.aclose()``.
    """

    def __init__(
        self,
        client: Any = None,
        session: Any = None,
        *,
        ttl: float | None = None,
        jitter: float = 0.1,
        max_size: int = 1024,
        max_stale: float | None = 900.0,
        revalidate: Literal["get", "describe"] = "get",
        clock: Callable[[], float] = time.monotonic,
        on_rotation: RotationCallback | None = None,
        source: AsyncSecretSource | None = None,
    ) -> None:
        if sum(x is not None for x in (client, session, source)) > 1:
            raise TypeError("pass at most one of client, session and source")
        check_source(source, asynchronous=True)
        super().__init__(
            ttl=ttl,
            jitter=jitter,
            max_size=max_size,
            max_stale=max_stale,
            revalidate=revalidate,
            clock=clock,
            on_rotation=on_rotation,
        )
        self._source: AsyncSecretSource = source or AioBotocoreSource(client, session)
        # asyncio keeps only weak references to tasks: hold the loads until they end.
        self._tasks: set[asyncio.Task[None]] = set()

    # -- reads ------------------------------------------------------------------------
    async def get_secret(
        self, secret_id: str, version_stage: str = AWSCURRENT, *, version_id: str | None = None
    ) -> Secret:
        """Return the secret's version for a stage (or a VersionId), from memory if fresh."""
        # _entry's lock-free probe is the hit path: a hit never awaits I/O.
        return (await self._entry(secret_id, version_stage, version_id)).value

    async def get_secret_string(
        self, secret_id: str, version_stage: str = AWSCURRENT, *, version_id: str | None = None
    ) -> str:
        """Return the SecretString (SecretFormatError if the secret is binary)."""
        return _parse.as_string(
            await self.get_secret(secret_id, version_stage, version_id=version_id)
        )

    async def get_secret_binary(
        self, secret_id: str, version_stage: str = AWSCURRENT, *, version_id: str | None = None
    ) -> bytes:
        """Return the SecretBinary (or the SecretString as UTF-8 bytes)."""
        return _parse.as_binary(
            await self.get_secret(secret_id, version_stage, version_id=version_id)
        )

    async def get_secret_json(
        self, secret_id: str, version_stage: str = AWSCURRENT, *, version_id: str | None = None
    ) -> Any:
        """Return the SecretString parsed as JSON: a fresh copy the caller may mutate."""
        entry = await self._entry(secret_id, version_stage, version_id)
        return copy_parsed(entry, self._parsed(entry))

    async def get_secret_field(
        self,
        secret_id: str,
        field: str,
        version_stage: str = AWSCURRENT,
        *,
        version_id: str | None = None,
    ) -> Any:
        """Return one field of the secret's JSON object (SecretFieldError if missing)."""
        self._check_field(field)
        return self._field(await self._entry(secret_id, version_stage, version_id), field)

    async def _entry(
        self, secret_id: str, version_stage: str, version_id: str | None
    ) -> Entry[Secret]:
        key = make_key(secret_id, version_stage, version_id)
        try:
            entry = self._store.lookup(key)
        except TypeError:
            entry = None  # an unhashable argument: let the checks below explain it
        if entry is not None:
            return entry
        self._check(secret_id, version_stage, version_id)
        return await self._get(key)

    async def _get(
        self, key: Key, *, force: bool = False, ignore_backoff: bool = False
    ) -> Entry[Secret]:
        while True:
            planned = self._store.plan(key, force=force, ignore_backoff=ignore_backoff)
            if isinstance(planned, Entry):
                return planned
            if isinstance(planned, Ticket):
                flight = planned.flight
                task = asyncio.get_running_loop().create_task(self._load(planned))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                flight.task = task
            else:
                flight = planned
            loading = flight.task
            if (
                isinstance(loading, asyncio.Task)
                and loading.get_loop() is asyncio.get_running_loop()
            ):
                # shield: a reader cancelled while waiting leaves the load running.
                await asyncio.shield(loading)
            else:
                # Loading on another thread's event loop: wait without blocking this one.
                await asyncio.to_thread(flight.done.wait)
            if flight.error is None or isinstance(flight.error, Exception):
                return flight.outcome(force)
            # The load was cancelled or interrupted, not failed: that was its owner's
            # business, so plan again rather than hand this reader a copy of it.

    async def _load(self, ticket: Ticket[Key, Secret]) -> None:
        """Run one load to its end; the outcome goes to the flight, never raised here."""
        try:
            loaded = await self._fetch(ticket.key, ticket.previous)
        except SecretCacheError as exc:
            if self._store.fail(ticket, exc) is None:
                self._forget_siblings(ticket.key, exc)
        except BaseException as exc:
            self._store.abandon(ticket, exc)
            if not isinstance(exc, Exception):
                raise  # cancellation and exits stay what they are
        else:
            self._store.succeed(ticket, loaded)

    async def _fetch(self, key: Key, previous: Secret | None) -> Load[Secret]:
        plan = plan_load(
            key,
            previous,
            describe=self._revalidate == "describe",
            describe_denied=self._describe_denied,
        )
        request = next(plan)
        while True:
            self._count(request.operation)
            try:
                if isinstance(request, Get):
                    result: Secret | SecretMetadata = await self._source.get_secret_value(
                        request.secret_id,
                        version_stage=request.version_stage,
                        version_id=request.version_id,
                    )
                else:
                    result = await self._source.describe_secret(request.secret_id)
            except SecretCacheError as exc:
                step = partial(plan.throw, exc)
            else:
                step = partial(plan.send, result)
            try:
                request = step()
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]

    # -- control ----------------------------------------------------------------------
    async def refresh(self, secret_id: str, version_stage: str = AWSCURRENT) -> bool:
        """Fetch now (joining a fetch in flight); return True if the version changed."""
        old_version = self._version_before(secret_id, version_stage)
        entry = await self._get(make_key(secret_id, version_stage, None), force=True)
        return old_version is not None and entry.value.version_id != old_version

    async def rotation_candidate(self, secret_id: str, failed_version_id: str) -> Secret | None:
        """Return a version to retry with after a login failed with ``failed_version_id``.

        As ``SecretCache.rotation_candidate``: a newer AWSCURRENT, else a different
        AWSPENDING (rotation window), else None; asks at most once a second per secret.
        """
        plan = self.rotation_plan(secret_id, failed_version_id)
        try:
            key, reread = next(plan)
            while True:
                try:
                    found = None if reread else self._recent(key)
                    if found is None:
                        found = (await self._get(key, force=True, ignore_backoff=True)).value
                except SecretNotFoundError as exc:
                    key, reread = plan.throw(exc)
                else:
                    key, reread = plan.send(found)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def prefetch(
        self,
        secret_ids: Iterable[str] | None = None,
        *,
        filters: Sequence[Mapping[str, Any]] | None = None,
    ) -> Mapping[str, Secret | SecretCacheError]:
        """Warm the cache with BatchGetSecretValue (20 ids a call); errors per id."""
        from ._prefetch import aprefetch

        return await aprefetch(self, secret_ids, filters)

    async def aclose(self) -> None:
        """Cancel loads in flight, forget every value, close a client built here."""
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._store.invalidate()
        closer = getattr(self._source, "aclose", None)
        if closer is not None:
            await closer()

    async def __aenter__(self) -> AsyncSecretCache:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
