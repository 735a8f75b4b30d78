"""Benchmark secretcache against the anchor libraries, on one shared moto client.

Run with ``make bench`` (or ``.venv/bin/python bench/compare.py``); it rewrites its
section of ``bench/out/RESULTS.md``. ``--quick`` shrinks every count (a smoke run whose
figures mean nothing). Every figure is a median of several runs; ratios are taken
within one run, so a noisy shared machine shifts both sides alike.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import random
import subprocess
import sys
import threading
import time
import timeit
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h
import otel

from secretcache.testing import FakeClock, FaultInjector

COMMON_TTL = 300.0


def _ttl(lib: h.Lib, ttl: float | None) -> float:
    """Return the TTL a library really uses when built with ``ttl`` (None: its default)."""
    if ttl is not None:
        return ttl
    return lib.default_ttl if lib.default_ttl is not None else COMMON_TTL


# -- 1. cache hits, one thread ---------------------------------------------------------


def hit_ns(world: h.World, libs: list[h.Lib], *, repeat: int = 7, budget: float = 0.2) -> dict:
    """Return median ns per cache hit of each library (default config, real clock)."""
    name = world.new_secret("hit", "x" * 64)
    out: dict[str, float] = {}
    for lib in libs:
        built = lib.build(world.client, None, None)
        built.fill(name)
        timer = timeit.Timer("get(k)", globals={"get": built.get, "k": name})
        number, _ = timer.autorange()
        number = max(1, int(number * budget / 0.2))
        runs = timer.repeat(repeat=repeat, number=number)
        out[lib.key] = h.median(runs) / number * 1e9
        built.close()
    return out


# -- 2. throughput, 8 threads vs 1 ----------------------------------------------------


def _run_threads(get: Any, keys: list[str], threads: int, ops: int) -> float:
    """Return the wall time for ``threads`` threads to do ``ops`` gets between them."""
    barrier = threading.Barrier(threads + 1)
    share = ops // threads

    def work(offset: int) -> None:
        stream = itertools.islice(itertools.cycle(keys[offset:] + keys[:offset]), share)
        barrier.wait()
        for key in stream:
            get(key)

    workers = [threading.Thread(target=work, args=(i % len(keys),)) for i in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    for w in workers:
        w.join()
    return time.perf_counter() - start


def throughput(
    world: h.World,
    libs: list[h.Lib],
    hit: dict[str, float],
    *,
    threads: int = 8,
    secrets: tuple[int, ...] = (1, 100),
    repeat: int = 5,
    budget: float = 0.15,
) -> dict:
    """Return, per library and secret count, median ops/s on 1 and N threads and the ratio."""
    out: dict[str, dict[int, dict[str, float]]] = {}
    for lib in libs:
        out[lib.key] = {}
        for count in secrets:
            keys = [world.new_secret("tp", "y" * 64) for _ in range(count)]
            built = lib.build(world.client, None, None)
            for key in keys:
                built.fill(key)
            ops = max(threads, int(budget / (hit[lib.key] * 1e-9)))
            ops -= ops % threads
            one, many, ratios = [], [], []
            for _ in range(repeat):
                t1 = _run_threads(built.get, keys, 1, ops)
                tn = _run_threads(built.get, keys, threads, ops)
                one.append(ops / t1)
                many.append(ops / tn)
                ratios.append(t1 / tn)
            out[lib.key][count] = {
                "one": h.median(one),
                "many": h.median(many),
                "ratio": h.median(ratios),
            }
            built.close()
    return out


# -- 3. stampede ----------------------------------------------------------------------


def _release(get: Any, name: str, threads: int) -> list[Any]:
    barrier = threading.Barrier(threads)
    results: list[Any] = [None] * threads

    def work(i: int) -> None:
        barrier.wait()
        try:
            results[i] = get(name)
        except Exception as exc:
            results[i] = exc

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return results


def stampede(
    world: h.World,
    libs: list[h.Lib],
    *,
    threads: int = 32,
    latency: float = 0.05,
    runs: int = 5,
) -> dict:
    """Return median API calls when ``threads`` threads read a cold / an expired key at once."""
    out: dict[str, dict[str, Any]] = {}
    meter = world.meter
    for lib in libs:
        cold, expired, fresh_seen, by_op = [], [], [], []
        for _ in range(runs):
            clock = FakeClock()
            with h.virtual_time(clock):
                name = world.new_secret("cold", "v1")
                built = lib.build(world.client, COMMON_TTL, clock)
                meter.reset()
                meter.latency = latency
                _release(built.get, name, threads)
                meter.latency = 0.0
                cold.append(meter.total)
                by_op.append(dict(meter.calls))
                built.close()

                name = world.new_secret("exp", "v1")
                built = lib.build(world.client, COMMON_TTL, clock)
                built.fill(name)
                world.rotate(name, "v2")
                clock.advance(COMMON_TTL + 1)
                meter.reset()
                meter.latency = latency
                results = _release(built.get, name, threads)
                meter.latency = 0.0
                expired.append(meter.total)
                fresh_seen.append(sum(r == "v2" for r in results))
                built.close()
        out[lib.key] = {
            "cold": h.median(cold),
            "cold_max": max(cold),
            "cold_ops": by_op[-1],
            "expired": h.median(expired),
            "expired_max": max(expired),
            "new_value_threads": h.median(fresh_seen),
        }
    return out


# -- 4. rotation: staleness and steady call rate --------------------------------------


def rotation(
    world: h.World,
    libs: list[h.Lib],
    *,
    steady_hours: float = 4.0,
    trials: int = 8,
    seed: int = 7,
) -> dict:
    """Return, per library and TTL, calls/min at 1 get/s and staleness after rotations.

    Virtual clock, one get per virtual second. Steady phase: ``steady_hours`` with no
    rotation (calls per minute). Then ``trials`` times: wait a random part of a TTL,
    PutSecretValue, and count seconds until a get returns the new value.
    """
    out: dict[str, dict[str, dict[str, float]]] = {}
    meter = world.meter
    for lib in libs:
        rng = random.Random(seed)  # the same rotation moments for every library
        out[lib.key] = {}
        ttls = {"default": None, "300": COMMON_TTL}
        if _ttl(lib, None) == COMMON_TTL:
            ttls = {"default": None}  # the default is 300 s: one run serves both rows
        for label, ttl in ttls.items():
            effective = _ttl(lib, ttl)
            clock = FakeClock()
            with h.virtual_time(clock):
                name = world.new_secret("rot", "gen-0")
                built = lib.build(world.client, ttl, clock)
                built.fill(name)
                meter.reset()
                seconds = int(steady_hours * 3600)
                for _ in range(seconds):
                    clock.advance(1.0)
                    built.get(name)
                per_minute = meter.total / (seconds / 60)
                stale: list[float] = []
                for gen in range(1, trials + 1):
                    for _ in range(int(rng.uniform(0, effective))):
                        clock.advance(1.0)
                        built.get(name)
                    world.rotate(name, f"gen-{gen}")
                    waited = 0.0
                    while built.get(name) != f"gen-{gen}" and waited < 3 * effective:
                        clock.advance(1.0)
                        waited += 1.0
                    stale.append(waited)
                built.close()
            row = {
                "ttl": effective,
                "calls_per_min": per_minute,
                "stale_median": h.median(stale),
                "stale_max": max(stale),
            }
            out[lib.key][label] = row
            if len(ttls) == 1:
                out[lib.key]["300"] = row
    return out


# -- 5. throttled refresh -------------------------------------------------------------


def throttled(
    world: h.World, libs: list[h.Lib], *, rate: float = 100.0, seconds: float = 60.0
) -> dict:
    """Return, per library, stale serving and API calls per minute while every call throttles.

    Warm cache (TTL 300 s, virtual clock), then every GetSecretValue and DescribeSecret
    answers ThrottlingException (through botocore's own retries, sleeps recorded and not
    slept); the clock passes the TTL and the key is read ``rate`` times a second.
    """
    out: dict[str, dict[str, float]] = {}
    meter = world.meter
    gets = int(rate * seconds)
    for lib in libs:
        clock = FakeClock()
        with h.virtual_time(clock):
            name = world.new_secret("thr", "old")
            built = lib.build(world.client, COMMON_TTL, clock)
            built.fill(name)
            faults = FaultInjector(world.client)
            faults.fail("ThrottlingException")
            faults.fail("ThrottlingException", operation="DescribeSecret")
            clock.advance(COMMON_TTL + 1)
            meter.reset()
            stale = errors = 0
            with faults:
                for _ in range(gets):
                    try:
                        value = built.get(name)
                    except Exception:
                        errors += 1
                    else:
                        stale += value == "old"
                    clock.advance(1.0 / rate)
            built.close()
        minutes = seconds / 60
        out[lib.key] = {
            "stale_fraction": stale / gets,
            "errors": errors,
            "calls_per_min": meter.total / minutes,
            "attempts_per_min": sum(meter.attempts.values()) / minutes,
            "retry_sleeps": len(faults.slept),
        }
    return out


# -- 6. import time -------------------------------------------------------------------

_IMPORT = (
    "import time, boto3; start = time.perf_counter(); import {module}; "
    "print(time.perf_counter() - start)"
)


def _import_ms(module: str) -> float:
    """Return ms spent importing ``module`` after boto3, in a fresh interpreter."""
    # Measure an installed library as pip leaves it: with its bytecode cache. (A shell
    # with PYTHONDONTWRITEBYTECODE=1 would make a source checkout compile every time.)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return float(done.stdout) * 1000


def import_breakdown(module: str = "secretcache") -> list[tuple[str, int, int]]:
    """Return (module, self us, cumulative us) of what ``import module`` loads after boto3."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import boto3; import {module}"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    rows, after = [], False
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[0].startswith("import time:"):
            continue
        try:
            own, cumulative = int(parts[0].split(":")[1]), int(parts[1])
        except ValueError:
            continue  # the header line
        name = parts[2].strip()
        if after:
            rows.append((parts[2].rstrip()[1:], own, cumulative))
        if name == "boto3" and parts[2].startswith(" boto3"):
            after = True
    return rows


