"""Errors that are botocore's and secretcache's at once.

aws-secretsmanager-caching raises whatever botocore raised: ``except ClientError``,
``except client.exceptions.ResourceNotFoundException`` or ``except
EndpointConnectionError`` are how its users catch failures. The compat cache raises
an error whose class derives from both the secretcache class the error maps to (so the
store can tell a transient failure from a revocation, and ``except
secretcache.SecretNotFoundError`` works too) and the class botocore raised, with the
same ``args``, ``response`` and ``operation_name``.

botocore builds the modelled exception classes per session at run time, so the combined
classes are built on demand and memoized (a bounded table: a process that builds
clients from new sessions gets new classes each time). They still pickle: like
botocore's own ``ClientError.__reduce__``, an unpicklable botocore class degrades to its
nearest importable base. ``copy.copy`` keeps the exact class (the store re-raises
copies of a remembered error).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from .._core.forksafe import ForkSafeLock

if TYPE_CHECKING:
    from ..exceptions import SecretCacheError

__all__ = ["combine"]

# Enough for every botocore error type of a few sessions; past it, start afresh.
_MAX_CLASSES = 256
_classes: dict[tuple[type[SecretCacheError], type[Exception]], type[SecretCacheError]] = {}
_lock = ForkSafeLock()


def combine(mapped: SecretCacheError, original: Exception) -> SecretCacheError:
    """Return ``mapped`` as an instance of both its class and ``original``'s class."""
    cls = _combined_class(type(mapped), type(original))
    return _build(cls, original.args, {**vars(original), **vars(mapped)})


def _combined_class(
    mapped: type[SecretCacheError], origin: type[Exception]
) -> type[SecretCacheError]:
    key = (mapped, origin)
    with _lock:
        cls = _classes.get(key)
        if cls is None:
            if len(_classes) >= _MAX_CLASSES:
                _classes.clear()
            namespace = {
                "__module__": __name__,
                "__qualname__": origin.__name__,
                "__doc__": f"{origin.__name__} raised through secretcache.compat "
                f"(also a secretcache {mapped.__name__}).",
                # botocore's text, as the official package shows it.
                "__str__": origin.__str__,
                "__copy__": _copy,
                "__reduce__": _reduce,
                "_secretcache_bases": (mapped, origin),
            }
            cls = type(origin.__name__, (mapped, origin), namespace)
            _classes[key] = cls
    return cls


def _build(
    cls: type[SecretCacheError], args: tuple[Any, ...], state: dict[str, Any]
) -> SecretCacheError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


def _copy(self: SecretCacheError) -> SecretCacheError:
    return _build(type(self), self.args, dict(vars(self)))


def _reduce(self: SecretCacheError) -> tuple[Any, ...]:
    mapped, origin = type(self)._secretcache_bases  # type: ignore[attr-defined]
    return (_rebuild, (mapped, _importable(origin), self.args, dict(vars(self))))


def _rebuild(
    mapped: type[SecretCacheError],
    origin: type[Exception],
    args: tuple[Any, ...],
    state: dict[str, Any],
) -> SecretCacheError:
    return _build(_combined_class(mapped, origin), args, state)


def _importable(cls: type[Exception]) -> type[Exception]:
    """Return ``cls`` or its nearest base that pickle can find by name."""
    for klass in cls.__mro__:
        module = sys.modules.get(klass.__module__)
        if module is not None and getattr(module, klass.__qualname__, None) is klass:
            return klass  # type: ignore[no-any-return]
    return Exception
