"""Regional failover's rules, free of I/O: which region to ask next, and what answers mean.

Written once for ``FailoverSource`` and ``AsyncFailoverSource`` (as ``revalidate`` is
for the two caches): a request takes a ``Trip`` through the regions, and the source
drives it with blocking calls or awaits. The rules:

- the primary is asked first; on a transient failure (``SecretsManagerUnavailableError``,
  throttling included) the same request asks each fallback in order: the first answer
  wins;
- each region has a breaker: a transient failure opens it for a backoff step (1 s
  doubling to 60 s, times 1-1.2 jitter, on the injected clock). While it is open,
  requests skip the region, except one probe per step; an answer closes it at once;
- any other error of the primary (denied, not found, deleted, decryption, invalid
  request, credentials) is raised as it is: a denial is never bypassed through a
  replica, whose policy may differ;
- a fallback that answers with such an error cannot help with that request: the next
  one is asked. If no region answers, the primary's error is raised (its own error, or
  the one it is backing off after);
- an ARN names its region: a fallback is asked for it with the region replaced;
- a fallback's answer older than the version a cache holds (replication lag) must not
  replace it: ``Regions.lags`` tells.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..exceptions import SecretCacheError, SecretsManagerUnavailableError
from . import forksafe as _forksafe
from .breaker import PROBE, SKIP, Breaker, fails_over, in_region, region_of
from .forksafe import ForkSafeLock
from .models import BatchPage
from .validate import check_callable, check_rng

if TYPE_CHECKING:
    from .models import Secret, SecretMetadata

__all__ = ["Breaker", "Regions", "Trip", "fails_over", "in_region", "region_of"]

log = logging.getLogger("secretcache")

Source = TypeVar("Source")  # the kind of source: a SecretSource or an AsyncSecretSource

# A fallback's NextToken, marked so that the next page is asked of the same region.
_TOKEN = "secretcache-fallback-"


class Regions(Generic[Source]):
    """The sources of a primary region and its fallbacks, their breakers and counters.

    ``Source`` is the kind of source: a ``SecretSource`` (``FailoverSource``) or an
    ``AsyncSecretSource`` (``AsyncFailoverSource``).
    """

    #: Tells a cache that this source spans regions (its counters and lag rule apply).
    spans_regions = True

    def __init__(
        self,
        primary: Source,
        fallbacks: Sequence[Source],
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if isinstance(fallbacks, (str, bytes)) or not isinstance(fallbacks, Sequence):
            raise TypeError("fallbacks must be a sequence of sources")
        if not fallbacks:
            raise ValueError("name at least one fallback source")
        check_callable("clock", clock)
        check_rng(rng)
        self.sources: tuple[Source, ...] = (primary, *fallbacks)
        self.breakers = tuple(Breaker() for _ in self.sources)
        self.clock = clock
        self._own_rng = rng is None
        self._rng = rng or random.Random()
        self._lock = ForkSafeLock()
        self._calls: dict[str, int] = {}
        self._fallback_regions: frozenset[str] | None = None
        _forksafe.register(self)

    # -- regions ------------------------------------------------------------------------
    def region(self, index: int) -> str | None:
        """Return the region source ``index`` reads in, if it says (and can tell)."""
        try:
            region = getattr(self.sources[index], "region_name", None)
        except SecretCacheError:  # its client cannot be built (no region configured)
            return None
        return region if isinstance(region, str) and region else None

    def label(self, index: int) -> str:
        """Return the name a source's calls are counted under: its region, or its place."""
        return self.region(index) or ("primary" if index == 0 else f"fallback {index}")

    def fallback_regions(self) -> frozenset[str]:
        """Return the fallbacks' regions (known without building the primary's client)."""
        regions = self._fallback_regions
        if regions is None:
            found = (self.region(i) for i in range(1, len(self.sources)))
            regions = self._fallback_regions = frozenset(r for r in found if r)
        return regions

    # -- what the caches ask ------------------------------------------------------------
    def calls_by_region(self) -> dict[str, int]:
        """Return the API calls made so far in each region (a snapshot)."""
        with self._lock:
            return dict(self._calls)

    def answered_by_fallback(self, answer: Secret | SecretMetadata) -> bool:
        """Return True if ``answer`` came from a fallback region (by its ARN)."""
        region = region_of(answer.arn)
        return region is not None and region in self.fallback_regions()

    def lags(self, answer: Secret, held: Secret) -> bool:
        """Return True if a fallback's ``answer`` is older than the version ``held``.

        Replication takes time: a replica may still carry the version a rotation in the
        primary replaced. It must not replace the newer version a cache holds. (A
        rollback in the primary is then seen once the primary answers again.)
        """
        if answer.version_id == held.version_id or not self.answered_by_fallback(answer):
            return False
        made, kept = answer.created_date, held.created_date
        return made is not None and kept is not None and made < kept

    # -- requests and answers -------------------------------------------------------------
    @staticmethod
    def reader(source: Any, past_cache: bool) -> Any:
        """Return a source's GetSecretValue, past its own cache (the extension's) if asked."""
        if past_cache:
            return getattr(source, "refresh_secret_value", source.get_secret_value)
        return source.get_secret_value

    def asked(self, index: int, secret_id: str) -> str:
        """Return the id to ask source ``index`` for: a fallback gets ARNs in its region."""
        return secret_id if index == 0 else in_region(secret_id, self.region(index))

    @staticmethod
    def as_asked(secret: Secret, secret_id: str) -> Secret:
        """Return ``secret`` under the id the caller asked (its ARN says who answered)."""
        if secret.secret_id == secret_id:
            return secret
        return dataclasses.replace(secret, secret_id=secret_id)

    def token_origin(self, next_token: str | None) -> tuple[int | None, str | None]:
        """Return (the source that issued ``next_token``, its own token); (None, None) at first."""
        if next_token is None:
            return None, None
        if next_token.startswith(_TOKEN):
            index, _, token = next_token[len(_TOKEN) :].partition(":")
            if index.isdigit() and 0 < int(index) < len(self.sources):
                return int(index), token
        return 0, next_token

    def batch_ids(self, index: int, secret_ids: Sequence[str] | None) -> list[str] | None:
        """Return a batch's ids for source ``index``."""
        return None if secret_ids is None else [self.asked(index, s) for s in secret_ids]

    def page_as_asked(
        self, index: int, page: BatchPage, secret_ids: Sequence[str] | None, trip: Trip
    ) -> BatchPage:
        """Return a fallback's page under the ids asked, with a token that comes back here.

        A fallback that could not read an id (denied, not found: its replica may lack
        the secret, its policy may differ) cannot stand in for the primary: that id
        gets the primary's error instead.
        """
        if index == 0:
            return page
        back = {self.asked(index, s): s for s in secret_ids or ()}
        secrets = [self.as_asked(s, back.get(s.secret_id, s.secret_id)) for s in page.secrets]
        errors = {}
        for sid, error in page.errors.items():
            asked = back.get(sid, sid)
            errors[asked] = error if fails_over(error) else trip.stand_in(asked)
        token = None if page.next_token is None else f"{_TOKEN}{index}:{page.next_token}"
        return BatchPage(secrets, errors, token)

    def batch_trip(self, next_token: str | None) -> tuple[Trip, str | None]:
        """Start a batch page's way: a later page goes to the region that issued its token.

        Returns the trip and the token to send that region (its own, unmarked).
        """
        only, token = self.token_origin(next_token)
        return self.trip(only=only), token

    def trip(
        self,
        secret_id: str | None = None,
        version_stage: str | None = None,
        version_id: str | None = None,
        only: int | None = None,
    ) -> Trip:
        """Start a request's way through the regions (``only``: that region alone)."""
        return Trip(self, (secret_id, version_stage, version_id), only)

    def count(self, index: int) -> None:
        """Count one API call made in source ``index``'s region."""
        label = self.label(index)
        with self._lock:
            self._calls[label] = self._calls.get(label, 0) + 1

    def draw(self) -> float:
        """Return a jitter draw in [0, 1)."""
        return self._rng.random()

    def _after_fork_in_child(self) -> None:
        for breaker in self.breakers:
            breaker.after_fork_in_child()
        if self._own_rng:
            self._rng.seed()  # siblings must not probe in step


