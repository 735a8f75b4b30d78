"""Draw the plots of docs/benchmarks.md from what the bench scripts recorded.

Run by ``make bench-record`` (after bench/record.py) or ``.venv/bin/python bench/plots.py``.
The hit latencies come from the table in ``bench/RESULTS.md`` that the manual quotes; the
fleet's calls per minute and the outage's reads per minute come from the series
``bench/fleet.py`` and ``bench/outage.py`` recorded in ``bench/results/*.json``. The SVGs go
to ``docs/img/`` (``--out DIR`` elsewhere); they carry no date, so an unchanged run
redraws them byte for byte. ``--run`` draws the unrecorded run in ``bench/out/`` into
``bench/out/img/`` instead (what ``make bench`` does).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: never a window

import matplotlib.pyplot as plt  # after choosing the backend

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "RESULTS.md"
DATA = BENCH / "results"
OUT = BENCH.parent / "docs" / "img"
# What `make bench` just measured (bench/record.py publishes it).
RUN = Path(os.environ.get("SECRETCACHE_BENCH_OUT") or BENCH / "out")

# Colours that stay apart for colour-blind readers (Okabe-Ito).
BLUE, ORANGE, GREEN, RED, GREY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#999999"


def hit_latencies(results: str) -> list[tuple[str, float]]:
    """Return (library, ns per hit) from RESULTS.md's compare table, fastest first."""
    lines = results.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("| cache hit, 1 thread"))
    header = next(lines[i] for i in range(at, -1, -1) if lines[i].startswith("| measurement"))

    def cells(line: str) -> list[str]:
        return [cell.strip() for cell in line.strip().strip("|").split("|")]

    columns = cells(header)
    ns = {
        name: [float(n.replace(",", "")) for n in re.findall(r"([\d,.]+) ns", cell)]
        for name, cell in zip(columns, cells(lines[at]), strict=True)
    }

    def column(prefix: str) -> list[float]:
        return next(values for name, values in ns.items() if name.startswith(prefix))

    floor = re.search(r"Dict floor:.*?([\d,.]+) ns/op", results)
    if floor is None:
        raise SystemExit("RESULTS.md has no dict floor line: run bench/compare.py first")
    powertools = column("Powertools")
    bars = [
        ("a plain dict lookup (the floor)", float(floor.group(1).replace(",", ""))),
        ("secretcache", column("secretcache")[0]),
        ("aws-secretsmanager-caching", column("aws-secretsmanager-caching")[0]),
        ("Powertools SecretsProvider.get", powertools[0]),
        ("Powertools get_secret", powertools[1]),
        ("cachetools TTLCache + a lock", column("naive")[0]),
    ]
    if any(name.startswith("secretcache.compat") for name in ns):
        bars.append(("secretcache.compat", column("secretcache.compat")[0]))
    return sorted(bars, key=lambda bar: bar[1])


def plot_hits(results: str, out: Path) -> Path:
    """Bar chart of one cache hit's time per library (log scale)."""
    bars = hit_latencies(results)
    fig, ax = plt.subplots(figsize=(8, 3.2))
    names = [name for name, _ in bars]
    values = [value for _, value in bars]
    colours = [BLUE if name == "secretcache" else GREY for name in names]
    ax.barh(names, values, color=colours)
    ax.set_xscale("log")
    ax.invert_yaxis()
    for y, value in enumerate(values):
        ax.text(value * 1.08, y, f"{value:,.0f} ns", va="center", fontsize=9)
    ax.set_xlim(right=max(values) * 6)
    ax.set_xlabel("time per cache hit, one thread (ns, log scale; shorter is better)")
    ax.set_title("A cache hit (bench/compare.py)")
    return _save(fig, out / "bench-hits.svg")


