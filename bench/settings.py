"""pydantic-settings on the cache: API calls of settings constructions, rotations, threads.

Run with ``make bench`` (or ``.venv/bin/python bench/settings.py``); it rewrites its
section of ``bench/out/RESULTS.md``. ``--quick`` runs fewer constructions (a smoke run).

Method. One in-process moto backend holds two secrets, a database secret (a JSON object
whose ``--`` keys fill a nested model) and an API token secret. One settings model reads
both, with pydantic-settings' own ``AWSSecretsManagerSettingsSource`` or with
secretcache's (without and with ``cache=``). Every API call of every client is counted
by one botocore ``before-call`` hook on boto3's default session, which the clients copy
when they are built (pydantic-settings builds one per construction). The cache runs on a
``FakeClock`` (ttl 300 s, no jitter). Timings are medians of each construction, with
pydantic-settings' source as the anchor of the ratio; the call counts are exact.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h
import boto3
from pydantic import BaseModel, SecretStr
from pydantic_settings import AWSSecretsManagerSettingsSource as Theirs
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from secretcache import SecretCache
from secretcache.integrations.pydantic_settings import AWSSecretsManagerSettingsSource as Ours
from secretcache.integrations.pydantic_settings import live_settings
from secretcache.testing import FakeClock, rotate_secret

DB, API = "bench/app/db", "bench/app/api"
TTL = 300.0
CONSTRUCTIONS = 100
THREADS = 16


class Database(BaseModel):
    host: str
    password: SecretStr


class App(BaseSettings):
    """The model: two secrets, one source each (set per run by ``_model``)."""

    db: Database
    api_token: SecretStr
    source: ClassVar[tuple[Any, dict[str, Any]]]
    built: ClassVar[int] = 0

    def model_post_init(self, context: Any) -> None:
        App.built += 1  # the class each run makes is a subclass: count here

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], **sources: PydanticBaseSettingsSource
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        make, kwargs = cls.source
        return (make(settings_cls, DB, **kwargs), make(settings_cls, API, **kwargs))


def _model(source: Any, **kwargs: Any) -> type[App]:
    return type("App", (App,), {"source": (source, kwargs)})


@dataclass
class Measured:
    """The figures of one run."""

    constructions: int
    calls: dict[str, int] = field(default_factory=dict)  # GetSecretValue per way
    seconds: dict[str, float] = field(default_factory=dict)  # median per construction
    rotation: dict[str, dict[str, int]] = field(default_factory=dict)  # calls per mode
    rebuilds: dict[str, int] = field(default_factory=dict)
    threads: dict[str, int] = field(default_factory=dict)


def _session_meter() -> h.Meter:
    """Meter every client built from boto3's default session from now on."""
    boto3.setup_default_session(region_name=h.REGION)
    assert boto3.DEFAULT_SESSION is not None
    return h.Meter(SimpleNamespace(meta=SimpleNamespace(events=boto3.DEFAULT_SESSION.events)))


def _constructions(m: Measured, meter: h.Meter, clock: FakeClock) -> None:
    cache = SecretCache(client=boto3.client("secretsmanager"), clock=clock, ttl=TTL, jitter=0)
    ways = {
        "pydantic-settings": _model(Theirs),
        "secretcache, no cache": _model(Ours),
        "secretcache, cache=": _model(Ours, cache=cache),
    }
    for name, model in ways.items():
        meter.reset()
        times = []
        for _ in range(m.constructions):
            start = time.perf_counter()
            model()
            times.append(time.perf_counter() - start)
        m.calls[name] = meter.calls["GetSecretValue"]
        m.seconds[name] = h.median(times)
    cache.close()


def _rotation(m: Measured, meter: h.Meter, world: h.World, clock: FakeClock) -> None:
    for mode in ("get", "describe"):
        cache = SecretCache(
            client=boto3.client("secretsmanager"), clock=clock, ttl=TTL, jitter=0, revalidate=mode
        )
        live = live_settings(_model(Ours), cache=cache)
        first = live.get()
        App.built = 0
        meter.reset()
        for _ in range(m.constructions):
            assert live.get() is first
        rotate_secret(world.admin, API, json.dumps({"api_token": f"rotated-{mode}"}))
        clock.advance(TTL)
        assert live.get() is not first
        m.rotation[mode] = dict(meter.calls)
        m.rebuilds[mode] = App.built
        cache.close()


def _threads(m: Measured, meter: h.Meter, world: h.World, clock: FakeClock) -> None:
    cache = SecretCache(client=boto3.client("secretsmanager"), clock=clock, ttl=TTL, jitter=0)
    live = live_settings(_model(Ours), cache=cache)
    live.get()
    rotate_secret(world.admin, DB, json.dumps({"db--host": "h2", "db--password": "p2"}))
    clock.advance(TTL)
    App.built = 0
    meter.reset()
    barrier = threading.Barrier(THREADS)

    def read() -> None:
        barrier.wait(10.0)
        for _ in range(50):
            live.get()

    workers = [threading.Thread(target=read) for _ in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10.0)
    assert live.get().db.host == "h2"
    m.threads = {"rebuilds": App.built, **meter.calls}
    cache.close()


def run(quick: bool) -> Measured:
    """Measure every figure on one moto backend."""
    m = Measured(constructions=10 if quick else CONSTRUCTIONS)
    with h.moto_world() as world:
        db = {"db--host": "db.internal", "db--password": "pw"}
        world.admin.create_secret(Name=DB, SecretString=json.dumps(db))
        world.admin.create_secret(Name=API, SecretString=json.dumps({"api_token": "t0ken"}))
        meter = _session_meter()
        clock = FakeClock()
        _constructions(m, meter, clock)
        _rotation(m, meter, world, clock)
        _threads(m, meter, world, clock)
    return m


def _calls(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {op}" for op, n in sorted(counts.items())) or "0"


def render(m: Measured, info: dict[str, str]) -> str:
    """Return the RESULTS.md section."""
    anchor = m.seconds["pydantic-settings"]
    lines = [
        "## pydantic-settings on the cache",
        "",
        f"- date: {info['date']}; machine: {info['nproc']} cores, {info['cpu']}; {info['python']}",
        f"- command: `{info['command']}` (via `make bench`)",
        "",
        f"{m.constructions} constructions of a model backed by 2 secrets, within the TTL:",
        "",
        "| Source | GetSecretValue calls | Time per construction (x pydantic-settings') |",
        "|---|---|---|",
    ]
    for name, calls in m.calls.items():
        lines.append(f"| {name} | {calls} | {m.seconds[name] / anchor:.2f}x |")
    lines += [
        "",
        f"`live_settings(...).get()` {m.constructions} times within the TTL, then one of the"
        " 2 secrets rotated and `get()` after the TTL:",
        "",
        "| Cache `revalidate=` | API calls | Rebuilds |",
        "|---|---|---|",
    ]
    for mode, calls in m.rotation.items():
        lines.append(f"| `{mode}` | {_calls(calls)} | {m.rebuilds[mode]} |")
    threads = dict(m.threads)
    rebuilds = threads.pop("rebuilds")
    lines += [
        "",
        f"{THREADS} threads calling `get()` 50 times each during a rotation: "
        f"{_calls(threads)}, {rebuilds} rebuild.",
        "",
        "### Method",
        "",
        __doc__.split("Method. ", 1)[1].strip() if __doc__ else "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure, print and record."""
    return h.script_main("settings", __doc__, "10 constructions; don't write", run, render, argv)


if __name__ == "__main__":
    sys.exit(main())
