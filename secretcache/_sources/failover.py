"""FailoverSource: a SecretSource over a primary region's source and fallbacks in others.

Secrets Manager replicates a secret to other regions (same name, same VersionIds, an
ARN that differs only in its region). This source reads through the primary's source
and, when it fails transiently, through each fallback in order, by the rules of
``_core.regions``; the caches and the store never see a region. ``SecretCache(...,
fallback_regions=...)`` builds one; build one yourself to compose other sources.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._core.regions import Regions
from .._core.steps import run

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .._core.models import Secret, SecretMetadata
    from .botocore import BatchPage, SecretSource

__all__ = ["FailoverSource"]


class FailoverSource(Regions["SecretSource"]):
    """A SecretSource that asks ``primary`` first and ``fallbacks`` when it is down.

    A request the primary fails transiently (unavailable, 5xx, timeouts, connection
    errors, throttling) is asked of each fallback in order; the first answer wins.
    While the primary backs off (1 s doubling to 60 s on ``clock``), requests go
    straight to the fallbacks, but for one probe of the primary per backoff step. Any
    other error of the primary is raised as it is: never failed over. An ARN asked is
    rewritten for each fallback's region (its ``region_name``); the answer keeps the
    id asked as ``secret_id`` and the answering region's ``arn``.
    """

    def get_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        """Call GetSecretValue in the first region that answers."""
        return self._get(secret_id, version_stage, version_id, past_cache=False)

    def refresh_secret_value(
        self, secret_id: str, *, version_stage: str | None = None, version_id: str | None = None
    ) -> Secret:
        """Call GetSecretValue past any cache a source sits before (the Lambda extension's)."""
        return self._get(secret_id, version_stage, version_id, past_cache=True)

    def _get(
        self, secret_id: str, version_stage: str | None, version_id: str | None, *, past_cache: bool
    ) -> Secret:
        def call(index: int) -> Secret:
            source = self.sources[index]
            read = self.reader(source, past_cache)
            return self.as_asked(
                read(
                    self.asked(index, secret_id), version_stage=version_stage, version_id=version_id
                ),
                secret_id,
            )

        secret: Secret = run(self.trip(secret_id, version_stage, version_id).plan(), call)
        return secret

    def describe_secret(self, secret_id: str) -> SecretMetadata:
        """Call DescribeSecret in the first region that answers."""

        def call(index: int) -> SecretMetadata:
            source: SecretSource = self.sources[index]
            return source.describe_secret(self.asked(index, secret_id))

        meta: SecretMetadata = run(self.trip(secret_id).plan(), call)
        return meta

    def batch_get_secret_value(
        self,
        *,
        secret_ids: Sequence[str] | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        next_token: str | None = None,
    ) -> BatchPage:
        """Call BatchGetSecretValue in the first region that answers (later pages: the same)."""
        trip, token = self.batch_trip(next_token)

        def call(index: int) -> BatchPage:
            source: SecretSource = self.sources[index]
            page = source.batch_get_secret_value(
                secret_ids=self.batch_ids(index, secret_ids), filters=filters, next_token=token
            )
            return self.page_as_asked(index, page, secret_ids, trip)

        page: BatchPage = run(trip.plan(), call)
        return page
