"""Shared pieces of the benchmarks: moto, a metering hook, virtual time, the libraries.

Every library under test reads through the SAME moto-backed boto3 client; a botocore
hook on that client counts logical API calls (``before-call``) and HTTP attempts
(``before-send``) per operation, and can add latency to each attempt.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from importlib import metadata
from typing import TYPE_CHECKING, Any
from unittest import mock

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

# Never reach a real endpoint, whatever the shell holds.
for _var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_var, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
for _var in ("SECRETCACHE_TTL", "POWERTOOLS_PARAMETERS_MAX_AGE"):
    os.environ.pop(_var, None)

REGION = "us-east-1"
# A run writes into bench/out/ (git-ignored; SECRETCACHE_BENCH_OUT elsewhere), never into
# the recorded figures the manual quotes (bench/RESULTS.md, bench/results/): publishing a
# run is a deliberate step, `make bench-record` (bench/record.py).
OUT_DIR = os.environ.get("SECRETCACHE_BENCH_OUT") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "out"
)
RESULTS = os.path.join(OUT_DIR, "RESULTS.md")
# What a table cannot hold (time series for the plots in docs/benchmarks.md), as JSON.
DATA_DIR = os.path.join(OUT_DIR, "results")


def median(values: list[float]) -> float:
    """Return the median (the figure every table quotes)."""
    return statistics.median(values)


# -- moto and the metering hook -------------------------------------------------------


class Meter:
    """Count a client's API calls and HTTP attempts per operation; optionally add latency."""

    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        self.attempts: Counter[str] = Counter()
        self.latency = 0.0
        self._lock = threading.Lock()
        client.meta.events.register("before-call.secrets-manager", self._call, unique_id="meter-c")
        client.meta.events.register("before-send.secrets-manager", self._send, unique_id="meter-s")

    def _call(self, model: Any, **kwargs: Any) -> None:
        with self._lock:
            self.calls[model.name] += 1

    def _send(self, request: Any, **kwargs: Any) -> None:
        target = request.headers.get("X-Amz-Target", b"")
        operation = (target.decode() if isinstance(target, bytes) else target).split(".")[-1]
        with self._lock:
            self.attempts[operation] += 1
        if self.latency:
            time.sleep(self.latency)  # a slow network, per HTTP attempt
        # None: let moto (or a fault injector) answer.

    @property
    def total(self) -> int:
        """Return logical API calls of every operation."""
        return sum(self.calls.values())

    def reset(self) -> None:
        """Zero the counters (latency stays)."""
        with self._lock:
            self.calls.clear()
            self.attempts.clear()


@dataclass
class World:
    """One moto backend, the shared metered client, and an unmetered admin client."""

    client: Any
    admin: Any
    meter: Meter
    _names: Iterator[int] = field(default_factory=lambda: iter(range(10**9)))

    def new_secret(self, prefix: str, value: str = "v1") -> str:
        """Create a secret with a name never used before in this run; return the name."""
        name = f"bench/{prefix}-{next(self._names)}"
        self.admin.create_secret(Name=name, SecretString=value)
        return name

    def rotate(self, name: str, value: str) -> None:
        """PutSecretValue: a new AWSCURRENT version (through the unmetered client)."""
        self.admin.put_secret_value(SecretId=name, SecretString=value)


@contextmanager
def moto_world() -> Iterator[World]:
    """Start an in-process moto backend; yield the shared client (standard retries, 3)."""
    import boto3
    from botocore.config import Config
    from moto import mock_aws

    session = boto3.Session(region_name=REGION)
    with mock_aws():
        config = Config(retries={"mode": "standard", "max_attempts": 3})
        client = session.client("secretsmanager", config=config)
        admin = session.client("secretsmanager")
        yield World(client, admin, Meter(client))


# -- virtual time ---------------------------------------------------------------------

_EPOCH = datetime(2030, 1, 1, tzinfo=timezone.utc)


