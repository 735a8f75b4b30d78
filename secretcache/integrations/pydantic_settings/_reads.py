"""How the settings sources read a secret, and how one build records what it read.

A source reads through its own cache when it has one; inside a ``live_settings`` build
it reads through the cache the build names (so the build can later ask that cache
whether any version it used has changed); otherwise it reads once, with a client of
its own, as pydantic-settings' source does. Each read inside a build is recorded as a
``Dependency`` with the VersionId it returned.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..._cache import SecretCache
from ..._core import parse as _parse
from ..._core.base import Key, make_key
from ..._core.errors import mapping_errors
from ..._core.models import AWSCURRENT
from ..._core.validate import check_secret_id, check_version_id
from ..._sources.botocore import CLIENT_SETTINGS, BotocoreSource
from ...exceptions import SecretFormatError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from mypy_boto3_secretsmanager import SecretsManagerClient

    from ..._core.models import Secret

__all__ = [
    "Build",
    "Dependency",
    "build_client",
    "check_cache",
    "check_location",
    "check_secret",
    "json_object",
    "read",
]


@dataclass(frozen=True)
class Dependency:
    """One secret a build read: the cache it came through and the key it was read at."""

    cache: SecretCache
    key: Key

    def version_now(self) -> str:
        """Return the VersionId the cache serves for this key now (a hit when fresh)."""
        secret_id, stage, version_id = self.key
        return self.cache.get_secret(
            secret_id, stage or AWSCURRENT, version_id=version_id
        ).version_id

    def fresh_version(self) -> str | None:
        """Return the cached VersionId if the entry is fresh, else None; never does I/O."""
        entry = self.cache._store.lookup(self.key)
        return None if entry is None else entry.value.version_id


class Build:
    """What one construction of a settings model read, recorded as it happens."""

    def __init__(self, resolve: Callable[[str | None, str | None], SecretCache]) -> None:
        self.resolve = resolve
        #: Dependency -> the VersionId the read returned (pinned VersionIds are not kept:
        #: they cannot change).
        self.seen: dict[Dependency, str] = {}

    def __repr__(self) -> str:
        return f"Build(secrets={sorted(dep.key[0] for dep in self.seen)!r})"


_BUILD: ContextVar[Build | None] = ContextVar("secretcache_settings_build", default=None)


@contextlib.contextmanager
def recording(resolve: Callable[[str | None, str | None], SecretCache]) -> Iterator[Build]:
    """Record every read a source makes in this context (this thread or task)."""
    build = Build(resolve)
    token = _BUILD.set(build)
    try:
        yield build
    finally:
        _BUILD.reset(token)


def check_cache(cache: Any) -> SecretCache | None:
    """Return ``cache`` if it is None or a SecretCache; TypeError for anything else."""
    if cache is None or isinstance(cache, SecretCache):
        return cache
    if type(cache).__name__ == "AsyncSecretCache":
        raise TypeError(
            "pydantic-settings builds settings synchronously, so a settings source needs a"
            " SecretCache, not an AsyncSecretCache (async code: live_settings(...).aget()"
            " keeps reloads off the event loop)"
        )
    raise TypeError(f"cache must be a secretcache.SecretCache, not {type(cache).__name__}")


def check_location(cache: SecretCache | None, region_name: Any, endpoint_url: Any) -> None:
    """Refuse region_name/endpoint_url beside a cache (whose client has its own)."""
    for name, value in (("region_name", region_name), ("endpoint_url", endpoint_url)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name} must be a str or None, not {type(value).__name__}")
        if value is not None and cache is not None:
            raise TypeError(
                f"{name} is for the client a source builds without a cache; the cache's"
                " client has its own (build the SecretCache with that client instead)"
            )


def check_secret(secret_id: Any, version_id: Any) -> tuple[str, str | None]:
    """Return the checked secret id and VersionId (a falsy VersionId means none)."""
    check_secret_id(secret_id)
    if not version_id:  # pydantic-settings ignores an empty version_id: so do we
        return secret_id, None
    return secret_id, check_version_id(version_id)


def build_client(region_name: str | None, endpoint_url: str | None) -> SecretsManagerClient:
    """Build a client as pydantic-settings does (boto3's default session), ours settings."""
    import boto3
    from botocore.config import Config

    with mapping_errors():  # no region anywhere, say
        return boto3.client(
            "secretsmanager",
            region_name=region_name,
            endpoint_url=endpoint_url,
            config=Config(**CLIENT_SETTINGS),
        )


def read(
    secret_id: str,
    version_id: str | None,
    *,
    cache: SecretCache | None,
    region_name: str | None,
    endpoint_url: str | None,
) -> Secret:
    """Read AWSCURRENT (or a VersionId) through the right cache, or once without one."""
    build = _BUILD.get()
    if cache is None and build is not None:
        cache = build.resolve(region_name, endpoint_url)
    if cache is None:
        source = BotocoreSource(client=build_client(region_name, endpoint_url))
        if version_id is None:
            return source.get_secret_value(secret_id, version_stage=AWSCURRENT)
        return source.get_secret_value(secret_id, version_id=version_id)
    secret = cache.get_secret(secret_id, version_id=version_id)
    if build is not None and version_id is None:
        build.seen[Dependency(cache, make_key(secret_id, AWSCURRENT, None))] = secret.version_id
    return secret


def json_object(secret: Secret) -> dict[str, Any]:
    """Return the SecretString parsed as a JSON object; value-free errors otherwise."""
    parsed = _parse.parse_json(secret)
    if isinstance(parsed, dict):
        return parsed
    # Error trackers record this frame's locals with the traceback: not the document.
    del parsed
    raise SecretFormatError(
        "SecretString is JSON but not an object, so it cannot hold settings",
        code="NotJSONObject",
        secret_id=secret.secret_id,
        version_id=secret.version_id,
    )
