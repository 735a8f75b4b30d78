"""Cache keys and the rotation callback's type, shared by the core and both caches."""

from __future__ import annotations

from collections.abc import Callable

from .models import RotationEvent

__all__ = ["Key", "RotationCallback", "make_key"]

RotationCallback = Callable[[RotationEvent], object]
# (secret_id, version_stage, version_id): exactly one of the last two is None, so a
# stage label and a VersionId can never collide, and AWSPREVIOUS never answers for
# AWSCURRENT.
Key = tuple[str, "str | None", "str | None"]


def make_key(secret_id: str, version_stage: str, version_id: str | None) -> Key:
    """Return the cache key for a stage, or for a VersionId when one is given."""
    return (secret_id, version_stage, None) if version_id is None else (secret_id, None, version_id)
