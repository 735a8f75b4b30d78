"""Powertools for AWS Lambda: a parameters provider on a SecretCache, and cache metrics.

``SecretCacheProvider`` goes where Powertools expects a provider (it subclasses
``BaseProvider``): ``get(name, max_age=None, transform=None, force_fetch=False,
**sdk_options)`` with ``VersionStage``/``VersionId`` honoured, but reads go through
secretcache: keys per stage or VersionId, one API call however many threads miss,
rotation detection, and typed errors. Each error is raised as a class that is both
the secretcache type and Powertools' ``GetParameterError`` (format errors:
``TransformParameterError``), so existing ``except`` clauses keep working.

``publish_stats(metrics, cache)`` adds the change in ``cache.stats()`` since its last
call to a Powertools ``Metrics`` (CloudWatch EMF).

Install with ``pip install 'secretcache[powertools]'``; ``import secretcache`` never
imports this module.
"""

from __future__ import annotations

import time
import weakref
from typing import TYPE_CHECKING, Any, Literal, overload

try:
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.parameters.base import BaseProvider, transform_value
    from aws_lambda_powertools.utilities.parameters.exceptions import (
        GetParameterError,
        TransformParameterError,
    )
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "secretcache.integrations.powertools needs aws-lambda-powertools: "
        "pip install 'secretcache[powertools]'"
    ) from exc

from .._cache import SecretCache, default_cache
from .._core.forksafe import ForkSafeLock
from .._core.models import AWSCURRENT, CacheStats
from .._core.validate import check_secret_id, check_stage, check_version_id
from ..exceptions import SecretCacheError, SecretFormatError

if TYPE_CHECKING:
    from collections.abc import Callable

    from aws_lambda_powertools import Metrics

__all__ = ["SecretCacheProvider", "get_secret", "publish_stats"]

Transform = Literal["json", "binary", "auto"] | None


