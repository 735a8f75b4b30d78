"""Smoke runs of bench/ with tiny counts, so the benchmarks cannot rot.

No timing is asserted anywhere: only that every measurement runs, renders, and that the
call counts the benchmarks report follow secretcache's contract.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from types import ModuleType

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _load(name: str) -> ModuleType:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compare() -> ModuleType:
    return _load("compare")


@pytest.fixture(scope="module")
def fleet() -> ModuleType:
    return _load("fleet")


@pytest.fixture(scope="module")
def outage() -> ModuleType:
    return _load("outage")


@pytest.fixture(scope="module")
def quick_results(compare: ModuleType) -> Any:
    return compare.measure(quick=True)


def test_compare_measures_every_library(compare: ModuleType, quick_results: Any) -> None:
    keys = {"secretcache", "aws", "compat", "pt_provider", "pt_get", "naive"}
    assert keys | {"floor"} <= set(quick_results.hit)
    assert keys <= set(quick_results.stampede)
    assert keys <= set(quick_results.rotation)
    assert keys <= set(quick_results.throttled)
    assert "secretcache" in quick_results.imports
    assert quick_results.memory["secretcache"]["retained_per_secret"] > 0


def test_compare_counts_calls_as_the_contract_says(quick_results: Any) -> None:
    # secretcache: one call per stampede; stale served while throttled.
    assert quick_results.stampede["secretcache"]["cold_max"] == 1
    assert quick_results.stampede["secretcache"]["expired_max"] == 1
    assert quick_results.throttled["secretcache"]["stale_fraction"] == 1
    # The AWS library's cold read is DescribeSecret then GetSecretValue, single-flight.
    assert quick_results.stampede["aws"]["cold_ops"] == {
        "DescribeSecret": 1,
        "GetSecretValue": 1,
    }
    # secretcache.compat: the AWS library's calls, single-flight, stale while throttled.
    assert quick_results.stampede["compat"]["cold_ops"] == {
        "DescribeSecret": 1,
        "GetSecretValue": 1,
    }
    assert quick_results.throttled["compat"]["stale_fraction"] == 1
    # Powertools never serves stale: every throttled read raises.
    assert quick_results.throttled["pt_provider"]["errors"] > 0


def test_compare_renders_the_summary_table(compare: ModuleType, quick_results: Any) -> None:
    text = compare.render(quick_results, compare.h.machine())
    assert "| measurement | secretcache |" in text
    for target in ("<= 10x", ">= 0.8x", "<= 250 B", "<= 5 ms", "stale, <= 6"):
        assert target in text


def test_fleet_runs_every_fleet(fleet: ModuleType) -> None:
    runs = fleet.run(quick=True)
    for result in runs.all():
        assert result.total_calls > 0
        assert result.never_saw_new == 0  # rotation at 300 s, run ends at 900 s
        assert result.stale_max <= 300 + 60  # one TTL plus the wait for a request
        assert result.busiest_window >= result.mean_window > 0
    assert set(runs.defaults.calls) == {"GetSecretValue"}
    assert runs.describe.calls["DescribeSecret"] > 0
    # One GetSecretValue per environment at start and one after the rotation.
    assert runs.describe.calls["GetSecretValue"] == 2 * runs.describe.envs
    # jitter=0: every environment reloads exactly once per TTL (900 s: at 0, 300, 600).
    assert runs.no_jitter.total_calls == 3 * runs.no_jitter.envs
    assert runs.deploy.envs > runs.defaults.envs
    assert runs.rolling.peak_1s < runs.defaults.peak_1s  # nobody starts at once
    hosts = runs.hosts
    assert hosts is not None
    # 8 workers sharing one Agent ask Secrets Manager less than 8 caches of their own.
    assert 0 < hosts.agent.second_hour < hosts.own.second_hour
    assert hosts.agent.agent_requests > 0
    text = fleet.render(runs, fleet.h.machine())
    assert "in-process caches against one shared Agent" in text
    assert "What this means for sizing" in text
    assert "| busiest / mean 60 s window after 2 TTLs |" in text


def test_fleet_regional_outage_is_served_by_the_replica(fleet: ModuleType) -> None:
    result = fleet.simulate(
        "outage", envs=20, seconds=900.0, rotate_at=300.0, outage=(150.0, 600.0)
    )
    assert result.errors == 0
    assert result.never_saw_new == 0  # the rotation replicated during the outage
    assert result.outage_replica_calls > 0
    assert result.replica_calls["GetSecretValue"] == result.outage_replica_calls
    # One probe of the primary per refresh: as many as the replica answered.
    assert result.outage_primary_calls == result.outage_replica_calls


def test_outage_serves_every_read_with_a_fallback_and_not_without(outage: ModuleType) -> None:
    one, two = outage.run(quick=True)
    assert not one.fallback
    assert two.fallback
    assert two.served_share == 1.0
    assert two.errors == two.stale == 0
    assert two.calls(outage.WEST) >= 1
    assert two.primary_calls_per_key_hour <= outage.TARGET_PRIMARY_CALLS
    assert all(cold.served and cold.took <= outage.TARGET_COLD for cold in two.cold)
    assert one.calls(outage.WEST) == 0
    assert one.stale > 0  # a 10-minute outage stays within max_stale
    assert not any(cold.served for cold in one.cold)  # no value for a cold key
    assert one.attempts(outage.EAST) > one.calls(outage.EAST)  # botocore's retries
    assert two.attempts(outage.EAST) == two.calls(outage.EAST)  # one attempt each
    text = outage.render([one, two], outage.h.machine())
    assert "| reads served during the outage |" in text


def test_results_sections_are_replaced_independently(
    compare: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = compare.h
    monkeypatch.setattr(harness, "RESULTS", str(tmp_path / "RESULTS.md"))
    harness.write_section("compare", "first compare")
    harness.write_section("fleet", "first fleet")
    harness.write_section("compare", "second compare")
    text = (tmp_path / "RESULTS.md").read_text()
    assert "second compare" in text
    assert "first fleet" in text
    assert "first compare" not in text


@pytest.mark.postgres
def test_rotation_logins_runs_and_renders(sm: Any, postgres: Any) -> None:
    rotation = _load("rotation_logins")
    world = rotation.h.World(sm, sm, rotation.h.Meter(sm))
    figures = rotation.run_once(world, postgres, "hand-database-first", "psycopg-pool", 0)
    assert figures.failed_queries == 0
    assert len(figures.rotations) == rotation.ROTATIONS
    assert figures.queries > 0
    rate = rotation.throughput(world, postgres, "psycopg-connect", gated=False)
    assert rate > 0
    text = rotation.render(
        {("hand-database-first", "psycopg-pool"): figures},
        {"psycopg-connect": (rate, rate)},
        rotation.h.machine(),
    )
    assert "| order | setup (8 threads) | refused logins per rotation: server log |" in text
    assert "| `connect()` per query |" in text
    assert "target <= 2 met?" in text


def test_coldstart_runs_every_handler_and_renders() -> None:
    coldstart = _load("coldstart")
    results = coldstart.measure(quick=True)
    keys = {"secretcache", "extension", "boto3", "powertools", "aws", "botocore", "http", "bare"}
    assert set(results.runs) == keys
    assert all(len(runs) == results.rounds for runs in results.runs.values())
    # Each child checked the value it read; these say what each one imported.
    assert not results.imports_boto3("secretcache")
    assert not results.imports_boto3("aws")
    assert not results.imports_boto3("extension")  # read through the emulator's process
    assert results.imports_boto3("boto3")
    assert results.imports_boto3("powertools")
    text = coldstart.render(results, coldstart.h.machine())
    assert "| handler | wall (median) | x raw boto3 |" in text
    assert "Target: secretcache <= 0.9x raw boto3" in text
    assert "Target: secretcache through the extension <= 0.3x raw boto3" in text
    for handler in coldstart.HANDLERS:
        assert handler.label in text


def test_coldstart_counts_instructions_where_valgrind_runs(tmp_path: Path) -> None:
    coldstart = _load("coldstart")
    env = coldstart.child_env("http://127.0.0.1:9")  # the bare handler makes no call
    counted = coldstart.count_instructions(coldstart.BARE, env, str(tmp_path))
    if shutil.which("valgrind") is None:
        assert counted is None  # the table then says n/a
    else:
        assert counted is not None
        assert counted > 1  # millions: an interpreter's start and exit


# -- bench/plots.py: the manual's plots -------------------------------------------------


def test_the_hit_bars_come_from_the_results_table() -> None:
    plots = _load("plots")
    bars = dict(plots.hit_latencies(plots.RESULTS.read_text(encoding="utf-8")))
    assert set(bars) == {
        "a plain dict lookup (the floor)",
        "secretcache",
        "secretcache.compat",
        "aws-secretsmanager-caching",
        "Powertools SecretsProvider.get",
        "Powertools get_secret",
        "cachetools TTLCache + a lock",
    }
    assert min(bars, key=bars.__getitem__) == "a plain dict lookup (the floor)"
    assert bars["secretcache"] < bars["aws-secretsmanager-caching"]
    assert bars["secretcache.compat"] < bars["aws-secretsmanager-caching"]


def test_plots_are_drawn_from_the_series_the_scripts_write(
    fleet: ModuleType, outage: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plots = _load("plots")
    runs = fleet.run(quick=True)
    fleet_series = fleet.series(runs)
    first = fleet_series["runs"][0]
    assert first["label"] == "defaults"
    assert sum(first["calls_per_minute"]) == runs.defaults.total_calls
    assert len(first["calls_per_minute"]) == runs.defaults.seconds / 60
    outage_runs = outage.run(quick=True)
    outage_series = outage.series(outage_runs)
    reads = (outage.BEFORE + outage_runs[0].outage + outage.AFTER) * outage.RATE
    stale = []
    for run in outage_series["runs"]:
        minutes = run["reads_per_minute"]
        assert min(count for minute in minutes for count in minute.values()) >= 0
        assert sum(sum(minute.values()) for minute in minutes) == reads
        stale.append(sum(minute["stale"] for minute in minutes))
    assert stale[0] >= outage_runs[0].stale > 0  # one region: stale (and just after)
    assert stale[1] == 0  # the fallback region answers fresh

    data = tmp_path / "results"
    data.mkdir()
    (data / "fleet.json").write_text(json.dumps(fleet_series), encoding="utf-8")
    (data / "outage.json").write_text(json.dumps(outage_series), encoding="utf-8")
    monkeypatch.setattr(plots, "DATA", data)
    assert plots.main(["--out", str(tmp_path / "img")]) == 0
    titles = {
        "bench-hits.svg": "A cache hit",
        "bench-fleet.svg": "Lambda environments",
        "bench-outage.svg": "A one-hour regional outage",
    }
    for name, title in titles.items():
        assert title in (tmp_path / "img" / name).read_text(encoding="utf-8"), name


def test_the_manual_shows_every_plot() -> None:
    page = (BENCH.parent / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    for name in ("bench-hits.svg", "bench-fleet.svg", "bench-outage.svg"):
        assert f"](img/{name})" in page
        assert (BENCH.parent / "docs" / "img" / name).is_file()


def test_settings_counts_follow_the_contract() -> None:
    settings = _load("settings")
    m = settings.run(quick=True)
    n = m.constructions
    assert m.calls == {
        "pydantic-settings": 2 * n,
        "secretcache, no cache": 2 * n,
        "secretcache, cache=": 2,
    }
    assert m.rotation == {
        "get": {"GetSecretValue": 2},
        "describe": {"DescribeSecret": 2, "GetSecretValue": 1},
    }
    assert m.rebuilds == {"get": 1, "describe": 1}
    assert m.threads == {"rebuilds": 1, "GetSecretValue": 2}
    assert "| secretcache, cache= | 2 |" in settings.render(m, settings.h.machine())