def import_ms(libs: list[h.Lib], *, runs: int = 7) -> dict:
    """Return the median own import time beyond ``import boto3``, in ms."""
    out: dict[str, float] = {}
    seen: dict[str, float] = {}
    for lib in libs:
        if lib.import_name is None:
            continue
        if lib.import_name not in seen:
            _import_ms(lib.import_name)  # not counted: writes any stale bytecode cache
            seen[lib.import_name] = h.median([_import_ms(lib.import_name) for _ in range(runs)])
        out[lib.key] = seen[lib.import_name]
    if any(lib is h.SECRETCACHE for lib in libs):
        out["breakdown"] = import_breakdown()
    return out


# -- 7. memory ------------------------------------------------------------------------


def memory(world: h.World, libs: list[h.Lib], *, count: int = 1000, size: int = 1024) -> dict:
    """Return bytes a cache retains per 1 KiB secret beyond the value itself (tracemalloc).

    The secrets exist and the client is warm before measuring. Retained = traced memory
    with the cache populated minus traced memory after the cache is dropped (so what
    moto or botocore keep for themselves does not count). Overhead per secret =
    retained / count - sys.getsizeof(value) (a 1,024-char str is 1,073 B in CPython).
    """
    rng = random.Random(11)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    names = []
    for _ in range(count):
        value = "".join(rng.choice(alphabet) for _ in range(size))
        names.append(world.new_secret("mem", value))
    value_size = sys.getsizeof("a" * size)
    out: dict[str, dict[str, float]] = {}
    for lib in libs:
        warm = lib.build(world.client, None, None)  # one-time imports and globals
        for name in names[:5]:
            warm.fill(name)
        warm.close()
        del warm
        gc.collect()
        tracemalloc.start()
        built = lib.build(world.client, None, None)
        for name in names:
            built.fill(name)
        gc.collect()
        populated = tracemalloc.get_traced_memory()[0]
        full = tracemalloc.take_snapshot() if lib is h.SECRETCACHE else None
        built.close()
        del built
        gc.collect()
        dropped = tracemalloc.get_traced_memory()[0]
        empty = tracemalloc.take_snapshot() if full is not None else None
        tracemalloc.stop()
        retained = populated - dropped
        out[lib.key] = {
            "retained_per_secret": retained / count,
            "overhead_per_secret": retained / count - value_size,
        }
        if full is not None and empty is not None:
            out[lib.key]["top"] = [
                (
                    _site(stat.traceback[0].filename, stat.traceback[0].lineno),
                    stat.size_diff / count,
                    stat.count_diff / count,
                )
                for stat in full.compare_to(empty, "lineno")[:8]
                if stat.size_diff > 0
            ]
    return out