class SecretCacheProvider(BaseProvider):
    """A Powertools parameters provider that reads Secrets Manager through a SecretCache.

    ``max_age=None`` leaves freshness to the cache's TTL (Powertools' 5-second
    default is not applied: the cache detects rotations itself). An explicit
    ``max_age`` revalidates a value this provider last fetched more than that many
    seconds ago; ``max_age=0`` or ``force_fetch=True`` revalidates now. ``clock``
    should be the cache's clock (tests pass the same FakeClock to both).
    """

    def __init__(
        self, cache: SecretCache | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._cache = cache
        self._clock = clock
        self._fetched: dict[tuple[str, str | None, str | None], float] = {}
        self._lock = ForkSafeLock()

    @property
    def cache(self) -> SecretCache:
        """Return the cache this provider reads through (the default one if none given)."""
        return default_cache() if self._cache is None else self._cache

    def get(
        self,
        name: str,
        max_age: int | float | None = None,
        transform: Transform = None,
        force_fetch: bool = False,
        **sdk_options: Any,
    ) -> Any:
        """Return the secret's value (str or bytes), or it transformed like Powertools does."""
        check_secret_id(name)
        stage, version_id = _version_options(sdk_options)
        if transform not in (None, "json", "binary", "auto"):
            raise ValueError(
                f"transform must be None, 'json', 'binary' or 'auto', not {transform!r}"
            )
        if max_age is not None and (isinstance(max_age, bool) or max_age < 0):
            raise ValueError("max_age must be a number of seconds >= 0")
        try:
            return self._get_value(name, stage, version_id, max_age, transform, force_fetch)
        except SecretCacheError as exc:
            raise _compatible(exc) from exc.__cause__

    def _get_value(
        self,
        name: str,
        stage: str,
        version_id: str | None,
        max_age: float | None,
        transform: Transform,
        force_fetch: bool,
    ) -> Any:
        cache = self.cache
        key = (name, None if version_id else stage, version_id)
        if version_id is None and self._due(key, max_age, force_fetch):
            # Joins a fetch already in flight for this key: still one API call.
            cache.refresh(name, stage)
            with self._lock:
                self._fetched[key] = self._clock()
        elif key not in self._fetched:
            with self._lock:
                self._fetched.setdefault(key, self._clock())
        if transform == "json":
            return cache.get_secret_json(name, stage, version_id=version_id)
        secret = cache.get_secret(name, stage, version_id=version_id)
        if transform is None:
            return secret.value
        try:
            # The value goes straight into the call: the SecretFormatError raised below
            # leaves this frame (its locals are what error trackers record) holding no value.
            return transform_value(secret.value, transform, raise_on_transform_error=True, key=name)
        except TransformParameterError:
            pass
        # Raised outside the except block, so not even ``__context__`` keeps Powertools'
        # error: it quotes the decoder's, and a JSONDecodeError holds the whole value.
        raise _compatible(
            SecretFormatError(
                f"the secret's value could not be transformed with {transform!r}",
                code="TransformFailed",
                secret_id=name,
                version_id=secret.version_id,
            )
        )

    def _due(
        self, key: tuple[str, str | None, str | None], max_age: float | None, force: bool
    ) -> bool:
        if force or max_age == 0:
            return True
        if max_age is None:
            return False
        fetched = self._fetched.get(key)
        return fetched is not None and self._clock() - fetched >= max_age

    def _get(self, name: str, **sdk_options: Any) -> str | bytes:
        """Return the raw value (what BaseProvider's own machinery would call)."""
        return self.get(name, **sdk_options)  # type: ignore[no-any-return]

    def _get_multiple(self, path: str, **sdk_options: Any) -> dict[str, str]:
        raise NotImplementedError(
            "Secrets Manager has no paths: call get() per secret, or SecretCache.prefetch()"
        )

    def set(self, name: str, value: Any, *, overwrite: bool = False, **kwargs: Any) -> Any:
        """Refuse: this provider only reads (write with boto3, then ``refresh()``)."""
        raise NotImplementedError("SecretCacheProvider is read-only")

    def clear_cache(self) -> None:
        """Forget every secret this provider has read (Powertools' clear_caches() calls this)."""
        with self._lock:
            names = {key[0] for key in self._fetched}
            self._fetched.clear()
        for name in names:
            self.cache.invalidate(name)


def _version_options(sdk_options: dict[str, Any]) -> tuple[str, str | None]:
    unknown = set(sdk_options) - {"VersionStage", "VersionId"}
    if unknown:
        raise TypeError(
            f"unsupported GetSecretValue options {sorted(unknown)}: only VersionStage and"
            " VersionId are honoured"
        )
    version_id = sdk_options.get("VersionId")
    stage = sdk_options.get("VersionStage")
    if version_id is not None:
        if stage is not None:
            raise TypeError("pass VersionStage or VersionId, not both")
        return AWSCURRENT, check_version_id(version_id)
    return (AWSCURRENT if stage is None else check_stage(stage)), None


_COMPATIBLE: dict[type[SecretCacheError], type[SecretCacheError]] = {}
_COMPATIBLE_LOCK = ForkSafeLock()


def _compatible(exc: SecretCacheError) -> SecretCacheError:
    """Return ``exc`` as a class that is also Powertools' GetParameterError (or Transform...)."""
    cls = type(exc)
    if isinstance(exc, (GetParameterError, TransformParameterError)):
        return exc
    with _COMPATIBLE_LOCK:
        mixed = _COMPATIBLE.get(cls)
        if mixed is None:
            extra = (
                TransformParameterError if isinstance(exc, SecretFormatError) else GetParameterError
            )
            mixed = type(cls.__name__, (cls, extra), {"__module__": cls.__module__})
            _COMPATIBLE[cls] = mixed
    clone = mixed.__new__(mixed)
    Exception.__init__(clone, *exc.args)
    clone.__dict__.update(exc.__dict__)
    return clone


# -- a get_secret() like Powertools' own ---------------------------------------------

_provider: SecretCacheProvider | None = None
_provider_lock = ForkSafeLock()


def _default_provider() -> SecretCacheProvider:
    global _provider
    with _provider_lock:
        if _provider is None:
            _provider = SecretCacheProvider()
        return _provider


@overload
def get_secret(
    name: str,
    transform: None = None,
    force_fetch: bool = False,
    max_age: float | None = None,
    **sdk_options: Any,
) -> str | bytes: ...


@overload
def get_secret(
    name: str,
    transform: Literal["json", "binary", "auto"],
    force_fetch: bool = False,
    max_age: float | None = None,
    **sdk_options: Any,
) -> Any: ...


def get_secret(
    name: str,
    transform: Transform = None,
    force_fetch: bool = False,
    max_age: float | None = None,
    **sdk_options: Any,
) -> Any:
    """Read a secret like ``aws_lambda_powertools.utilities.parameters.get_secret``.

    Same arguments, through ``secretcache.default_cache()``: change the import to
    switch. ``VersionStage``/``VersionId`` keyword arguments select the version.
    """
    return _default_provider().get(
        name, max_age=max_age, transform=transform, force_fetch=force_fetch, **sdk_options
    )


# -- metrics -------------------------------------------------------------------------

_COUNTERS = (
    ("hits", "Hits"),
    ("misses", "Misses"),
    ("refreshes", "Refreshes"),
    ("rotations", "Rotations"),
    ("stale_served", "StaleServed"),
    ("errors", "Errors"),
)
_last: weakref.WeakKeyDictionary[SecretCache, CacheStats] = weakref.WeakKeyDictionary()
_last_lock = ForkSafeLock()


def publish_stats(
    metrics: Metrics, cache: SecretCache | None = None, *, prefix: str = "SecretCache"
) -> dict[str, float]:
    """Add what changed in ``cache.stats()`` since the last call to ``metrics``; return it.

    Counters (``<prefix>Hits``, ``Misses``, ``Refreshes``, ``Rotations``,
    ``StaleServed``, ``Errors``) are always added, zero included, so a dashboard
    tells "no misses" from "no data"; ``<prefix>ApiCalls`` with one
    ``<prefix>ApiCalls.<Operation>`` per AWS operation that was called;
    ``<prefix>Size`` is the number of entries now. The first call publishes
    everything since the cache was built. Call it once per invocation, before
    Powertools flushes (inside a ``@metrics.log_metrics`` handler).
    """
    cache = default_cache() if cache is None else cache
    with _last_lock:
        now = cache.stats()
        before = _last.get(cache)
        _last[cache] = now
    deltas: dict[str, float] = {}
    for attribute, suffix in _COUNTERS:
        deltas[f"{prefix}{suffix}"] = getattr(now, attribute) - (
            getattr(before, attribute) if before is not None else 0
        )
    api_total = 0
    for operation, count in sorted(now.api_calls.items()):
        delta = count - (before.api_calls.get(operation, 0) if before is not None else 0)
        api_total += delta
        if delta:
            deltas[f"{prefix}ApiCalls.{operation}"] = delta
    deltas[f"{prefix}ApiCalls"] = api_total
    for name, value in deltas.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    metrics.add_metric(name=f"{prefix}Size", unit=MetricUnit.Count, value=now.size)
    deltas[f"{prefix}Size"] = now.size
    return deltas
