"""Fail when a built wheel's or sdist's description has a link a package index cannot follow.

Usage: ``python tools/check_index_page.py dist/*`` (``make wheel`` runs it). Reads the
wheel's ``*.dist-info/METADATA`` and the sdist's ``PKG-INFO``: the long description must
be Markdown, every link in it absolute (``https://...``; a ``docs/...`` path or a bare
``#anchor`` is a 404 on the index), and ``Project-URL`` must name the repository.
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

from index_readme import is_relative, links


def metadata_of(path: Path) -> str:
    """Return the core metadata file of a wheel or an sdist."""
    if path.name.endswith(".whl"):
        with zipfile.ZipFile(path) as wheel:
            name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
            return wheel.read(name).decode("utf-8")
    if path.name.endswith(".tar.gz"):
        with tarfile.open(path) as sdist:
            member = next(
                m
                for m in sdist.getmembers()
                if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")
            )
            extracted = sdist.extractfile(member)
            assert extracted is not None
            return extracted.read().decode("utf-8")
    raise ValueError(f"{path}: neither a wheel nor an sdist")


def problems(metadata: str) -> list[str]:
    """Return what is wrong with the description in ``metadata`` (empty when nothing is)."""
    message = Parser().parsestr(metadata)
    found = []
    if message.get("Description-Content-Type", "").split(";")[0] != "text/markdown":
        found.append("Description-Content-Type is not text/markdown")
    description = message.get_payload()
    if not isinstance(description, str) or not description.strip():
        found.append("no long description")
        description = ""
    urls = [str(value).partition(",")[0] for value in message.get_all("Project-URL") or []]
    if "Repository" not in urls:
        found.append("no Project-URL named Repository")
    found += [f"relative link {target!r}" for target in links(description) if is_relative(target)]
    return found


def main(argv: list[str]) -> int:
    """Check each archive named; print what is wrong; 1 if anything is."""
    if not argv:
        print("usage: check_index_page.py DIST_FILE ...", file=sys.stderr)
        return 2
    failed = False
    for name in argv:
        found = problems(metadata_of(Path(name)))
        for problem in found:
            print(f"{name}: {problem}", file=sys.stderr)
        if not found:
            print(f"{name}: the description is self-contained")
        failed = failed or bool(found)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
