"""inject_secret: pass a secret to a function by keyword, resolved at every call.

The secret is read when the function is called (never at import), through the cache,
so a rotation is picked up without a redeploy. An argument the caller passes
explicitly (positionally or by keyword) wins and costs no API call. With
``refresh_on``, an exception of those types (a database login that failed with a
rotated password) triggers one retry with a newer version, if there is one;
otherwise the original exception propagates unchanged.

``async def`` functions get a coroutine wrapper. With a synchronous cache (the
default) a fresh hit is served on the event loop and only a load goes to a worker
thread; with an ``AsyncSecretCache`` (recognised by its ``get_secret`` being a
coroutine function, so this module never imports the aio extra) every read is
awaited.
"""

from __future__ import annotations

import functools
import inspect
import logging
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, Protocol, TypeVar, cast

from ._cache import SecretCache, default_cache
from ._core import parse as _parse
from ._core.models import AWSCURRENT, Secret
from ._core.validate import check_secret_id, check_stage
from .exceptions import SecretCacheError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

__all__ = ["AsyncSecretReader", "SecretReader", "inject_secret"]

log = logging.getLogger("secretcache")

P = ParamSpec("P")
R = TypeVar("R")
Transform = Literal["string", "json", "binary"]


class SecretReader(Protocol):
    """What inject_secret needs from a synchronous cache (``SecretCache`` has it)."""

    def get_secret(self, secret_id: str, version_stage: str = ...) -> Secret: ...

    def rotation_candidate(self, secret_id: str, failed_version_id: str) -> Secret | None: ...


class AsyncSecretReader(Protocol):
    """What inject_secret needs from an asynchronous cache (``AsyncSecretCache`` has it)."""

    async def get_secret(self, secret_id: str, version_stage: str = ...) -> Secret: ...

    async def rotation_candidate(self, secret_id: str, failed_version_id: str) -> Secret | None: ...