class Trip:
    """One request's way through the regions: ask ``next()``, report each outcome."""

    __slots__ = ("_context", "_denied", "_error", "_index", "_only", "_probe", "_regions")

    def __init__(
        self,
        regions: Regions[Any],
        context: tuple[str | None, str | None, str | None],
        only: int | None,
    ) -> None:
        self._regions = regions
        self._context = context
        self._only = only
        self._index = -1 if only is None else only - 1
        self._probe = False
        # What to raise if nobody answers: the primary's error (or the only source's).
        self._error: SecretCacheError | None = None
        # A fallback's refusal (denied, say: a replica policy without its region): it
        # cannot stand in for the primary, but the error raised carries it.
        self._denied: SecretCacheError | None = None

    def plan(self) -> Generator[int, Any, Any]:
        """Yield the index of each source to ask in turn; return the first answer.

        The sources drive it (``steps.run`` / ``steps.arun``): each source yielded is
        asked and its answer sent back, or its ``SecretCacheError`` thrown in.
        """
        while (index := self.next()) is not None:
            try:
                answer = yield index
            except SecretCacheError as exc:
                self.failed(index, exc)
                continue
            except BaseException:  # interrupted (cancelled): the probe, if it was one, goes back
                self.abandon(index)
                raise
            self.answered(index)
            return answer
        raise self.error()

    def next(self) -> int | None:
        """Return the index of the next source to ask, or None when none is left."""
        regions = self._regions
        last = len(regions.sources) if self._only is None else self._only + 1
        while self._index + 1 < last:
            self._index += 1
            admitted = regions.breakers[self._index].admit(regions.clock())
            if admitted != SKIP or self._only is not None:
                self._probe = admitted == PROBE
                return self._index
        return None

    def answered(self, index: int) -> None:
        """Note that source ``index`` answered."""
        regions = self._regions
        regions.count(index)
        if regions.breakers[index].answered():
            log.warning("secretcache: region %s answers again", regions.label(index))

    def failed(self, index: int, error: SecretCacheError) -> None:
        """Note that source ``index`` failed; raise ``error`` if no fallback may answer."""
        regions = self._regions
        regions.count(index)
        breaker = regions.breakers[index]
        if not fails_over(error):
            breaker.answered()  # an answer about the secret: the region is up
            if index == 0 or self._only is not None:
                raise error
            if self._denied is None:
                self._denied = error
            log.warning(
                "secretcache: fallback region %s refused %s (%s [%s]): it cannot stand in "
                "for the primary; check its replica and its policy",
                regions.label(index),
                self._context[0] or "a batch",
                type(error).__name__,
                error.code,
            )
            return
        if index == 0 or self._only is not None:
            self._error = error
        if breaker.failed(regions.clock(), error, self._probe, regions.draw()):
            log.warning(
                "secretcache: region %s failed (%s); skipped while it backs off, "
                "but for one probe a step",
                regions.label(index),
                type(error).__name__,
            )

    def abandon(self, index: int) -> None:
        """Note that the request to source ``index`` was interrupted (not answered)."""
        self._regions.breakers[index].release(self._probe)

    def error(self) -> SecretCacheError:
        """Return what to raise when no region answered: the primary's error.

        When a fallback refused, the error is told again for this request, caused by
        that refusal.
        """
        if self._error is not None and self._denied is None:
            return self._error
        # The primary was skipped (it is backing off after an earlier request's
        # failure), or a fallback's refusal is to be carried.
        primary = self._error or self._regions.breakers[0].error
        return _for(primary, *self._context, denied=self._denied)

    def stand_in(self, secret_id: str) -> SecretCacheError:
        """Return the primary's error for one id of a batch that no region could read."""
        return _for(self._error or self._regions.breakers[0].error, secret_id, None, None)


def _for(
    failure: SecretCacheError | None,
    secret_id: str | None,
    version_stage: str | None,
    version_id: str | None,
    denied: SecretCacheError | None = None,
) -> SecretCacheError:
    """Return the primary's ``failure`` told again for this request, caused by it.

    With ``denied`` (a fallback's refusal), caused by that instead, so that a broken
    replica policy shows in the chain (the message still tells the primary's failure).
    """
    cls = type(failure) if failure is not None else SecretsManagerUnavailableError
    why = f" ({failure.message})" if failure is not None else ""
    refused = (
        ""
        if denied is None
        else f"; a fallback region refused ({type(denied).__name__} [{denied.code}])"
    )
    error = cls(
        f"the primary region failed{why} and no fallback region answered{refused}",
        secret_id=secret_id,
        version_stage=version_stage,
        version_id=version_id,
        code=failure.code if failure is not None else None,
        status_code=failure.status_code if failure is not None else None,
        operation=failure.operation if failure is not None else None,
    )
    error.__cause__ = failure if denied is None else denied
    return error
