"""Tracing sources: a cache's source (or each region's, under failover) with a span per call.

``TracingSource`` wraps a ``SecretSource``, ``AsyncTracingSource`` an
``AsyncSecretSource``; both delegate everything else (``region_name``, ``aclose``,
whatever a source adds) to the source they wrap. They differ only in awaiting: the span
itself is ``Calls.span``'s, written once. Under failover each region's source is wrapped,
and ``FailoverTracing`` (``AsyncFailoverTracing``) goes around the failover source itself:
a request's failed regions' spans end once it is settled (``Calls.failover``).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, TypeVar

from secretcache import BotocoreSource

from ._spans import BATCH, Call, Calls, Site, note_request_id

if TYPE_CHECKING:
    from collections.abc import Mapping

    from secretcache import BatchPage, Secret, SecretMetadata, SecretSource
    from secretcache.aio import AsyncSecretSource

__all__ = [
    "AsyncFailoverTracing",
    "AsyncTracingSource",
    "FailoverTracing",
    "Hooks",
    "TracingSource",
    "transport_of",
]

_HOOK_ID = "secretcache-otel-request-id"

A = TypeVar("A")


def transport_of(source: object) -> str | None:
    """Return how ``source`` reaches Secrets Manager: "sdk", "extension", or None (unknown)."""
    declared = getattr(type(source), "transport", None)
    if isinstance(declared, str):
        return declared
    if isinstance(source, BotocoreSource):
        return "sdk"
    name = type(source).__name__
    if name == "AioBotocoreSource":
        return "sdk"
    if "Extension" in name:  # the Lambda extension / Secrets Manager Agent source
        return "extension"
    return None  # a test double or a source of the user's


class Hooks:
    """The botocore clients given our RequestId hook, so uninstrument() can remove it."""

    def __init__(self) -> None:
        self._clients: weakref.WeakSet[Any] = weakref.WeakSet()
        # Each instrumentation its own: two caches may share a client, and uninstrumenting
        # one must leave the other's hook in place.
        self._id = f"{_HOOK_ID}-{id(self)}"

    def add(self, client: Any) -> None:
        """Register the hook on ``client`` once (it acts only inside our spans)."""
        if client in self._clients:
            return
        events = getattr(getattr(client, "meta", None), "events", None)
        if events is None:
            return
        service = client.meta.service_model.service_id.hyphenize()
        events.register(f"after-call.{service}", note_request_id, unique_id=self._id)
        self._clients.add(client)

    def remove_all(self) -> None:
        """Unregister the hook from every client it was registered on."""
        for client in list(self._clients):
            service = client.meta.service_model.service_id.hyphenize()
            client.meta.events.unregister(f"after-call.{service}", unique_id=self._id)
        self._clients = weakref.WeakSet()


class _Wrapper:
    """What both tracing sources share: the source wrapped, and delegation to it."""

    def __init__(self, inner: Any, calls: Calls, hooks: Hooks) -> None:
        self.inner = inner
        self._calls = calls
        self._hooks = hooks
        self._site = Site(inner, transport_of(inner))

    def _get_span(self, secret_id: str, kwargs: Mapping[str, Any]) -> Any:
        """Return the span of a GetSecretValue call (a context manager)."""
        stage, version_id = kwargs.get("version_stage"), kwargs.get("version_id")
        return self._calls.span(self._site, "GetSecretValue", secret_id, stage, version_id)

    def __getattr__(self, name: str) -> Any:
        # region_name, aclose, and whatever else the wrapped source offers.
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self.inner!r}>"


class TracingSource(_Wrapper):
    """A SecretSource that traces each call of the source it wraps."""

    inner: SecretSource

    def _hook(self) -> None:
        if isinstance(self.inner, BotocoreSource):
            try:
                client = self.inner.client
            except Exception:  # no client can be built: the call itself says why
                return
            self._hooks.add(client)

    def get_secret_value(self, secret_id: str, **kwargs: Any) -> Secret:
        """Call GetSecretValue in a span."""
        with self._get_span(secret_id, kwargs) as call:
            self._hook()
            # Straight into the return: no local of this frame holds the value.
            return _arn(call, self.inner.get_secret_value(secret_id, **kwargs))

    def describe_secret(self, secret_id: str, **kwargs: Any) -> SecretMetadata:
        """Call DescribeSecret in a span."""
        with self._calls.span(self._site, "DescribeSecret", secret_id) as call:
            self._hook()
            return _arn(call, self.inner.describe_secret(secret_id, **kwargs))

    def batch_get_secret_value(self, **kwargs: Any) -> BatchPage:
        """Call BatchGetSecretValue in a span."""
        with self._calls.span(self._site, BATCH, batch_size=_size(kwargs)) as call:
            self._hook()
            return _page(call, self.inner.batch_get_secret_value(**kwargs))


class AsyncTracingSource(_Wrapper):
    """An AsyncSecretSource that traces each call of the source it wraps."""

    inner: AsyncSecretSource

    async def _hook(self) -> None:
        if type(self.inner).__name__ == "AioBotocoreSource":
            try:
                client = await self.inner.client()  # type: ignore[attr-defined]
            except Exception:  # no client can be built: the call itself says why
                return
            self._hooks.add(client)

    async def get_secret_value(self, secret_id: str, **kwargs: Any) -> Secret:
        """Call GetSecretValue in a span."""
        with self._get_span(secret_id, kwargs) as call:
            await self._hook()
            return _arn(call, await self.inner.get_secret_value(secret_id, **kwargs))

    async def describe_secret(self, secret_id: str, **kwargs: Any) -> SecretMetadata:
        """Call DescribeSecret in a span."""
        with self._calls.span(self._site, "DescribeSecret", secret_id) as call:
            await self._hook()
            return _arn(call, await self.inner.describe_secret(secret_id, **kwargs))

    async def batch_get_secret_value(self, **kwargs: Any) -> BatchPage:
        """Call BatchGetSecretValue in a span."""
        with self._calls.span(self._site, BATCH, batch_size=_size(kwargs)) as call:
            await self._hook()
            return _page(call, await self.inner.batch_get_secret_value(**kwargs))


class FailoverTracing(_Wrapper):
    """Around a FailoverSource whose regions' sources trace: settles each request's spans."""

    def get_secret_value(self, secret_id: str, **kwargs: Any) -> Secret:
        """Call GetSecretValue across the regions."""
        with self._calls.failover("GetSecretValue"):
            return self.inner.get_secret_value(secret_id, **kwargs)  # type: ignore[no-any-return]

    def describe_secret(self, secret_id: str, **kwargs: Any) -> SecretMetadata:
        """Call DescribeSecret across the regions."""
        with self._calls.failover("DescribeSecret"):
            return self.inner.describe_secret(secret_id, **kwargs)  # type: ignore[no-any-return]

    def batch_get_secret_value(self, **kwargs: Any) -> BatchPage:
        """Call BatchGetSecretValue across the regions."""
        with self._calls.failover(BATCH):
            return self.inner.batch_get_secret_value(**kwargs)  # type: ignore[no-any-return]


class AsyncFailoverTracing(_Wrapper):
    """FailoverTracing's twin around an AsyncFailoverSource."""

    async def get_secret_value(self, secret_id: str, **kwargs: Any) -> Secret:
        """Call GetSecretValue across the regions."""
        with self._calls.failover("GetSecretValue"):
            return await self.inner.get_secret_value(secret_id, **kwargs)  # type: ignore[no-any-return]

    async def describe_secret(self, secret_id: str, **kwargs: Any) -> SecretMetadata:
        """Call DescribeSecret across the regions."""
        with self._calls.failover("DescribeSecret"):
            return await self.inner.describe_secret(secret_id, **kwargs)  # type: ignore[no-any-return]

    async def batch_get_secret_value(self, **kwargs: Any) -> BatchPage:
        """Call BatchGetSecretValue across the regions."""
        with self._calls.failover(BATCH):
            return await self.inner.batch_get_secret_value(**kwargs)  # type: ignore[no-any-return]


def _arn(call: Call | None, answer: A) -> A:
    """Note the answer's ARN on the span; return the answer."""
    if call is not None:
        call.arn(getattr(answer, "arn", None))
    return answer


def _size(kwargs: Mapping[str, Any]) -> int | None:
    """Return how many ids a batch asks for (None: it asks by filters)."""
    ids = kwargs.get("secret_ids")
    return None if ids is None else len(ids)


def _page(call: Call | None, page: BatchPage) -> BatchPage:
    """Note how many values and errors a batch page holds; return the page."""
    if call is not None:
        call.batch(len(page.secrets), len(page.errors))
    return page