@contextmanager
def virtual_time(clock: Callable[[], float]) -> Iterator[None]:
    """Make the anchor libraries read ``clock`` for time, for the benchmark only.

    aws-secretsmanager-caching calls ``datetime.now(timezone.utc)`` in
    ``aws_secretsmanager_caching.cache.items``; Powertools calls ``datetime.now()`` in
    ``aws_lambda_powertools.utilities.parameters.base``. We replace the ``datetime``
    name in those two modules with a subclass whose ``now()`` is ``_EPOCH + clock()``.
    secretcache (``clock=``) and cachetools (``timer=``) take the clock as an argument.
    """

    class VirtualDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:  # type: ignore[override]
            moment = _EPOCH + timedelta(seconds=clock())
            return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)

    import aws_lambda_powertools.utilities.parameters.base as pt_base
    import aws_secretsmanager_caching.cache.items as aws_items

    with (
        mock.patch.object(aws_items, "datetime", VirtualDatetime),
        mock.patch.object(pt_base, "datetime", VirtualDatetime),
    ):
        yield


# -- the libraries --------------------------------------------------------------------


@dataclass
class Built:
    """A ready getter ``get(secret_id) -> str`` and a way to drop the cache behind it."""

    get: Callable[[str], Any]
    close: Callable[[], None] = lambda: None
    # How to load a key into the cache, when ``get`` alone cannot (the dict floor).
    load: Callable[[str], Any] | None = None

    def fill(self, secret_id: str) -> Any:
        """Read ``secret_id`` once, loading it into the cache."""
        return (self.load or self.get)(secret_id)


@dataclass(frozen=True)
class Lib:
    """One row of the tables: how to build a getter with a TTL and a clock."""

    key: str
    label: str
    default_ttl: float | None  # None: the library has no default (we use 300 s)
    build: Callable[..., Built]
    import_name: str | None


def _secretcache(client: Any, ttl: float | None, clock: Callable[[], float] | None) -> Built:
    from secretcache import SecretCache

    kwargs: dict[str, Any] = {"client": client}
    if ttl is not None:
        kwargs["ttl"] = ttl
    if clock is not None:
        kwargs["clock"] = clock
    cache = SecretCache(**kwargs)
    return Built(cache.get_secret_string, cache.close)


def _aws(client: Any, ttl: float | None, clock: Callable[[], float] | None) -> Built:
    from aws_secretsmanager_caching import SecretCache, SecretCacheConfig

    config = (
        SecretCacheConfig() if ttl is None else SecretCacheConfig(secret_refresh_interval=int(ttl))
    )
    cache = SecretCache(config=config, client=client)
    return Built(cache.get_secret_string)


def _compat(client: Any, ttl: float | None, clock: Callable[[], float] | None) -> Built:
    from secretcache.compat import SecretCache, SecretCacheConfig

    config = SecretCacheConfig() if ttl is None else SecretCacheConfig(secret_refresh_interval=ttl)
    if clock is None:
        return Built(SecretCache(config=config, client=client).get_secret_string)
    return Built(SecretCache(config=config, client=client, clock=clock).get_secret_string)


def _pt_provider(client: Any, ttl: float | None, clock: Callable[[], float] | None) -> Built:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    provider = SecretsProvider(boto3_client=client)
    get = provider.get if ttl is None else functools.partial(provider.get, max_age=int(ttl))
    return Built(get, provider.clear_cache)


def _pt_get_secret(client: Any, ttl: float | None, clock: Callable[[], float] | None) -> Built:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider, get_secret
    from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS

    # get_secret() uses a module-level provider: give it the shared client.
    DEFAULT_PROVIDERS["secrets"] = SecretsProvider(boto3_client=client)
    get = get_secret if ttl is None else functools.partial(get_secret, max_age=int(ttl))
    return Built(get, lambda: DEFAULT_PROVIDERS.pop("secrets", None) and None)


def _naive(client: Any, ttl: float | None, clock: Callable[[], float] | None) -> Built:
    from cachetools import TTLCache, cached

    cache: TTLCache[Any, str] = TTLCache(
        maxsize=1024, ttl=300.0 if ttl is None else ttl, timer=clock or time.monotonic
    )

    # The textbook recipe: a lock around the cache, none around the fetch.
    @cached(cache, lock=threading.Lock())
    def get(secret_id: str) -> str:
        response = client.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")
        return response["SecretString"]  # type: ignore[no-any-return]

    return Built(get, cache.clear)


