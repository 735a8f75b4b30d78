"""AsyncFailoverSource: FailoverSource's twin over AsyncSecretSources (aiobotocore).

The same rules, written once in ``_core.regions``; only the driving differs (awaits). Each
region's ``AioBotocoreSource`` keeps one client per event loop. aiobotocore is imported
only when a client is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._core.regions import Regions
from .._core.steps import arun

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .._core.models import Secret, SecretMetadata
    from .aiobotocore import AsyncSecretSource
    from .botocore import BatchPage

__all__ = ["AsyncFailoverSource"]


class AsyncFailoverSource(Regions["AsyncSecretSource"]):
    """An AsyncSecretSource that asks ``primary`` first and ``fallbacks`` when it is down.

    The rules of ``secretcache.FailoverSource``, awaited.
    """

    async def get_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        """Await GetSecretValue from the first region that answers."""
        return await self._get(secret_id, version_stage, version_id, past_cache=False)

    async def refresh_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        """Await GetSecretValue past any cache a source sits before (the extension's)."""
        return await self._get(secret_id, version_stage, version_id, past_cache=True)

    async def _get(
        self, secret_id: str, version_stage: str | None, version_id: str | None, *, past_cache: bool
    ) -> Secret:
        async def call(index: int) -> Secret:
            read = self.reader(self.sources[index], past_cache)
            secret = await read(
                self.asked(index, secret_id), version_stage=version_stage, version_id=version_id
            )
            return self.as_asked(secret, secret_id)

        return await arun(self.trip(secret_id, version_stage, version_id).plan(), call)

    async def describe_secret(self, secret_id: str) -> SecretMetadata:
        """Await DescribeSecret from the first region that answers."""

        async def call(index: int) -> SecretMetadata:
            source: AsyncSecretSource = self.sources[index]
            return await source.describe_secret(self.asked(index, secret_id))

        return await arun(self.trip(secret_id).plan(), call)

    async def batch_get_secret_value(
        self,
        *,
        secret_ids: Sequence[str] | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        next_token: str | None = None,
    ) -> BatchPage:
        """Await BatchGetSecretValue from the first region that answers (later pages: the same)."""
        trip, token = self.batch_trip(next_token)

        async def call(index: int) -> BatchPage:
            source: AsyncSecretSource = self.sources[index]
            page = await source.batch_get_secret_value(
                secret_ids=self.batch_ids(index, secret_ids), filters=filters, next_token=token
            )
            return self.page_as_asked(index, page, secret_ids, trip)

        return await arun(trip.plan(), call)

    async def aclose(self) -> None:
        """Close the clients each region's source built in this event loop."""
        for source in self.sources:
            closer = getattr(source, "aclose", None)
            if closer is not None:
                await closer()
