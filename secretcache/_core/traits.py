"""What a cache learns from its source's class: what it can ask, and whose answers lag.

Sources say it with class attributes, checked without importing them: the Lambda
extension's source (``_sources.extension``) has ``describes = False`` (no DescribeSecret:
``revalidate="describe"`` is refused), ``batches = False`` (prefetch reads id by id) and
a ``lags(answer, held)`` rule (an answer from its own cache older than a version read
past it). Through a FailoverSource, its primary's traits count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from .models import Secret

    Lags = Callable[[Secret, Secret], bool]

__all__ = ["source_traits"]


def source_traits(source: Any, lags: Lags | None, revalidate: str) -> tuple[Lags | None, bool]:
    """Return (the cache's lag rule, whether it may batch); ValueError for describe mode."""
    primary = getattr(source, "sources", (source,))[0]
    kind = type(primary)
    if revalidate == "describe" and not getattr(kind, "describes", True):
        raise ValueError(
            f'revalidate="describe" needs DescribeSecret, which {kind.__name__} cannot ask '
            "(the Lambda extension and the Secrets Manager Agent serve GetSecretValue only): "
            'use revalidate="get", which detects rotations by the VersionId of each read'
        )
    own = getattr(primary, "lags", None)
    if own is not None and lags is not None:
        first, second = lags, own
        lags = lambda answer, held: first(answer, held) or second(answer, held)  # noqa: E731
    elif own is not None:
        lags = own
    return lags, bool(getattr(kind, "batches", True))