def _floor(client: Any, ttl: float | None, clock: Callable[[], float] | None) -> Built:
    table: dict[str, str] = {}

    def get(key: str) -> str:
        return table[key]

    def load(key: str) -> str:
        response = client.get_secret_value(SecretId=key, VersionStage="AWSCURRENT")
        table[key] = response["SecretString"]
        return table[key]

    return Built(get, table.clear, load)


SECRETCACHE = Lib("secretcache", "secretcache", 300.0, _secretcache, "secretcache")
AWS = Lib(
    "aws",
    "aws-secretsmanager-caching",
    3600.0,
    _aws,
    "aws_secretsmanager_caching",
)
COMPAT = Lib(
    "compat",
    "secretcache.compat",
    3600.0,
    _compat,
    "secretcache.compat",
)
PT_PROVIDER = Lib(
    "pt_provider",
    "Powertools SecretsProvider.get",
    300.0,
    _pt_provider,
    "aws_lambda_powertools.utilities.parameters",
)
PT_GET = Lib(
    "pt_get",
    "Powertools get_secret",
    300.0,
    _pt_get_secret,
    "aws_lambda_powertools.utilities.parameters",
)
NAIVE = Lib("naive", "naive TTLCache+lock", None, _naive, "cachetools")
FLOOR = Lib("floor", "dict floor", None, _floor, None)

CACHES = [SECRETCACHE, AWS, COMPAT, PT_PROVIDER, PT_GET, NAIVE]
ALL = [*CACHES, FLOOR]


# -- the machine ----------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, str]:
    """Return what a reader needs to weigh the figures: cores, CPU, versions."""
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        nproc = str(os.cpu_count())
    versions = {}
    for dist in (
        "secretcache",
        "aws-secretsmanager-caching",
        "aws-lambda-powertools",
        "cachetools",
        "boto3",
        "botocore",
        "moto",
    ):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": nproc.strip(),
        "cpu": _cpu_model(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "command": " ".join([os.path.relpath(sys.executable), *sys.argv]),
    }


_SECTION = re.compile(
    r"<!-- begin (?P<name>[\w.-]+) -->\n(?P<body>.*?)\n<!-- end (?P=name) -->", re.S
)
HEADER = (
    "# secretcache benchmark results\n\n"
    "Written by the bench scripts (`make bench`) into `bench/out/`, and copied here "
    "section by section by `make bench-record`; do not edit.\n"
)


def sections(text: str) -> dict[str, str]:
    """Return each ``<!-- begin NAME -->`` ... ``<!-- end NAME -->`` section's body by name."""
    return {m["name"]: m["body"] for m in _SECTION.finditer(text)}


def merge_section(text: str, name: str, body: str) -> str:
    """Return ``text`` with section ``name`` replaced by ``body`` (appended if it is new)."""
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        return head + block + tail
    return text.rstrip() + "\n\n" + block + "\n"


def write_section(name: str, body: str) -> None:
    """Replace one script's section of this run's RESULTS.md (each bench script owns one)."""
    try:
        with open(RESULTS, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        text = HEADER
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w", encoding="utf-8") as f:
        f.write(merge_section(text, name, body))


def write_data(name: str, data: dict[str, Any]) -> None:
    """Write one script's series to ``<OUT_DIR>/results/<name>.json`` (bench/plots.py reads it)."""
    import json

    os.makedirs(DATA_DIR, exist_ok=True)
    with open(os.path.join(DATA_DIR, f"{name}.json"), "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")


def script_main(
    section: str,
    doc: str | None,
    quick_help: str,
    measure: Callable[[bool], Any],
    render: Callable[[Any, dict[str, str]], str],
    argv: list[str] | None = None,
    data: Callable[[Any], dict[str, Any]] | None = None,
) -> int:
    """Run a simulation script: measure, print, and record its section unless --quick.

    ``data``, if given, turns the measurement into the JSON series written next to it.
    """
    import argparse

    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    measured = measure(args.quick)
    text = render(measured, machine())
    print(text)
    if not (args.quick or args.no_write):
        write_section(section, text)
        if data is not None:
            write_data(section, data(measured))
    return 0
