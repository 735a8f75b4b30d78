"""live_settings: a settings model that follows its secrets' rotations without a restart.

``get()`` asks the cache, for each secret the current model was built from, which
VersionId it serves now: a fresh hit per secret (no API call, no lock) until the TTL
ends, then the cache's usual single revalidation. While the VersionIds are the ones the
model was built from, ``get()`` returns that same model object. When one changes, one
caller rebuilds the model (the cache already holds the new value, so the rebuild makes
no API call of its own) while the others keep getting the current model; a new version
the model refuses keeps the last good model and goes to ``on_error`` once, as a typed
error that shows no value.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Generic, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsError

from ..._cache import SecretCache, default_cache
from ..._core import forksafe as _forksafe
from ..._core.entries import detached
from ..._core.validate import check_callable
from ...exceptions import SecretFormatError
from ._errors import from_settings_error, from_validation_error
from ._reads import build_client, check_cache, recording

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._reads import Dependency

__all__ = ["LiveSettings", "live_settings"]

log = logging.getLogger("secretcache")

S = TypeVar("S", bound=BaseSettings)


@dataclass(frozen=True)
class _State(Generic[S]):
    """A built model and the VersionIds it was built from (repr without the model)."""

    model: S
    deps: tuple[Dependency, ...]
    versions: tuple[str, ...]
    #: The VersionIds of a rebuild the model refused: not tried again until they change.
    rejected: tuple[str, ...] | None = None

    def __repr__(self) -> str:  # error trackers record frame locals: never the model
        return f"_State({type(self.model).__name__}, versions={self.versions!r})"


class LiveSettings(Generic[S]):
    """The current model of a settings class, rebuilt once when a backing secret rotates.

    Build it with ``live_settings(Settings, cache=..., on_error=...)``. Sources that name
    no cache of their own read through ``cache`` (``secretcache.default_cache()`` when
    None); a source that names ``region_name`` or ``endpoint_url`` instead gets a cache
    of its own, built once here on a client for that place.
    """

    def __init__(
        self,
        settings_cls: type[S],
        *,
        cache: SecretCache | None = None,
        on_error: Callable[[SecretFormatError], object] | None = None,
    ) -> None:
        if not (isinstance(settings_cls, type) and issubclass(settings_cls, BaseSettings)):
            raise TypeError(
                "live_settings needs a pydantic_settings.BaseSettings subclass,"
                f" not {settings_cls!r}"
            )
        self._settings_cls = settings_cls
        self._cache = check_cache(cache)
        self._on_error = None if on_error is None else check_callable("on_error", on_error)
        self._state: _State[S] | None = None
        self._lock = threading.Lock()  # held by the one caller that builds
        self._caches: dict[tuple[str | None, str | None], SecretCache] = {}
        self._caches_lock = threading.Lock()
        _forksafe.register(self)

    # -- reads ------------------------------------------------------------------------
    def get(self) -> S:
        """Return the current model: the same object until a backing secret rotates.

        The first call builds it (and raises ``SettingsValidationError`` or the read's
        typed error if it cannot). Later calls never raise for a new version the model
        refuses (that goes to ``on_error``); a read error the cache raises (access
        revoked, an outage beyond ``max_stale``) is raised.
        """
        state = self._state
        if state is None:
            return self._first().model
        current = tuple(dep.version_now() for dep in state.deps)
        if current != state.versions and current != state.rejected:
            state = self._reload(state, current)
        return state.model

    async def aget(self) -> S:
        """Return the current model from async code without blocking the event loop.

        While every backing secret is fresh in its cache the answer comes from memory,
        on the loop. Otherwise the check (and a rebuild, if a version changed) runs in
        a worker thread (``asyncio.to_thread``): the loop goes on serving other tasks,
        and other callers meanwhile get the current model.
        """
        state = self._state
        if state is not None:
            current = tuple(dep.fresh_version() for dep in state.deps)
            if current == state.versions or current == state.rejected:
                return state.model
        import asyncio  # only async callers pay for importing asyncio

        return await asyncio.to_thread(self.get)

    def close(self) -> None:
        """Close the caches this object built for sources naming a region or endpoint."""
        with self._caches_lock:
            caches, self._caches = list(self._caches.values()), {}
        for cache in caches:
            cache.close()

    # -- building ---------------------------------------------------------------------
    def _first(self) -> _State[S]:
        with self._lock:
            if self._state is None:
                built = self._build()
                if not isinstance(built, _State):
                    raise built  # outside any except block: no value in its context
                self._state = built
            return self._state

    def _reload(self, seen: _State[S], current: tuple[str, ...]) -> _State[S]:
        if not self._lock.acquire(blocking=False):
            return seen  # another caller is rebuilding: keep serving the current model
        try:
            latest = self._state
            if latest is not seen and latest is not None:
                return latest  # rebuilt between our look and our lock
            built = self._build()
            if isinstance(built, _State):
                self._state = built
                return built
            self._state = replace(seen, rejected=current)
        finally:
            self._lock.release()
        self._report(built)
        return self._state

    def _build(self) -> _State[S] | SecretFormatError:
        """Build the model, recording what it read; a refused value comes back typed."""
        name = self._settings_cls.__name__
        problem: SecretFormatError | None = None
        with recording(self._resolve) as build:
            try:
                model = self._settings_cls()
            except ValidationError as exc:
                problem = from_validation_error(name, exc)
            except SettingsError as exc:
                problem = from_settings_error(name, exc)
            except SecretFormatError as exc:  # not JSON, not an object, binary
                problem = detached(exc)
        if problem is not None:
            return problem
        deps = tuple(build.seen)
        return _State(model, deps, tuple(build.seen[dep] for dep in deps))

    def _report(self, problem: SecretFormatError) -> None:
        if self._on_error is None:
            log.warning(
                "secretcache: kept the last good %s: %s", self._settings_cls.__name__, problem
            )
            return
        try:
            self._on_error(problem)
        except Exception:
            log.exception("secretcache: on_error raised; the last good settings are kept")

    def _resolve(self, region_name: str | None, endpoint_url: str | None) -> SecretCache:
        """Return the cache for a source that names none (see the class docstring)."""
        if region_name is None and endpoint_url is None:
            return default_cache() if self._cache is None else self._cache
        where = (region_name, endpoint_url)
        with self._caches_lock:
            cache = self._caches.get(where)
            if cache is None:
                cache = SecretCache(client=build_client(region_name, endpoint_url))
                self._caches[where] = cache
            return cache

    def _after_fork_in_child(self) -> None:
        # A thread of the parent may have held a lock at the fork: it does not exist here.
        self._lock = threading.Lock()
        self._caches_lock = threading.Lock()

    def __repr__(self) -> str:
        state = self._state
        built = "not built" if state is None else f"{len(state.deps)} secrets"
        return f"LiveSettings({self._settings_cls.__name__}, {built})"


def live_settings(
    settings_cls: type[S],
    *,
    cache: SecretCache | None = None,
    on_error: Callable[[SecretFormatError], object] | None = None,
) -> LiveSettings[S]:
    """Return a ``LiveSettings`` whose ``get()`` follows the settings' secrets.

    Nothing is read until the first ``get()``/``aget()``. ``on_error(exc)`` is called
    once per refused new version with a ``SettingsValidationError`` (or the
    ``SecretFormatError`` of a value that is not a JSON object); without it the error
    is logged as a warning. Neither shows any part of a value.
    """
    return LiveSettings(settings_cls, cache=cache, on_error=on_error)
