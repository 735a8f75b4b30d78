"""Check that examples/requirements.txt installs secretcache from the wheel built here.

Usage: ``python tools/check_example_install.py`` (``make example``, after ``make
example-wheel``). Runs the step ``sam build`` runs, ``pip install -r
examples/requirements.txt``, as a dry run into nothing (``--dry-run --ignore-installed
--report``), and reads pip's report: secretcache must come from ``examples/wheels/`` at
the version this clone builds, and every other line of the file must resolve too (pip
asks the package index for those, as ``sam build`` does).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "examples" / "requirements.txt"
WHEELS = ROOT / "examples" / "wheels"


def version() -> str:
    """Return the version this clone builds (secretcache/_version.py)."""
    text = (ROOT / "secretcache" / "_version.py").read_text(encoding="utf-8")
    found = re.search(r"""__version__\s*=\s*["']([^"']+)["']""", text)
    if found is None:
        raise SystemExit("no __version__ in secretcache/_version.py")
    return found[1]


def requirement_names(requirements: str) -> list[str]:
    """Return the distribution names the requirement lines name (options and comments left out)."""
    names = []
    for line in requirements.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            found = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
            if found:
                names.append(re.sub(r"[-_.]+", "-", found[0]).lower())
    return names


def problems(report: dict[str, Any], names: list[str], wheels: Path, want: str) -> list[str]:
    """Return what is wrong with pip's install report (empty when nothing is)."""
    chosen = {
        re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower(): item
        for item in report.get("install", [])
    }
    found = [f"{name} was not resolved" for name in names if name not in chosen]
    ours = chosen.get("secretcache")
    if ours is not None:
        url = ours.get("download_info", {}).get("url", "")
        if not url.startswith(wheels.as_uri() + "/"):
            found.append(f"secretcache comes from {url}, not from {wheels}")
        if ours["metadata"]["version"] != want:
            found.append(
                f"secretcache {ours['metadata']['version']} resolved; this clone is {want}"
            )
    return found


def resolve(requirements: Path, *pip_options: str) -> dict[str, Any]:
    """Return pip's install report for ``requirements`` (a dry run, nothing installed).

    pip runs in a scratch directory: the file's relative --find-links must resolve from
    the file itself, wherever ``sam build`` runs pip.
    """
    with tempfile.TemporaryDirectory(prefix="secretcache-example-") as tmp:
        report_path = Path(tmp) / "report.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--dry-run",
                "--ignore-installed",
                "--quiet",
                *pip_options,
                "--report",
                str(report_path),
                "-r",
                str(requirements),
            ],
            cwd=tmp,
            check=True,
        )
        report: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8"))
    return report


def main() -> int:
    """Run pip's dry run; print what it would install; 1 if secretcache is not ours."""
    if not any(WHEELS.glob("secretcache-*.whl")):
        print(f"no wheel in {WHEELS}: run `make example-wheel`", file=sys.stderr)
        return 1
    report = resolve(REQUIREMENTS)
    names = requirement_names(REQUIREMENTS.read_text(encoding="utf-8"))
    found = problems(report, names, WHEELS, version())
    for problem in found:
        print(f"examples/requirements.txt: {problem}", file=sys.stderr)
    if not found:
        installs = sorted(
            f"{i['metadata']['name']} {i['metadata']['version']}" for i in report["install"]
        )
        print(f"examples/requirements.txt installs: {', '.join(installs)}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
