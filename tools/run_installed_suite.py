"""Run the test suite against the secretcache installed in this interpreter (a wheel).

Copies the repository's files (tracked, or new and not ignored) except the
``secretcache`` package itself to a temporary directory and runs pytest there. The
installed wheel is then the only ``secretcache`` to import, so a module or data file left
out of it fails the run, as it would for a user.

Usage: ``python tools/run_installed_suite.py [pytest arguments]``
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [name for name in listed if not name.startswith("secretcache/")]


def main(argv: list[str]) -> int:
    """Copy the suite out of the source tree; run it against the installed package."""
    with tempfile.TemporaryDirectory(prefix="secretcache-installed-") as tmp:
        for name in _files():
            source = ROOT / name
            if source.is_file():
                target = Path(tmp) / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
        locate = "import secretcache, sys; sys.stdout.write(secretcache.__file__)"
        where = subprocess.run(
            [sys.executable, "-c", locate],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        if Path(where).resolve().is_relative_to(ROOT / "secretcache"):
            print(f"secretcache imports from the source tree ({where}), not a wheel")
            return 2
        print(f"testing the installed secretcache at {where}", flush=True)
        return subprocess.call(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *argv], cwd=tmp
        )


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
