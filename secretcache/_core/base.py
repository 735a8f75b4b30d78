"""What SecretCache and AsyncSecretCache share: arguments, the store, the load plan.

Everything here is free of I/O. The two caches differ only in how they wait: a load
plan (``_load_plan``), a rotation look (``_look_plan``) and a prefetch plan are driven
with blocking calls in one (``steps.run``) and awaits in the other (``steps.arun``).
The counters and rotation events are ``events.Events``; rotation_candidate's memory is
``events.Candidates``.
"""

from __future__ import annotations

import importlib
import sys
import time
import weakref
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ..exceptions import SecretCacheError
from . import forksafe as _forksafe
from . import parse as _parse
from .bounded import BoundedSet
from .events import Candidates, Events
from .forksafe import ForkSafeLock
from .identity import Identity, identity
from .models import Key, RotationCallback, make_key
from .observe import LOAD, load_reason
from .revalidate import plan_load
from .rules import secret_wide
from .steps import Steps
from .store import Entry, Store
from .traits import source_traits
from .validate import (
    check_callable,
    check_fallbacks,
    check_fraction,
    check_rng,
    check_seconds,
    check_secret_id,
    check_size,
    check_source,
    check_stage,
    check_version_id,
    env_seconds,
)

if TYPE_CHECKING:
    import random
    from collections.abc import Callable, Sequence

    from .models import Secret
    from .recovery import Recovery
    from .revalidate import Plan
    from .store import Ticket

__all__ = [
    "DEFAULT_TTL",
    "DESCRIBE_REREAD",
    "CacheBase",
    "Key",
    "RotationCallback",
    "make_key",
]

DEFAULT_TTL = 300.0
#: In describe mode, read the value itself (GetSecretValue) at least this often when
#: max_stale is None; otherwise every max(ttl, max_stale) seconds.
DESCRIBE_REREAD = 900.0


