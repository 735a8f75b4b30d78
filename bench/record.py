"""Publish one `make bench` run: its sections into bench/RESULTS.md, its series into bench/results/.

Run with ``make bench-record`` (which then redraws docs/img/ from what was recorded). A
bench run writes only into ``bench/out/`` (git-ignored); the manual quotes
``bench/RESULTS.md``, and ``tests/test_docs_tables.py`` checks every figure in
docs/benchmarks.md's tables against it. So recording is the deliberate step: after it,
update the figures the docs quote, and ``make test`` says which ones still differ.

Every section the run wrote replaces the recorded section of the same name (a new name is
appended), and every recorded section the run did not write stays as it was: a partial run
(one script) records only what it measured.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import _harness as h

BENCH = Path(__file__).resolve().parent
RECORDED = BENCH / "RESULTS.md"
RECORDED_DATA = BENCH / "results"


def record(out: Path, recorded: Path, recorded_data: Path) -> list[str]:
    """Merge the run in ``out`` into the recorded files; return what was recorded."""
    run = out / "RESULTS.md"
    if not run.exists():
        raise SystemExit(f"no {run}: run `make bench` (or one bench script) first")
    text = recorded.read_text(encoding="utf-8") if recorded.exists() else h.HEADER
    done = []
    for name, body in h.sections(run.read_text(encoding="utf-8")).items():
        text = h.merge_section(text, name, body)
        done.append(f"section {name}")
    recorded.write_text(text, encoding="utf-8")
    recorded_data.mkdir(parents=True, exist_ok=True)
    for series in sorted((out / "results").glob("*.json")):
        shutil.copyfile(series, recorded_data / series.name)
        done.append(f"series {series.name}")
    return done


def main(argv: list[str] | None = None) -> int:
    """Record the run; say what to update next."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(h.OUT_DIR), help="the run to record")
    args = parser.parse_args(argv)
    for line in record(args.out, RECORDED, RECORDED_DATA):
        print(f"recorded {line}")
    print(
        "now quote the new figures in docs/benchmarks.md (and the README's hit latency); "
        "tests/test_docs_tables.py names any figure that is not in bench/RESULTS.md"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
