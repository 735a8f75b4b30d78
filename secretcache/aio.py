"""AsyncSecretCache: SecretCache's semantics for asyncio, on aiobotocore (extra ``aio``).

It shares the cache core with ``SecretCache``: the same ``Store`` (plan/succeed/fail
tickets), the same sans-IO load plan (``_core.revalidate.plan_load``), parsing, argument
checks, error table and models. Only the driving differs: a load runs as its own task,
kept on the store's flight, and every reader of that key waits for it with
``asyncio.wait`` (never cancelling it, so one cancelled reader never cancels the load
for the others; a reader in another event loop is woken from that loop). Clients the
cache builds are per event loop and closed when their loop ends. aiobotocore is
imported only when the default client is built.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
from functools import partial
from typing import TYPE_CHECKING, Any

from ._core import arun
from ._core import parse as _parse
from ._core.base import CacheBase, Key, make_key
from ._core.extension_env import choose_source
from ._core.models import AWSCURRENT, Secret
from ._core.store import Entry, Load, Store, Ticket
from ._core.validate import check_client
from ._sources import build_source, default_primary
from ._sources.aio_failover import AsyncFailoverSource
from ._sources.aiobotocore import AioBotocoreSource, AsyncSecretSource, build_async_client
from .exceptions import SecretCacheError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
    from types import TracebackType

    from ._core.entries import _Flight
    from ._core.models import BatchPage, SecretMetadata
    from ._core.prefetch import Batch, Singles
    from ._core.recovery import Look
    from ._core.revalidate import Request
    from ._sources.aio_extension import AsyncExtensionSource

    _FlightLike = _Flight[Any]

__all__ = [
    "AioBotocoreSource",
    "AsyncExtensionSource",
    "AsyncFailoverSource",
    "AsyncSecretCache",
    "AsyncSecretSource",
    "build_async_client",
]

log = logging.getLogger("secretcache")

# How often a reader waiting on another event loop's load checks that loop is alive.
_DESERTED_CHECK = 1.0


# -- the cache ------------------------------------------------------------------------
class AsyncSecretCache(CacheBase):
    """A TTL cache of Secrets Manager secrets for asyncio code, on aiobotocore.

    The same API and rules as ``SecretCache`` with coroutines: a fresh read awaits
    nothing and calls nothing; concurrent reads of a missing or expired key share one
    load task; transient failures serve stale values with backoff, terminal ones drop
    them; ``fallback_regions``/``fallback_clients`` fail over to replicas in other
    regions (``AsyncFailoverSource``). Use ``async with AsyncSecretCache() as cache:``
    or ``await cache.aclose()``.

    Args:
        client: an aiobotocore Secrets Manager client you opened (and close). ``None``
            builds one per event loop on its first read, closed when that loop ends.
        session: or an ``aiobotocore.session.AioSession`` to build clients from.
        source: or an ``AsyncSecretSource`` (tests: ``AsyncInMemorySource``).

    The other parameters (``ttl``, ``jitter``, ``cold_jitter``, ``max_size``,
    ``max_stale``, ``revalidate``, ``clock``, ``rng``, ``on_rotation``,
    ``fallback_regions``, ``fallback_clients``) are ``SecretCache``'s, keyword-only;
    there is no ``refresh_ahead``.
    """

    _kind = "AsyncSecretCache"
    _asynchronous = True
    _sourcing = staticmethod(partial(build_source, AioBotocoreSource, True))
    _default_source = staticmethod(default_primary)
    _source: AsyncSecretSource
    # asyncio keeps only weak references to tasks: hold the loads until they end.
    _tasks: set[asyncio.Task[None]]

    # The constructor is CacheBase's: the same arguments as SecretCache's, keyword-only,
    # but refresh_ahead; the checks that differ are these.
    def _check_arguments(self, client: Any, session: Any, source: Any) -> None:
        check_client(client, cache="AsyncSecretCache")
        # aiobotocore clients are async context managers; botocore's are not.
        if client is not None and not hasattr(client, "__aenter__"):
            raise TypeError(
                "client is a synchronous client: AsyncSecretCache needs an aiobotocore client"
                " (or use SecretCache)"
            )
        if (
            client is None
            and source is None
            and choose_source(os.environ)[0] == "sdk"  # not the Lambda extension's source
            and importlib.util.find_spec("aiobotocore") is None
        ):
            raise ImportError(
                "AsyncSecretCache builds its clients with aiobotocore, which is not installed:"
                " pip install 'secretcache[aio]' (or pass a source=)"
            )
        self._tasks = set()

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
        return self._json(await self._entry(secret_id, version_stage, version_id))

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
        key, entry = self._probe(secret_id, version_stage, version_id)
        return entry if entry is not None else await self._get(key)

    async def _get(
        self, key: Key, *, force: bool = False, past_cache: bool = False
    ) -> Entry[Secret]:
        loader = partial(self._fetch, past_cache=True) if past_cache else self._fetch
        return await self._drive(self._store, key, loader, force=force)

    async def _drive(
        self,
        store: Store[Any, Any],
        key: Any,
        load: Callable[[Ticket[Any, Any]], Awaitable[Load[Any]]],
        *,
        force: bool = False,
        ignore_backoff: bool = False,
    ) -> Entry[Any]:
        """Read ``key`` from ``store``: a hit, a load of ours, or a load someone runs."""
        while True:
            planned = store.plan(key, force=force, ignore_backoff=ignore_backoff)
            if isinstance(planned, Entry):
                return planned
            if isinstance(planned, Ticket):
                flight = planned.flight
                task = asyncio.get_running_loop().create_task(self._run(store, planned, load))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                # A task cancelled before its first step never runs _run's handlers:
                # land its flight here, or every later reader of the key would wait on it.
                task.add_done_callback(partial(_land_if_open, store, planned))
                flight.task = task
            else:
                flight = planned
            await _landing(store, key, flight)
            if flight.error is None or isinstance(flight.error, Exception):
                return flight.outcome(force)
            # The load was cancelled (aclose()), interrupted or deserted, not failed:
            # that was its owner's business, so plan again rather than hand this reader
            # a cancellation it never asked for.

    @staticmethod
    async def _run(
        store: Store[Any, Any],
        ticket: Ticket[Any, Any],
        load: Callable[[Ticket[Any, Any]], Awaitable[Load[Any]]],
    ) -> None:
        """Run one load to its end; the outcome goes to the flight, never raised here."""
        try:
            loaded = await load(ticket)
        except SecretCacheError as exc:
            store.fail(ticket, exc)
        except BaseException as exc:
            store.abandon(ticket, exc)
            if not isinstance(exc, Exception):
                raise  # cancellation and exits stay what they are
        else:
            with contextlib.suppress(SecretCacheError):  # a later denial: on the flight
                store.succeed(ticket, loaded)

    async def _fetch(
        self, ticket: Ticket[Key, Secret], must_read: bool = False, past_cache: bool = False
    ) -> Load[Secret]:
        ask = partial(self._ask, past_cache=True) if past_cache else self._ask
        return await arun(self._load_plan(ticket, must_read), ask)

    async def _ask(self, request: Request, past_cache: bool = False) -> Secret | SecretMetadata:
        return await request.ask(self._source, past_cache)  # type: ignore[no-any-return]

    # -- control ----------------------------------------------------------------------
    async def refresh(self, secret_id: str, version_stage: str = AWSCURRENT) -> bool:
        """Fetch now (joining a fetch in flight); return True if the version changed."""
        old_version = self._version_before(secret_id, version_stage)
        # Past the source's own cache, if it has one (the Lambda extension's).
        entry = await self._get(
            make_key(secret_id, version_stage, None), force=True, past_cache=True
        )
        return old_version is not None and entry.value.version_id != old_version

    async def rotation_candidate(self, secret_id: str, failed_version_id: str) -> Secret | None:
        """Return a version to retry with after a login failed with ``failed_version_id``.

        As ``SecretCache.rotation_candidate``: a newer AWSCURRENT, else a newer
        AWSPENDING (rotation window), else AWSPREVIOUS when the refused version is
        AWSCURRENT, else None; about one call a second per secret.
        """
        news, look = self._known_look(secret_id, failed_version_id)
        if look is None:
            look = await self._drive(
                self._recovery.looks, secret_id, partial(self._look, secret_id, news), force=news
            )
        return self._candidate(secret_id, look)

    async def _look(self, secret_id: str, full: bool, ticket: Ticket[str, Look]) -> Load[Look]:
        last = None if full else ticket.previous  # a repeat reads AWSCURRENT first
        return await arun(self._look_plan(secret_id, last), self._read_afresh)

    async def _read_afresh(self, key: Key) -> Secret:
        loader = partial(self._fetch, must_read=True, past_cache=True)
        entry: Entry[Secret] = await self._drive(
            self._store, key, loader, force=True, ignore_backoff=True
        )
        return entry.value

    async def prefetch(
        self,
        secret_ids: Iterable[str] | None = None,
        *,
        filters: Sequence[Mapping[str, Any]] | None = None,
    ) -> Mapping[str, Secret | SecretCacheError]:
        """Warm the cache with BatchGetSecretValue (20 ids a call); singles run concurrently."""
        from ._core.prefetch import Singles, plan_prefetch

        async def ask(request: Batch | Singles) -> BatchPage | dict[str, Secret | SecretCacheError]:
            if isinstance(request, Singles):
                ids = request.secret_ids
                read = await asyncio.gather(*(self._read_or_error(sid) for sid in ids))
                return dict(zip(ids, read, strict=True))
            return await request.ask(self._source)  # type: ignore[no-any-return]

        return await arun(plan_prefetch(self, secret_ids, filters), ask)

    async def _read_or_error(self, secret_id: str) -> Secret | SecretCacheError:
        try:
            return await self.get_secret(secret_id)
        except SecretCacheError as exc:
            return exc

    async def aclose(self) -> None:
        """Cancel this event loop's loads, forget every value, close the client built here.

        Readers waiting for a cancelled load are not cancelled: they read again. A
        cache closed may be used again; what it then opens is closed when the event
        loop ends (asyncio.run) or by the next aclose(). Other event loops' clients are
        closed by their own loop.
        """
        loop = asyncio.get_running_loop()
        tasks = [t for t in self._tasks if not t.done() and t.get_loop() is loop]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self._store.invalidate()
        closer = getattr(self._source, "aclose", None)
        if closer is not None:
            await closer()

    def _after_fork_in_child(self) -> None:
        super()._after_fork_in_child()
        self._tasks = set()  # the parent's event loops do not run here

    async def __aenter__(self) -> AsyncSecretCache:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


async def _landing(store: Store[Any, Any], key: Any, flight: _FlightLike) -> None:
    """Wait until ``flight`` lands, never cancelling it (a reader cancelled here is)."""
    task = flight.task
    loop = asyncio.get_running_loop()
    if isinstance(task, asyncio.Task) and task.get_loop() is loop:
        await asyncio.wait((task,))
        return
    # Loading in another event loop (another thread): be woken from there, and give up
    # on a load whose loop was closed before it ended.
    landed = loop.create_future()

    def wake() -> None:
        with contextlib.suppress(RuntimeError):  # this loop closed meanwhile
            loop.call_soon_threadsafe(_resolve, landed)

    if not store.when_landed(flight, wake):
        return
    while True:
        done, _ = await asyncio.wait((landed,), timeout=_DESERTED_CHECK)
        if done:
            return
        task = flight.task
        if isinstance(task, asyncio.Task) and task.get_loop().is_closed() and not task.done():
            store.desert(key, flight)
            return


def _land_if_open(
    store: Store[Any, Any], ticket: Ticket[Any, Any], task: asyncio.Task[None]
) -> None:
    if ticket.flight.waiters is not None:  # never landed: cancelled before it began
        store.abandon(ticket, asyncio.CancelledError())


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def __getattr__(name: str) -> object:
    # Served when first asked for: the extension's source costs a cache on aiobotocore
    # nothing.
    if name == "AsyncExtensionSource":
        from ._sources.aio_extension import AsyncExtensionSource

        return AsyncExtensionSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