class _Injector:
    """Everything the wrappers need, worked out once at decoration time."""

    def __init__(
        self,
        func: Callable[..., Any],
        secret_id: str,
        targets: Mapping[str, str | None],
        transform: Transform,
        version_stage: str,
        cache: SecretReader | AsyncSecretReader | None,
        refresh_on: tuple[type[BaseException], ...],
    ) -> None:
        self.secret_id = secret_id
        self.targets = targets  # parameter -> JSON field (None: the whole value)
        self.transform = transform
        self.version_stage = version_stage
        self.cache = cache
        self.refresh_on = refresh_on
        self.positions = _positions(func, tuple(targets))
        self.needs_json = transform == "json" or any(f is not None for f in targets.values())
        # (version_id, parsed JSON): parse once per version, copy per call.
        self._parsed: tuple[str, Any] | None = None

    def missing(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> list[str]:
        """Return the target parameters the caller did not pass explicitly."""
        return [
            name
            for name in self.targets
            if name not in kwargs and self.positions[name] >= len(args)
        ]

    def reader(self) -> Any:
        """Return the cache to read from (the default cache is built on first use)."""
        return default_cache() if self.cache is None else self.cache

    def values(self, secret: Secret, names: list[str]) -> dict[str, Any]:
        """Compute each missing argument from one version of the secret."""
        parsed = self._json(secret) if self.needs_json else None
        out: dict[str, Any] = {}
        try:
            for name in names:
                field = self.targets[name]
                if field is not None:
                    # A copy: what one call mutates, the next call does not see.
                    out[name] = _parse.copy_json(secret, _parse.field_of(secret, parsed, field))
                elif self.transform == "json":
                    out[name] = _parse.copy_json(secret, parsed)
                elif self.transform == "binary":
                    out[name] = _parse.as_binary(secret)
                else:
                    out[name] = _parse.as_string(secret)
        except BaseException:
            # A missing field, say: error trackers record this frame's locals with the
            # traceback, so neither the document nor the values computed so far stay.
            del parsed, out
            raise
        return out

    def _json(self, secret: Secret) -> Any:
        memo = self._parsed
        if memo is not None and memo[0] == secret.version_id:
            return memo[1]
        del memo  # an older version's JSON: not in our locals if this one fails to parse
        parsed = _parse.parse_json(secret)
        self._parsed = (secret.version_id, parsed)
        return parsed

    # -- the two reads, sync and async ------------------------------------------------
    def get(self, cache: SecretReader) -> Secret:
        return cache.get_secret(self.secret_id, self.version_stage)

    def candidate(self, cache: SecretReader, failed: Secret) -> Secret | None:
        try:
            return cache.rotation_candidate(self.secret_id, failed.version_id)
        except SecretCacheError as exc:
            self._lookup_failed(exc)
            return None

    async def aget(self, cache: Any) -> Secret:
        if inspect.iscoroutinefunction(cache.get_secret):
            return cast("Secret", await cache.get_secret(self.secret_id, self.version_stage))
        if isinstance(cache, SecretCache):
            # A fresh hit never blocks: serve it on the event loop, counted as a hit.
            entry = cache._store.lookup((self.secret_id, self.version_stage, None))
            if entry is not None:
                return entry.value
        # A load does blocking I/O: keep it off the event loop.
        import asyncio  # only async callers pay for importing asyncio

        return await asyncio.to_thread(self.get, cache)

    async def acandidate(self, cache: Any, failed: Secret) -> Secret | None:
        import asyncio

        try:
            if inspect.iscoroutinefunction(cache.rotation_candidate):
                found = await cache.rotation_candidate(self.secret_id, failed.version_id)
                return cast("Secret | None", found)
            found = await asyncio.to_thread(
                cache.rotation_candidate, self.secret_id, failed.version_id
            )
            return cast("Secret | None", found)
        except SecretCacheError as exc:
            self._lookup_failed(exc)
            return None

    def _lookup_failed(self, exc: SecretCacheError) -> None:
        # The caller's own exception is the one to see; this only explains the no-retry.
        log.warning(
            "inject_secret: could not look for a rotated version of %s (%s: %s);"
            " re-raising the original error",
            self.secret_id,
            type(exc).__name__,
            exc,
        )


def _positions(func: Callable[..., Any], names: tuple[str, ...]) -> dict[str, int]:
    """Map each target to its positional index (a huge number if keyword-only)."""
    signature = inspect.signature(func)
    params = list(signature.parameters.values())
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params)
    positions: dict[str, int] = {}
    where = getattr(func, "__qualname__", repr(func))
    for name in names:
        param = signature.parameters.get(name)
        if param is None:
            if not takes_kwargs:
                raise TypeError(f"inject_secret: {where}() has no parameter {name!r} to inject")
            positions[name] = 1 << 30
        elif param.kind is param.POSITIONAL_ONLY:
            raise TypeError(
                f"inject_secret: parameter {name!r} of {where}() is positional-only;"
                " secrets are injected by keyword"
            )
        elif param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"inject_secret: cannot inject into *{name} or **{name}")
        elif param.kind is param.KEYWORD_ONLY:
            positions[name] = 1 << 30
        else:
            positions[name] = params.index(param)
    return positions


def _targets(
    into: str | None, field: str | None, fields: Mapping[str, str] | None, transform: str
) -> dict[str, str | None]:
    if transform not in ("string", "json", "binary"):
        raise ValueError(f"transform must be 'string', 'json' or 'binary', not {transform!r}")
    if fields is not None:
        if into is not None or field is not None:
            raise TypeError("inject_secret: pass fields= alone, or into= (with field=)")
        if not fields or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in fields.items()
        ):
            raise TypeError("inject_secret: fields must map parameter names to JSON field names")
        if transform == "binary":
            raise TypeError("inject_secret: fields= reads JSON; it cannot be transform='binary'")
        return dict(fields)
    if into is None:
        raise TypeError("inject_secret: say where the secret goes with into= or fields=")
    if not isinstance(into, str):
        raise TypeError("inject_secret: into must be a parameter name")
    if field is not None:
        if not isinstance(field, str):
            raise TypeError("inject_secret: field must be a str")
        if transform == "binary":
            raise TypeError("inject_secret: field= reads JSON; it cannot be transform='binary'")
    return {into: field}


