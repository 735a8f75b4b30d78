"""inject_secret: pass a secret to a function by keyword, resolved at every call.

The secret is read when the function is called (never at import), through the cache,
so a rotation is picked up without a redeploy. An argument the caller passes
explicitly wins and costs no API call. With ``refresh_on``, an exception of those
types (a database login that failed with a rotated password) triggers one retry
with a newer version, if there is one; otherwise the original exception propagates
unchanged.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, Protocol, TypeVar, cast

from . import _parse
from ._models import AWSCURRENT, Secret
from ._validate import check_secret_id, check_stage

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from ._cache import SecretCache

__all__ = ["InjectedFunction", "inject_secret"]

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co")
Transform = Literal["string", "json", "binary"]


class InjectedFunction(Protocol[P, R_co]):
    """A function wrapped by ``inject_secret``: callable as before, and inspectable."""

    secret_id: str
    version_stage: str
    injected: tuple[str, ...]
    #: The cache given to inject_secret; None means ``default_cache()`` at call time.
    secret_cache: SecretCache | None
    __wrapped__: Callable[P, R_co]

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co: ...


class _Injector:
    """Everything the wrappers need, worked out once at decoration time."""

    def __init__(
        self,
        func: Callable[..., Any],
        secret_id: str,
        targets: Mapping[str, str | None],
        transform: Transform,
        version_stage: str,
        cache: SecretCache | None,
        refresh_on: tuple[type[BaseException], ...],
    ) -> None:
        self.secret_id = secret_id
        self.targets = targets  # parameter -> JSON field (None: the whole value)
        self.transform = transform
        self.version_stage = version_stage
        self._cache = cache
        self.refresh_on = refresh_on
        self.positions = _positions(func, tuple(targets))

    @property
    def cache(self) -> SecretCache:
        if self._cache is None:
            from ._cache import default_cache

            return default_cache()
        return self._cache

    def missing(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> list[str]:
        """Return the target parameters the caller did not pass explicitly."""
        return [
            name
            for name in self.targets
            if name not in kwargs and not (self.positions[name] < len(args))
        ]

    def values(self, cache: SecretCache, names: list[str]) -> tuple[Secret, dict[str, Any]]:
        """Read the secret through the cache and compute each missing argument."""
        entry = cache._entry(self.secret_id, self.version_stage, None)
        parsed_of = functools.partial(cache._parsed, entry)
        return entry.value, self._compute(entry.value, names, parsed_of)

    def cached_values(
        self, cache: SecretCache, names: list[str]
    ) -> tuple[Secret, dict[str, Any]] | None:
        """Like values(), but only from a fresh entry: never does I/O; None on a miss."""
        entry = cache._store.lookup((self.secret_id, self.version_stage, None))
        if entry is None:
            return None
        parsed_of = functools.partial(cache._parsed, entry)
        return entry.value, self._compute(entry.value, names, parsed_of)

    def values_of(self, secret: Secret, names: list[str]) -> dict[str, Any]:
        """Compute each missing argument from a given version (a rotation candidate)."""
        return self._compute(secret, names, functools.partial(_parse.parse_json, secret))

    def _compute(
        self, secret: Secret, names: list[str], parsed_of: Callable[[], Any]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in names:
            field = self.targets[name]
            if field is not None:
                out[name] = _parse.copy_json(_parse.field_of(secret, parsed_of(), field))
            elif self.transform == "json":
                out[name] = _parse.copy_json(parsed_of())
            elif self.transform == "binary":
                out[name] = _parse.as_binary(secret)
            else:
                out[name] = _parse.as_string(secret)
        return out


def _positions(func: Callable[..., Any], names: tuple[str, ...]) -> dict[str, int]:
    """Map each target to its positional index (a huge number if keyword-only)."""
    signature = inspect.signature(func)
    params = list(signature.parameters.values())
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params)
    positions: dict[str, int] = {}
    for name in names:
        param = signature.parameters.get(name)
        if param is None:
            if not takes_kwargs:
                raise TypeError(
                    f"inject_secret: {func.__qualname__}() has no parameter {name!r} to inject"
                )
            positions[name] = 1 << 30
        elif param.kind is param.POSITIONAL_ONLY:
            raise TypeError(
                f"inject_secret: parameter {name!r} of {func.__qualname__}() is positional-only;"
                " secrets are injected by keyword"
            )
        elif param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"inject_secret: cannot inject into *{name} or **{name}")
        elif param.kind is param.KEYWORD_ONLY:
            positions[name] = 1 << 30
        else:
            positions[name] = params.index(param)
    return positions


def inject_secret(
    secret_id: str,
    *,
    into: str | None = None,
    field: str | None = None,
    fields: Mapping[str, str] | None = None,
    transform: Transform = "string",
    version_stage: str = AWSCURRENT,
    cache: SecretCache | None = None,
    refresh_on: tuple[type[BaseException], ...] = (),
) -> Callable[[Callable[P, R]], InjectedFunction[P, R]]:
    """Inject a secret into a function's keyword argument(s) at call time.

    ``into="creds", transform="json"`` passes the parsed JSON; ``into="pw",
    field="password"`` one field; ``fields={"user": "username"}`` several. With
    ``cache=None`` the process-wide ``default_cache()`` is used.
    """
    check_secret_id(secret_id)
    check_stage(version_stage)
    if transform not in ("string", "json", "binary"):
        raise ValueError(f"transform must be 'string', 'json' or 'binary', not {transform!r}")
    targets: dict[str, str | None]
    if fields is not None:
        if into is not None or field is not None:
            raise TypeError("inject_secret: pass fields= alone, or into= (with field=)")
        if not fields or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in fields.items()
        ):
            raise TypeError("inject_secret: fields must map parameter names to JSON field names")
        targets = dict(fields)
    elif into is not None:
        if not isinstance(into, str):
            raise TypeError("inject_secret: into must be a parameter name")
        if field is not None and not isinstance(field, str):
            raise TypeError("inject_secret: field must be a str")
        targets = {into: field}
    else:
        raise TypeError("inject_secret: say where the secret goes with into= or fields=")
    if not isinstance(refresh_on, tuple) or not all(
        isinstance(t, type) and issubclass(t, BaseException) for t in refresh_on
    ):
        raise TypeError("inject_secret: refresh_on must be a tuple of exception types")

    def decorate(func: Callable[P, R]) -> InjectedFunction[P, R]:
        injector = _Injector(func, secret_id, targets, transform, version_stage, cache, refresh_on)
        wrapper: Callable[..., Any]
        if inspect.iscoroutinefunction(func):
            wrapper = _async_wrapper(func, injector)
        else:
            wrapper = _sync_wrapper(cast("Callable[..., R]", func), injector)
        functools.update_wrapper(wrapper, func)
        # Inspectable, like cachetools' wrappers (the InjectedFunction protocol).
        vars(wrapper).update(
            secret_id=secret_id,
            version_stage=version_stage,
            injected=tuple(targets),
            secret_cache=cache,
        )
        return cast("InjectedFunction[P, R]", wrapper)

    return decorate


def _sync_wrapper(func: Callable[..., R], injector: _Injector) -> Callable[..., R]:
    def wrapper(*args: Any, **kwargs: Any) -> R:
        names = injector.missing(args, kwargs)
        if not names:
            return func(*args, **kwargs)
        cache = injector.cache
        secret, values = injector.values(cache, names)
        try:
            return func(*args, **kwargs, **values)
        except injector.refresh_on:
            candidate = cache.rotation_candidate(injector.secret_id, secret.version_id)
            if candidate is None:
                raise
        return func(*args, **kwargs, **injector.values_of(candidate, names))

    return wrapper


def _async_wrapper(
    func: Callable[..., Awaitable[R]], injector: _Injector
) -> Callable[..., Awaitable[R]]:
    async def wrapper(*args: Any, **kwargs: Any) -> R:
        names = injector.missing(args, kwargs)
        if not names:
            return await func(*args, **kwargs)
        cache = injector.cache
        # A miss does blocking I/O: keep it off the event loop (a hit stays on it).
        found = injector.cached_values(cache, names)
        if found is None:
            found = await asyncio.to_thread(injector.values, cache, names)
        secret, values = found
        try:
            return await func(*args, **kwargs, **values)
        except injector.refresh_on:
            candidate = await asyncio.to_thread(
                cache.rotation_candidate, injector.secret_id, secret.version_id
            )
            if candidate is None:
                raise
        return await func(*args, **kwargs, **injector.values_of(candidate, names))

    return wrapper
