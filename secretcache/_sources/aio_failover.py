"""AsyncFailoverSource: FailoverSource's twin over AsyncSecretSources (aiobotocore).

The same rules, written once in ``_regions``; only the driving differs (awaits). Each
region's ``AioBotocoreSource`` keeps one client per event loop. aiobotocore is imported
only when a client is built.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, TypeVar

from .._core.regions import Regions, Trip
from ..exceptions import SecretCacheError

if TYPE_CHECKING:
    import random
    from collections.abc import Awaitable, Callable, Mapping, Sequence

    from .._core.models import Secret, SecretMetadata
    from .aiobotocore import AsyncSecretSource
    from .botocore import BatchPage

__all__ = ["AsyncFailoverSource"]

T = TypeVar("T")


class AsyncFailoverSource(Regions):
    """An AsyncSecretSource that asks ``primary`` first and ``fallbacks`` when it is down.

    The rules of ``secretcache.FailoverSource``, awaited.
    """

    def __init__(
        self,
        primary: AsyncSecretSource,
        fallbacks: Sequence[AsyncSecretSource],
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(primary, fallbacks, clock=clock, rng=rng)

    async def _ask(self, trip: Trip, call: Callable[[int], Awaitable[T]]) -> T:
        while (index := trip.next()) is not None:
            try:
                answer = await call(index)
            except SecretCacheError as exc:
                trip.failed(index, exc)
                continue
            except BaseException:  # cancelled: the probe, if it was one, goes back
                trip.abandon(index)
                raise
            trip.answered(index)
            return answer
        raise trip.error()

    async def get_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        """Call GetSecretValue in the first region that answers."""

        async def call(index: int) -> Secret:
            source: AsyncSecretSource = self.sources[index]
            secret = await source.get_secret_value(
                self.asked(index, secret_id), version_stage=version_stage, version_id=version_id
            )
            return self.as_asked(secret, secret_id)

        return await self._ask(self.trip(secret_id, version_stage, version_id), call)

    async def describe_secret(self, secret_id: str) -> SecretMetadata:
        """Call DescribeSecret in the first region that answers."""

        async def call(index: int) -> SecretMetadata:
            source: AsyncSecretSource = self.sources[index]
            return await source.describe_secret(self.asked(index, secret_id))

        return await self._ask(self.trip(secret_id), call)

    async def batch_get_secret_value(
        self,
        *,
        secret_ids: Sequence[str] | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        next_token: str | None = None,
    ) -> BatchPage:
        """Call BatchGetSecretValue in the first region that answers (later pages: the same)."""
        only, token = self.token_origin(next_token)
        trip = self.trip(only=only)

        async def call(index: int) -> BatchPage:
            source: AsyncSecretSource = self.sources[index]
            page = await source.batch_get_secret_value(
                secret_ids=self.batch_ids(index, secret_ids), filters=filters, next_token=token
            )
            return self.page_as_asked(index, page, secret_ids, trip)

        return await self._ask(trip, call)

    async def aclose(self) -> None:
        """Close the clients each region's source built in this event loop."""
        for source in self.sources:
            closer = getattr(source, "aclose", None)
            if closer is not None:
                await closer()