def _site(filename: str, lineno: int) -> str:
    """Return a short file:line (from the package or stdlib directory down)."""
    parts = Path(filename).parts
    for anchor in (
        "secretcache",
        "site-packages",
        "python3.10",
        "python3.11",
        "python3.12",
        "python3.13",
    ):
        if anchor in parts:
            parts = parts[parts.index(anchor) + (anchor != "secretcache") :]
            break
    return f"{'/'.join(parts[-2:])}:{lineno}"


# -- the report -----------------------------------------------------------------------


@dataclass
class Results:
    """Everything one run measured."""

    hit: dict
    threads: dict
    stampede: dict
    rotation: dict
    throttled: dict
    imports: dict
    memory: dict
    otel: dict


def _timed(label: str, fn: Any, *args: Any) -> Any:
    started = time.perf_counter()
    result = fn(*args)
    print(f"{label}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    return result


def measure(quick: bool = False) -> Results:
    """Run every measurement (``quick``: tiny counts, for the smoke test)."""
    libs = h.ALL
    with h.moto_world() as world:
        if quick:
            hit = hit_ns(world, libs, repeat=2, budget=0.002)
            tp = throughput(world, libs, hit, threads=2, secrets=(1, 100), repeat=1, budget=0.002)
            st = stampede(world, h.CACHES, threads=4, latency=0.005, runs=1)
            rot = rotation(world, h.CACHES, steady_hours=0.05, trials=1)
            thr = throttled(world, h.CACHES, rate=2, seconds=3)
            imp = import_ms([h.SECRETCACHE], runs=1)
            mem = memory(world, libs, count=5, size=64)
            tel = otel.otel_cost(world, quick=True)
        else:
            hit = _timed("hits", hit_ns, world, libs)
            tp = _timed("threads", throughput, world, libs, hit)
            st = _timed("stampede", stampede, world, h.CACHES)
            rot = _timed("rotation", rotation, world, h.CACHES)
            thr = _timed("throttled", throttled, world, h.CACHES)
            imp = _timed("import", import_ms, h.CACHES)
            mem = _timed("memory", memory, world, libs)
            tel = _timed("otel", otel.otel_cost, world)
    return Results(hit, tp, st, rot, thr, imp, mem, tel)


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def summary(r: Results) -> str:
    """Return the summary table (secretcache, AWS lib, Powertools, naive, target, met?)."""
    floor = r.hit["floor"]
    keys = ["secretcache", "aws", "compat", "pt", "naive"]

    def cells(fn: Any) -> list[str]:
        row = []
        for key in keys:
            if key == "pt":
                a, b = fn("pt_provider"), fn("pt_get")
                row.append(a if a == b else f"{a}; {b}")
            else:
                row.append(fn(key))
        return row

    def hit(k: str) -> str:
        return f"{r.hit[k]:,.0f} ns ({r.hit[k] / floor:,.1f}x)"

    def tp(n: int) -> Any:
        return lambda k: f"{r.threads[k][n]['ratio']:.2f}x"

    def sp(kind: str) -> Any:
        return lambda k: f"{r.stampede[k][kind]:g}"

    def stale(label: str) -> Any:
        return lambda k: (
            f"{r.rotation[k][label]['stale_median']:,.0f} / "
            f"{r.rotation[k][label]['stale_max']:,.0f} s"
        )

    def cpm(label: str) -> Any:
        return lambda k: f"{r.rotation[k][label]['calls_per_min']:.3f}"

    def thr(k: str) -> str:
        t = r.throttled[k]
        served = "stale" if t["stale_fraction"] == 1 else f"stale {t['stale_fraction']:.0%}"
        if t["stale_fraction"] == 0:
            served = "raises"
        return f"{served}, {t['calls_per_min']:,.0f} ({t['attempts_per_min']:,.0f})"

    def imp(k: str) -> str:
        return f"{r.imports[k]:.1f} ms" if k in r.imports else "n/a"

    def mem(k: str) -> str:
        return f"{r.memory[k]['overhead_per_secret']:,.0f} B"

    sc = "secretcache"
    sc_hit = r.hit[sc] / floor
    ttl_note = (
        f"(default TTL: secretcache 300, AWS {h.AWS.default_ttl:g}, "
        f"compat {h.COMPAT.default_ttl:g}, PT 300, naive 300)"
    )
    rows = [
        ("cache hit, 1 thread (x dict floor)", cells(hit), "<= 10x", _met(sc_hit <= 10)),
        (
            "8 threads / 1 thread, 1 secret",
            cells(tp(1)),
            ">= 0.8x",
            _met(r.threads[sc][1]["ratio"] >= 0.8),
        ),
        (
            "8 threads / 1 thread, 100 secrets",
            cells(tp(100)),
            ">= 0.8x",
            _met(r.threads[sc][100]["ratio"] >= 0.8),
        ),
        (
            "stampede, 32 threads, cold key: API calls",
            cells(sp("cold")),
            "1",
            _met(r.stampede[sc]["cold_max"] == 1),
        ),
        (
            "stampede, 32 threads, expired key after rotation: API calls",
            cells(sp("expired")),
            "1",
            _met(r.stampede[sc]["expired_max"] == 1),
        ),
        (
            f"staleness after rotation, median / max, default TTL {ttl_note}",
            cells(stale("default")),
            "<= TTL",
            _met(r.rotation[sc]["default"]["stale_max"] <= r.rotation[sc]["default"]["ttl"] + 1),
        ),
        (
            "staleness after rotation, median / max, TTL 300 s",
            cells(stale("300")),
            "<= 300 s",
            _met(r.rotation[sc]["300"]["stale_max"] <= 301),
        ),
        ("API calls/min at 1 get/s, default TTL", cells(cpm("default")), "-", ""),
        ("API calls/min at 1 get/s, TTL 300 s", cells(cpm("300")), "-", ""),
        (
            "throttled, 100 gets/s: served, API calls/min (HTTP attempts)",
            cells(thr),
            "stale, <= 6",
            _met(r.throttled[sc]["stale_fraction"] == 1 and r.throttled[sc]["calls_per_min"] <= 6),
        ),
        (
            "own import time beyond boto3",
            cells(imp),
            "<= 5 ms",
            _met(r.imports.get(sc, 99) <= 5),
        ),
        (
            "memory overhead per cached 1 KiB secret",
            cells(mem),
            "<= 250 B",
            _met(r.memory[sc]["overhead_per_secret"] <= 250),
        ),
    ]
    lines = [
        "| measurement | secretcache | aws-secretsmanager-caching | secretcache.compat "
        "| Powertools (SecretsProvider.get; get_secret) | naive TTLCache+lock | target | met? |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row, target, met in rows:
        lines.append(f"| {name} | {' | '.join(row)} | {target} | {met} |")
    lines.append(
        f"\nDict floor: `def get(key): return d[key]` called the same way, "
        f"{floor:,.0f} ns/op (1 thread); memory {r.memory['floor']['overhead_per_secret']:,.0f}"
        " B/secret (its dict slot)."
    )
    return "\n".join(lines)


def details(r: Results) -> str:
    """Return the detail tables behind the summary."""
    out = ["### Throughput (median ops/s; ratio = median of per-run ratios)", ""]
    out.append(
        "| library | 1 secret: 1 thread | 8 threads | ratio | 100 secrets: 1 thread "
        "| 8 threads | ratio |"
    )
    out.append("|---|---|---|---|---|---|---|")
    for lib in h.ALL:
        t = r.threads[lib.key]
        cells = []
        for n in sorted(t):
            cells += [f"{t[n]['one']:,.0f}", f"{t[n]['many']:,.0f}", f"{t[n]['ratio']:.2f}x"]
        out.append(f"| {lib.label} | {' | '.join(cells)} |")
    out += ["", "### Stampede (32 threads, 50 ms per HTTP attempt; median of 5 runs)", ""]
    out.append(
        "| library | cold: calls (max) | calls by operation | expired after rotation: "
        "calls (max) | threads that got the new value |"
    )
    out.append("|---|---|---|---|---|")
    for lib in h.CACHES:
        s = r.stampede[lib.key]
        ops = ", ".join(f"{k} {v}" for k, v in sorted(s["cold_ops"].items()))
        out.append(
            f"| {lib.label} | {s['cold']:g} ({s['cold_max']}) | {ops} | "
            f"{s['expired']:g} ({s['expired_max']}) | {s['new_value_threads']:g} / 32 |"
        )
    out += ["", "### Rotation (virtual clock, 1 get per virtual second)", ""]
    out.append("| library | TTL | API calls/min (steady) | staleness median | max |")
    out.append("|---|---|---|---|---|")
    for lib in h.CACHES:
        for label in ("default", "300"):
            row = r.rotation[lib.key][label]
            out.append(
                f"| {lib.label} | {row['ttl']:g} s ({label}) | {row['calls_per_min']:.3f} | "
                f"{row['stale_median']:,.0f} s | {row['stale_max']:,.0f} s |"
            )
    out += ["", "### Throttled refresh (every call ThrottlingException, 100 gets/s, 60 s)", ""]
    out.append(
        "| library | served stale | errors raised | API calls/min | HTTP attempts/min "
        "| botocore retry sleeps (recorded) |"
    )
    out.append("|---|---|---|---|---|---|")
    for lib in h.CACHES:
        t = r.throttled[lib.key]
        out.append(
            f"| {lib.label} | {t['stale_fraction']:.0%} | {t['errors']:,} | "
            f"{t['calls_per_min']:,.0f} | {t['attempts_per_min']:,.0f} | {t['retry_sleeps']:,} |"
        )
    if "breakdown" in r.imports:
        out += ["", "### Where secretcache's import time goes (`-X importtime`, one run, us)", ""]
        out.append("| module (indented = imported by the line below it) | self | cumulative |")
        out.append("|---|---|---|")
        rows = r.imports["breakdown"]
        for i, (name, own, cumulative) in enumerate(rows):
            depth = len(name) - len(name.lstrip())
            parent = next((n for n, _, _ in rows[i + 1 :] if len(n) - len(n.lstrip()) < depth), "")
            if not name.lstrip().startswith("secretcache") and not parent.lstrip().startswith(
                "secretcache"
            ):
                continue  # deeper than a direct import of one of our modules
            shown = name.replace(" ", "&nbsp;")
            out.append(f"| `{shown}` | {own:,} | {cumulative:,} |")
    out += ["", "### Memory (1,000 secrets of 1 KiB; tracemalloc)", ""]
    out.append("| library | retained per secret | overhead beyond the 1,073 B value |")
    out.append("|---|---|---|")
    for lib in h.ALL:
        m = r.memory[lib.key]
        out.append(
            f"| {lib.label} | {m['retained_per_secret']:,.0f} B | "
            f"{m['overhead_per_secret']:,.0f} B |"
        )
    top = r.memory.get("secretcache", {}).get("top")
    if top:
        out += [
            "",
            "Where secretcache's retained bytes are allocated (per secret, top sites; "
            "the JSON decoder line holds the value and the response's other strings):",
            "",
        ]
        out.append("| allocation site | bytes per secret | objects per secret |")
        out.append("|---|---|---|")
        for site, size, objects in top:
            out.append(f"| `{site}` | {size:,.0f} | {objects:.1f} |")
    return "\n".join(out)


METHOD = """\
### Method

- One in-process moto backend (`mock_aws`) and ONE boto3 client (retries: standard
  mode, `max_attempts=3`, i.e. up to 4 HTTP attempts per call) shared by every
  library. A botocore `before-call` hook counts logical API calls per operation; a
  `before-send` hook counts HTTP attempts and, for the stampede, sleeps 50 ms per
  attempt. Secrets are created and rotated through a second, unmetered
  client.
- Rows: secretcache `SecretCache.get_secret_string`; aws-secretsmanager-caching
  `SecretCache.get_secret_string`; its drop-in `secretcache.compat`
  `SecretCache.get_secret_string` (the same calls: DescribeSecret, then GetSecretValue
  by VersionId); Powertools `SecretsProvider.get` and
  `parameters.get_secret` (its module-level provider given the shared client); a naive
  `cachetools.cached(TTLCache(ttl=300), lock=Lock())` around GetSecretValue (the lock
  guards the cache, not the fetch); and the floor, `def get(key): return d[key]`, a
  plain dict lookup called through a function of the same shape.
- Hits: `timeit` of `get(k)`, 7 repeats, median, default configuration, real clock.
- Threads: the same total number of hits done by 1 thread, then split over 8 threads;
  ratio = 1-thread wall time / 8-thread wall time (1.0 = no loss), median of 5.
- Stampede, rotation and throttling run on a virtual clock: secretcache (and
  secretcache.compat) takes `clock=FakeClock`, cachetools `timer=`; for
  aws-secretsmanager-caching and Powertools the benchmark (only) replaces the `datetime` name in
  `aws_secretsmanager_caching.cache.items` and
  `aws_lambda_powertools.utilities.parameters.base` with a subclass whose `now()` reads
  the same virtual clock. Common TTL 300 s (aws-secretsmanager-caching and
  secretcache.compat: `secret_refresh_interval=300`; Powertools: `max_age=300`).
- Throttling: `secretcache.testing.FaultInjector` answers every GetSecretValue and
  DescribeSecret with ThrottlingException from `before-send`, so botocore parses and
  retries it; botocore's retry sleeps are recorded, not slept. "API calls" are logical
  calls; "HTTP attempts" include botocore's retries (its standard-mode retry quota
  stops retrying after a burst of failures).
- Import: in a fresh interpreter, `import boto3`, then `time.perf_counter()` around
  `import <module>` (secretcache; aws_secretsmanager_caching;
  aws_lambda_powertools.utilities.parameters; cachetools); one unrecorded run first
  writes the bytecode cache (as pip does on install; `PYTHONDONTWRITEBYTECODE` is
  cleared for these runs), then the median of 7.
- Memory: the 1,000 secrets exist and the client is warm first; retained = traced
  memory with the cache populated minus traced memory after the cache is dropped;
  overhead = retained / 1,000 - `sys.getsizeof(value)` (1,073 B).
"""


def render(r: Results, info: dict[str, str]) -> str:
    """Return the compare section of RESULTS.md."""
    head = (
        "## Libraries compared (`bench/compare.py`)\n\n"
        f"- date: {info['date']}\n- machine: {info['nproc']} cores, {info['cpu']}, "
        f"{info['platform']}\n- Python: {info['python']}\n- versions: {info['versions']}\n"
        f"- command: `{info['command']}` (via `make bench`)\n\n"
        "Figures from a shared machine are noisy: read the medians and ratios, not any one "
        "absolute time.\n\n"
    )
    return head + summary(r) + "\n\n" + details(r) + "\n\n" + otel.render(r.otel) + "\n\n" + METHOD


def main(argv: list[str] | None = None) -> int:
    """Measure, print and record."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny counts; don't write")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--otel-only", action="store_true", help="only the instrumentation cost; don't write"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.otel_only:
        with h.moto_world() as world:
            print(otel.render(otel.otel_cost(world, quick=args.quick)))
        return 0
    results = measure(quick=args.quick)
    text = render(results, h.machine())
    print(text)
    print(f"\n(compare.py took {time.perf_counter() - started:.0f} s)")
    if not (args.quick or args.no_write):
        h.write_section("compare", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