class CacheBase(Events, Candidates):
    """Settings, store, source and load plan of a secrets cache (see its two shells)."""

    #: The shell's name, for messages.
    _kind: ClassVar[str]
    #: Builds the cache's source from its arguments (``_sources.fallbacks.build_source``
    #: for the shell's kind of source); the core itself knows no source.
    _sourcing: ClassVar[Callable[..., Any]]
    #: Returns the source a cache given no client, session or source reads through (the
    #: Lambda extension's, in Lambda with it configured), or None: the SDK's.
    _default_source: ClassVar[Callable[..., Any]]
    _asynchronous: ClassVar[bool]

    def __init__(
        self,
        client: Any = None,
        session: Any = None,
        *,
        ttl: float | None = None,
        jitter: float = 0.1,
        cold_jitter: float = 0.9,
        max_size: int = 1024,
        max_stale: float | None = 900.0,
        revalidate: Literal["get", "describe"] = "get",
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        on_rotation: RotationCallback | None = None,
        source: Any = None,
        fallback_regions: Sequence[str] = (),
        fallback_clients: Sequence[Any] = (),
    ) -> None:
        if sum(x is not None for x in (client, session, source)) > 1:
            raise TypeError("pass at most one of client, session and source")
        self._check_arguments(client, session, source)
        check_source(source, asynchronous=self._asynchronous)
        regions, clients = check_fallbacks(
            fallback_regions, fallback_clients, client=client, source=source
        )
        if ttl is None:
            ttl = env_seconds("SECRETCACHE_TTL", DEFAULT_TTL)
        checked_ttl = check_seconds("ttl", ttl)
        assert checked_ttl is not None
        if revalidate not in ("get", "describe"):
            raise ValueError(f"revalidate must be 'get' or 'describe', not {revalidate!r}")
        self._ttl = checked_ttl
        self._revalidate = revalidate
        self._clock = check_callable("clock", clock)
        size = check_size("max_size", max_size)
        stale = check_seconds("max_stale", max_stale, allow_none=True)
        checked_rng = check_rng(rng)
        self._store = Store(
            ttl=checked_ttl,
            jitter=check_fraction("jitter", jitter),
            cold_jitter=check_fraction("cold_jitter", cold_jitter),
            max_size=size,
            max_stale=stale,
            clock=self._clock,
            rng=checked_rng,
            on_replace=self._replaced,
        )
        self._reread_every = max(checked_ttl, DESCRIBE_REREAD if stale is None else stale)
        # The hit paths read these directly: one attribute load each instead of two.
        self._data = self._store.data
        self._count_hit = self._store.count_hit
        self._counter_lock = ForkSafeLock()
        self._start_events()
        if on_rotation is not None:
            self.on_rotation(on_rotation)
        self._describe_denied: BoundedSet[str] = BoundedSet(size)
        self._recovery_state: Recovery | None = None  # built on the first failed login
        if source is None and client is None and session is None:
            # In Lambda with the extension configured: its source (see extension_env).
            source = self._default_source(asynchronous=self._asynchronous)
        self._source: Any = (
            source
            if source is not None and not (regions or clients)
            else self._sourcing(
                client,
                session,
                regions,
                clients,
                clock=self._clock,
                rng=checked_rng,
                primary=source,
            )
        )
        self._use_source(self._source)
        self._lags, self._batches = source_traits(self._source, self._lags, revalidate)
        _forksafe.register(self)
        register_snapstart(self._store)

    def _check_arguments(self, client: Any, session: Any, source: Any) -> None:
        """Check the client and session for this shell (TypeError, ImportError)."""
        raise NotImplementedError

    # -- arguments and parsing -----------------------------------------------------------
    @staticmethod
    def _check(secret_id: Any, version_stage: Any, version_id: Any) -> None:
        check_secret_id(secret_id)
        if version_id is not None:
            check_version_id(version_id)
        else:
            check_stage(version_stage)

    def _probe(
        self, secret_id: str, version_stage: str, version_id: str | None
    ) -> tuple[Key, Entry[Secret] | None]:
        """Return the key and, if it is fresh, its entry (a hit); else check the arguments."""
        key = make_key(secret_id, version_stage, version_id)
        try:
            entry = self._store.lookup(key)
        except TypeError:
            entry = None  # an unhashable argument: let the checks explain it
        if entry is None:
            self._check(secret_id, version_stage, version_id)
        return key, entry

    def _parsed(self, entry: Entry[Secret]) -> Any:
        """Return the entry's JSON, parsed once per version."""
        cached = entry.parsed
        version_id = entry.value.version_id
        if isinstance(cached, tuple) and cached[0] == version_id:
            return cached[1]
        # The previous version's JSON: not in this frame's locals (which error trackers
        # record) if parsing this version fails.
        del cached
        parsed = _parse.parse_json(entry.value)
        entry.parsed = (version_id, parsed)
        return parsed

    def _json(self, entry: Entry[Secret]) -> Any:
        return _parse.copy_json(entry.value, self._parsed(entry))

    def _field(self, entry: Entry[Secret], field: str) -> Any:
        return _parse.copy_json(
            entry.value, _parse.field_of(entry.value, self._parsed(entry), field)
        )

    @staticmethod
    def _check_field(field: Any) -> None:
        if not isinstance(field, str):
            raise TypeError(f"field must be a str, not {type(field).__name__}")

    # -- loading -------------------------------------------------------------------------
    def _load_plan(self, ticket: Ticket[Key, Secret], must_read: bool) -> Plan:
        """Return the plan that loads a ticket's key, counting its calls and failovers.

        ``must_read``: GetSecretValue, no DescribeSecret. A terminal error the load ends
        with also ends the secret's other keys it speaks for (``_on_terminal``).
        """
        entry = ticket.entry
        # Before the first request, in the driver's context: observers of calls read it.
        LOAD.set(load_reason(ticket.force, entry, self._clock()))
        steps = Steps(
            plan_load(
                ticket.key,
                ticket.previous,
                describe=self._revalidate == "describe",
                describe_denied=self._describe_denied,
                # Describe mode reads the value itself at least every _reread_every seconds.
                must_read=must_read
                or (entry is not None and self._clock() - entry.read_at >= self._reread_every),
                lags=self._lags,
            )
        )
        fell_over = False
        try:
            while not steps.done:
                self._count(steps.request.operation)
                with steps:
                    answer = yield steps.request
                    fell_over = fell_over or self._from_fallback(answer)
                    steps.answer(answer)
        except SecretCacheError as exc:
            self._on_terminal(ticket.key, exc, ticket.seq)
            raise
        if fell_over:
            self._count_failover()
        return steps.result

    # -- one secret, many ids ------------------------------------------------------------
    def _identities(self) -> dict[str, Identity]:
        """Return what each id the cache holds a value for names (a snapshot)."""
        return {key[0]: identity(key[0], value) for key, value in self._store.items()}

    def _same_secret(self, secret_id: str) -> Callable[[Key], bool]:
        """Return a predicate matching every key of the secret ``secret_id`` may name."""
        return self._secret_of(secret_id)[0]

    def _secret_of(self, secret_id: str) -> tuple[Callable[[Key], bool], Identity]:
        """Return a predicate matching every key of that secret, and its identity."""
        known = self._identities()
        target = known.get(secret_id) or identity(secret_id)

        def matches(key: Key) -> bool:
            other = key[0]
            if other == secret_id:
                return True
            return target.overlaps(known.get(other) or identity(other))

        return matches, target

    def _on_terminal(self, key: Key, error: SecretCacheError, seq: int) -> None:
        """After ``key`` failed for good, apply a secret-wide answer to its other keys.

        ``seq`` is the failed request's sequence number: keys holding an answer to a
        later request keep it.
        """
        if not secret_wide(error):
            return
        same, target = self._secret_of(key[0])

        def others(candidate: Key) -> bool:
            return candidate != key and same(candidate)

        if target.exact:
            self._store.fail_keys(others, error, seq)
        else:
            # Which secret the id names is a guess (a partial ARN that looks like a full
            # one): forget the candidates, but remember nothing against them.
            self._store.invalidate(others)

    # -- control -------------------------------------------------------------------------
    def invalidate(self, secret_id: str | None = None) -> None:
        """Forget one secret (all its stages, versions and ids: name, ARN), or everything."""
        if secret_id is None:
            self._store.invalidate()
            return
        check_secret_id(secret_id)
        self._store.invalidate(self._same_secret(secret_id))

    def _version_before(self, secret_id: str, version_stage: str) -> str | None:
        """Check refresh()'s arguments; return the VersionId cached for them, if any."""
        self._check(secret_id, version_stage, None)
        before = self._data.get(make_key(secret_id, version_stage, None))
        return before.value.version_id if before is not None else None

    def _after_fork_in_child(self) -> None:
        """Forget what belonged to the parent's threads and event loops (see subclasses)."""

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} ttl={self._ttl:g}s revalidate={self._revalidate!r} "
            f"size={len(self._store)}/{self._store.max_size}>"
        )


# -- Lambda SnapStart: after a snapshot is restored, revalidate every cache's entries --
# One restore hook for every cache of the process (the runtime keeps each hook
# registered for good: one per cache would grow with every cache built).
_stores: weakref.WeakSet[Store[Any, Any]] = weakref.WeakSet()
_lock = ForkSafeLock()
_module: object = None  # the runtime module our hook is registered with
_missing = False  # the import failed once: do not search the path again


def register_snapstart(store: Store[Any, Any]) -> None:
    """Mark every entry of ``store`` stale after a SnapStart restore, if the runtime has hooks."""
    global _module, _missing
    module: Any = sys.modules.get("snapshot_restore_py")
    if module is None:
        if _missing:
            return
        try:
            module = importlib.import_module("snapshot_restore_py")
        except ImportError:
            _missing = True
            return
    with _lock:
        _stores.add(store)
        if _module is not module:
            module.register_after_restore(_after_restore)
            _module = module


def _after_restore() -> None:
    for store in list(_stores):
        # A snapshot may be restored long after it was taken: don't serve its values,
        # not even stale, before they are revalidated.
        store.expire(servable=False)
        store.diverge()  # copies of one snapshot: same deadlines, same RNG state
