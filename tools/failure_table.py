"""Print the README's failure table from the fault matrix the tests check.

Usage: ``.venv/bin/python tools/failure_table.py`` -- paste the output between the
``<!-- failure-table:start -->`` and ``<!-- failure-table:end -->`` markers in README.md;
``tests/test_fault_matrix.py`` fails if the two differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from faultmatrix import markdown_table


def main(argv: list[str] | None = None) -> int:
    """Write the table to stdout, wrapped in the README markers with ``--block``."""
    args = sys.argv[1:] if argv is None else argv
    table = markdown_table()
    if "--block" in args:
        table = f"<!-- failure-table:start -->\n{table}<!-- failure-table:end -->\n"
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