def plot_fleet(data: dict[str, Any], out: Path) -> Path:
    """Lines of the fleet's API calls per minute, with and without the spreads."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    # The defaults against the same fleet without the cold spread (jitter=0 is in the data
    # too, but its one-minute spikes to every environment would hide the other two).
    for run, colour in zip(data["runs"][:2], (BLUE, ORANGE), strict=True):
        counts = run["calls_per_minute"]
        name = run["label"].replace("`", "")
        ax.step(range(len(counts)), counts, where="post", color=colour, lw=1.5, label=name)
    ttl_minutes = 2 * data["ttl"] / 60
    ax.axvspan(0, ttl_minutes, color=GREY, alpha=0.15, lw=0)
    ax.text(ttl_minutes + 0.5, ax.get_ylim()[1] * 0.85, "<- first 2 TTLs", va="top", fontsize=8)
    ax.axvline(data["rotate_at"] / 60, color=RED, ls="--", lw=1)
    ax.text(data["rotate_at"] / 60 + 1, ax.get_ylim()[1] * 0.95, "rotation", va="top", color=RED)
    ax.set_xlim(0, data["seconds"] / 60)
    ax.set_xlabel("minutes since a deploy")
    ax.set_ylabel("GetSecretValue calls per minute")
    ax.set_title(f"{data['envs']:,} Lambda environments, one secret, ttl=300 (bench/fleet.py)")
    ax.legend(loc="upper right", bbox_to_anchor=(1.0, 0.88), frameon=False)
    return _save(fig, out / "bench-fleet.svg")


def plot_outage(data: dict[str, Any], out: Path) -> Path:
    """Stacked bars of each run's reads per minute: fresh, served stale, raised."""
    runs = data["runs"]
    fig, axes = plt.subplots(len(runs), 1, figsize=(8, 4.8), sharex=True, sharey=True)
    start, end = data["outage_start"] / 60, data["outage_end"] / 60
    for ax, run in zip(axes, runs, strict=True):
        label, minutes = run["label"], run["reads_per_minute"]
        x = range(len(minutes))
        fresh = [m["fresh"] for m in minutes]
        stale = [m["stale"] for m in minutes]
        raised = [m["raised"] for m in minutes]
        ax.bar(x, fresh, width=1.0, align="edge", color=GREEN, label="served fresh")
        ax.bar(x, stale, width=1.0, align="edge", bottom=fresh, color=ORANGE, label="served stale")
        tops = [f + s for f, s in zip(fresh, stale, strict=True)]
        ax.bar(x, raised, width=1.0, align="edge", bottom=tops, color=RED, label="raised")
        for edge in (start, end):
            ax.axvline(edge, color="black", ls="--", lw=1)
        ax.set_title(label.replace("`", ""), fontsize=10, loc="left")
        ax.set_ylabel("reads / min")
        ax.set_ylim(0, 8000)
    axes[0].legend(loc="upper right", ncols=3, frameon=False, fontsize=9)
    axes[-1].set_xlabel(
        f"minutes; between the dashed lines us-east-1 is down, every attempt a connect "
        f"timeout ({data['rate']} reads/s)"
    )
    fig.suptitle("A one-hour regional outage (bench/outage.py)")
    return _save(fig, out / "bench-outage.svg")


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    """Draw every plot that has data; say which are missing."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--run",
        action="store_true",
        help="draw this run's figures (bench/out/) into bench/out/img, not the recorded ones",
    )
    parser.add_argument("--out", type=Path, default=None, help="where the SVGs go")
    args = parser.parse_args(argv)
    results, data = (RUN / "RESULTS.md", RUN / "results") if args.run else (RESULTS, DATA)
    out = args.out or (RUN / "img" if args.run else OUT)
    out.mkdir(parents=True, exist_ok=True)
    plt.rcParams.update({"svg.hashsalt": "secretcache", "svg.fonttype": "none"})
    drawn = [plot_hits(results.read_text(encoding="utf-8"), out)]
    for name, plot in (("fleet", plot_fleet), ("outage", plot_outage)):
        path = data / f"{name}.json"
        if not path.exists():
            print(f"no {path}: run bench/{name}.py first")
            return 1
        drawn.append(plot(json.loads(path.read_text(encoding="utf-8")), out))
    for path in drawn:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
