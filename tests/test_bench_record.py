"""`make bench` writes a run where the suite does not read it; `make bench-record` publishes it.

The manual quotes bench/RESULTS.md (tests/test_docs_tables.py checks its figures), so a
benchmark run on a user's machine must not rewrite it: a run goes to bench/out/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"

PROBE = """
import _harness as h
h.script_main(
    "probe", "A probe.", "quick", lambda quick: 7,
    lambda n, machine: f"| probe | {n} |", argv=[], data=lambda n: {"n": n},
)
"""


def _bench_copy(tmp_path: Path) -> Path:
    bench = tmp_path / "bench"
    bench.mkdir()
    for name in ("_harness.py", "record.py", "RESULTS.md"):
        shutil.copyfile(BENCH / name, bench / name)
    shutil.copytree(BENCH / "results", bench / "results")
    return bench


def _run(bench: Path, *argv: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "SECRETCACHE_BENCH_OUT"}
    done = subprocess.run(
        [sys.executable, *argv], cwd=bench, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_bench_run_leaves_the_recorded_figures_alone(tmp_path: Path) -> None:
    bench = _bench_copy(tmp_path)
    recorded = (bench / "RESULTS.md").read_bytes()
    series = {p.name: p.read_bytes() for p in (bench / "results").iterdir()}
    (bench / "probe.py").write_text(PROBE, encoding="utf-8")
    _run(bench, "probe.py")
    assert (bench / "RESULTS.md").read_bytes() == recorded
    assert {p.name: p.read_bytes() for p in (bench / "results").iterdir()} == series
    run = (bench / "out" / "RESULTS.md").read_text(encoding="utf-8")
    assert "<!-- begin probe -->\n| probe | 7 |\n<!-- end probe -->" in run
    assert json.loads((bench / "out" / "results" / "probe.json").read_text()) == {"n": 7}


def test_recording_replaces_the_runs_sections_and_keeps_the_others(tmp_path: Path) -> None:
    bench = _bench_copy(tmp_path)
    before = (bench / "RESULTS.md").read_text(encoding="utf-8")
    assert "<!-- begin compare -->" in before
    assert "<!-- begin fleet -->" in before
    fleet = before.split("<!-- begin fleet -->")[1].split("<!-- end fleet -->")[0]
    out = bench / "out"
    (out / "results").mkdir(parents=True)
    (out / "RESULTS.md").write_text(
        "# a run\n\n<!-- begin compare -->\nnew compare\n<!-- end compare -->\n\n"
        "<!-- begin extension -->\na section added by a new script\n<!-- end extension -->\n",
        encoding="utf-8",
    )
    (out / "results" / "fleet.json").write_text('{"new": true}\n', encoding="utf-8")
    printed = _run(bench, "record.py")
    after = (bench / "RESULTS.md").read_text(encoding="utf-8")
    assert "<!-- begin compare -->\nnew compare\n<!-- end compare -->" in after
    assert f"<!-- begin fleet -->{fleet}<!-- end fleet -->" in after  # not in the run: kept
    assert after.rstrip().endswith(
        "<!-- begin extension -->\na section added by a new script\n<!-- end extension -->"
    )
    assert after.startswith("# secretcache benchmark results")
    assert json.loads((bench / "results" / "fleet.json").read_text()) == {"new": True}
    assert "recorded section compare" in printed
    assert "docs/benchmarks.md" in printed


def test_recording_without_a_run_says_so(tmp_path: Path) -> None:
    bench = _bench_copy(tmp_path)
    done = subprocess.run(
        [sys.executable, "record.py"], cwd=bench, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "run `make bench`" in done.stderr


def test_the_run_directory_is_git_ignored() -> None:
    lines = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "/bench/out/" in lines
