"""Fetch a peer project's sdist with pip and extract its test files, at test time.

A peer's own tests are run against secretcache unmodified, never vendored: the sdist is
downloaded with pip into ``.cache/`` at the repository root, checked against its
published SHA-256, and only the files asked for are extracted. No network, no tests: a
failed download raises, it never skips.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

CACHE = Path(__file__).resolve().parents[1] / ".cache"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def download(requirement: str, filename: str, sha256: str, folder: Path) -> Path:
    """Return the verified sdist ``filename`` in ``folder``, downloading it on first use."""
    target = folder / filename
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as scratch:
            command = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                # the sdist is only unpacked for its test files, on any Python we test
                "--ignore-requires-python",
                "--no-binary",
                ":all:",
                requirement,
                "-d",
                scratch,
            ]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            fetched = Path(scratch) / filename
            if done.returncode != 0 or not fetched.exists():
                raise RuntimeError(
                    f"could not download {requirement} with pip, so its test suite cannot"
                    f" run against secretcache (offline? put {filename} in {folder} by"
                    f" hand):\n{done.stderr.strip()}"
                )
            os.replace(fetched, target)
    if _digest(target) != sha256:
        raise RuntimeError(f"{target} is not the published {filename} (SHA-256 mismatch)")
    return target


def extract(archive: Path, members: dict[str, Path]) -> list[Path]:
    """Extract each archive member to its path (once); return the paths in order."""
    paths = list(members.values())
    if all(path.exists() for path in paths):
        return paths
    with tarfile.open(archive) as tar:
        for member, path in members.items():
            handle = tar.extractfile(member)
            if handle is None:
                raise RuntimeError(f"{archive.name} has no {member}")
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".part")
            partial.write_bytes(handle.read())
            os.replace(partial, path)
    return paths
