"""What the compat cache keeps: a secret's stage map, and each version's value.

Without a hook both are kept pre-digested (stage -> VersionId; the two value fields),
so a hit is two dict probes. With a ``SecretCacheHook`` the cache keeps whatever
``hook.put`` returned for the whole response, and reads it back through ``hook.get``
on every read, as aws-secretsmanager-caching does.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .cache.secret_cache_hook import SecretCacheHook

__all__ = ["Described", "Version", "describe_record", "version_record"]

_NO_STAGES: Mapping[str, str] = MappingProxyType({})


def _stage_map(response: Any) -> Mapping[str, str]:
    """Return stage -> VersionId from a DescribeSecret response (first version wins)."""
    versions = response.get("VersionIdsToStages") if response else None
    if not versions:
        return _NO_STAGES
    stages: dict[str, str] = {}
    for version_id, labels in versions.items():
        for label in labels:
            stages.setdefault(label, version_id)
    return stages


class Described:
    """A DescribeSecret answer: the stage map (or the hook's form of it), and deletion."""

    __slots__ = ("deleted", "stages", "stored")

    def __init__(self, stages: Mapping[str, str] | None, stored: Any, deleted: bool) -> None:
        self.stages = stages  # None when a hook holds the response
        self.stored = stored
        self.deleted = deleted

    def version_id(self, stage: str, hook: SecretCacheHook | None) -> str | None:
        """Return the VersionId carrying ``stage``, or None."""
        if self.stages is not None:
            return self.stages.get(stage)
        assert hook is not None
        return _stage_map(hook.get(self.stored)).get(stage)


class Version:
    """One version's GetSecretValue answer: its two value fields, or the hook's form."""

    __slots__ = ("binary", "stored", "string")

    def __init__(self, string: str | None, binary: bytes | None, stored: Any) -> None:
        self.string = string
        self.binary = binary
        self.stored = stored

    def field(self, name: str, hook: SecretCacheHook | None) -> Any:
        """Return ``SecretString`` or ``SecretBinary`` (None when the version has none)."""
        if hook is None:
            return self.string if name == "SecretString" else self.binary
        return _field(hook.get(self.stored), name)

    def __repr__(self) -> str:
        return "Version(<redacted>)"


def describe_record(response: Any, hook: SecretCacheHook | None) -> Described:
    """Digest a DescribeSecret response (or hand it to the hook whole)."""
    deleted = response.get("DeletedDate") is not None
    if hook is not None:
        return Described(None, hook.put(response), deleted)
    return Described(_stage_map(response), None, deleted)


def version_record(response: Any, hook: SecretCacheHook | None) -> Version:
    """Digest a GetSecretValue response (or hand it to the hook whole)."""
    if hook is not None:
        try:
            return Version(None, None, hook.put(response))
        except BaseException:
            # The user's hook failed: its frame holds the response; ours (recorded by
            # error trackers with the traceback) must not.
            del response
            raise
    return Version(response.get("SecretString"), response.get("SecretBinary"), None)


def _field(response: Any, name: str) -> Any:
    """Return ``response[name]`` from what a hook's ``get`` rebuilt (None if absent)."""
    try:
        return response.get(name) if response else None
    except BaseException:
        del response  # not a mapping after all: raise without its value in our locals
        raise