def inject_secret(
    secret_id: str,
    *,
    into: str | None = None,
    field: str | None = None,
    fields: Mapping[str, str] | None = None,
    transform: Transform = "string",
    version_stage: str = AWSCURRENT,
    cache: SecretReader | AsyncSecretReader | None = None,
    refresh_on: type[BaseException] | tuple[type[BaseException], ...] = (),
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Inject a secret into a function's keyword argument(s) at call time.

    ``into="creds", transform="json"`` passes the parsed JSON (a fresh copy per call);
    ``into="pw", field="password"`` one field of it; ``fields={"user": "username"}``
    several; ``transform="binary"`` the SecretBinary. An argument the caller passes
    wins and costs no API call. With ``cache=None`` the process-wide
    ``default_cache()`` is used, built on the first call. ``refresh_on``: exception
    types on which to retry once with ``cache.rotation_candidate()``'s version.

    Give injected parameters a default (``password: str = ""``) so type checkers
    accept calls that leave them out: the wrapper keeps the function's signature.
    """
    if callable(secret_id):
        raise TypeError(
            "inject_secret takes the secret id and where to put it:"
            ' @inject_secret("prod/db", into="password"), not a bare @inject_secret'
        )
    check_secret_id(secret_id)
    check_stage(version_stage)
    targets = _targets(into, field, fields, transform)
    if isinstance(refresh_on, type):
        refresh_on = (refresh_on,)
    if not isinstance(refresh_on, tuple) or not all(
        isinstance(t, type) and issubclass(t, BaseException) for t in refresh_on
    ):
        raise TypeError("inject_secret: refresh_on must be a tuple of exception types")
    if cache is not None and not callable(getattr(cache, "get_secret", None)):
        raise TypeError("inject_secret: cache must be a SecretCache or an AsyncSecretCache")
    is_async_cache = cache is not None and inspect.iscoroutinefunction(cache.get_secret)

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        if isinstance(func, (classmethod, staticmethod)):
            kind = type(func).__name__
            raise TypeError(
                f"inject_secret wraps the function itself: put @{kind} above"
                f" @inject_secret(...), not below it"
            )
        if not callable(func):
            raise TypeError("inject_secret decorates a function")
        injector = _Injector(func, secret_id, targets, transform, version_stage, cache, refresh_on)
        wrapper: Callable[..., Any]
        if inspect.iscoroutinefunction(func):
            wrapper = _async_wrapper(func, injector)
        elif is_async_cache:
            raise TypeError(
                f"inject_secret: {func.__qualname__}() is not a coroutine function;"
                " an async cache can only inject into `async def` functions"
            )
        elif refresh_on and (inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func)):
            raise TypeError("inject_secret: refresh_on cannot retry a generator function")
        else:
            wrapper = _sync_wrapper(func, injector)
        functools.update_wrapper(wrapper, func)
        # Inspectable, like cachetools' wrappers.
        vars(wrapper).update(
            secret_id=secret_id,
            version_stage=version_stage,
            injected=tuple(targets),
            secret_cache=cache,
        )
        return cast("Callable[P, R]", wrapper)

    return decorate


def _sync_wrapper(func: Callable[..., R], injector: _Injector) -> Callable[..., R]:
    def wrapper(*args: Any, **kwargs: Any) -> R:
        names = injector.missing(args, kwargs)
        if not names:
            return func(*args, **kwargs)
        cache = injector.reader()
        secret = injector.get(cache)
        # Computed before the try: a missing field is not a reason to look for a rotation.
        values = injector.values(secret, names)
        try:
            return func(*args, **kwargs, **values)
        except injector.refresh_on:
            candidate = injector.candidate(cache, secret)
            if candidate is None:
                raise
        finally:
            # Error trackers record this frame's locals with whatever func raised: the
            # secrets stay in func's own frame, not in ours.
            del values
        # Outside the except block: a second failure is not chained to the first.
        return func(*args, **kwargs, **injector.values(candidate, names))

    return wrapper


def _async_wrapper(
    func: Callable[..., Awaitable[R]], injector: _Injector
) -> Callable[..., Awaitable[R]]:
    async def wrapper(*args: Any, **kwargs: Any) -> R:
        names = injector.missing(args, kwargs)
        if not names:
            return await func(*args, **kwargs)
        cache = injector.reader()
        secret = await injector.aget(cache)
        values = injector.values(secret, names)
        try:
            return await func(*args, **kwargs, **values)
        except injector.refresh_on:
            candidate = await injector.acandidate(cache, secret)
            if candidate is None:
                raise
        finally:
            del values  # as in the sync wrapper: not in this frame's recorded locals
        return await func(*args, **kwargs, **injector.values(candidate, names))

    return wrapper
