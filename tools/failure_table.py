"""Print (or write into the manual) the failure table, from the fault matrix the tests check.

Usage: ``.venv/bin/python tools/failure_table.py`` prints the table; ``--block`` wraps it
in the ``<!-- failure-table:start -->`` / ``<!-- failure-table:end -->`` markers;
``--write`` replaces the block between those markers in docs/freshness.md.
``tests/test_fault_matrix.py`` fails while the page and the matrix differ.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from faultmatrix import markdown_table

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "freshness.md"
START, END = "<!-- failure-table:start -->", "<!-- failure-table:end -->"


def main(argv: list[str] | None = None) -> int:
    """Write the table to stdout (``--block``: with its markers), or into the page."""
    args = sys.argv[1:] if argv is None else argv
    table = markdown_table()
    block = f"{START}\n{table}{END}\n"
    if "--write" in args:
        text = PAGE.read_text(encoding="utf-8")
        pattern = re.compile(re.escape(START) + r"\n.*?" + re.escape(END) + r"\n", re.DOTALL)
        if pattern.search(text) is None:
            sys.stderr.write(f"{PAGE.relative_to(ROOT)} has no {START} ... {END} block\n")
            return 1
        PAGE.write_text(pattern.sub(lambda _: block, text, count=1), encoding="utf-8")
        return 0
    sys.stdout.write(block if "--block" in args else table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
