"""Check the package's shape: no module over 400 lines, no import circle.

Usage: ``.venv/bin/python tools/check_layout.py [PACKAGE_DIR]`` (default: ``secretcache/``
next to this folder); ``make lint`` runs it. It prints each module over the limit and
each circle of imports, and exits 1 if there is any.

Every import counts as an edge, wherever it stands: at the top of a module, inside a
function (a lazy import still makes the two modules depend on each other), or under
``if TYPE_CHECKING:`` (the modules' types depend on each other even if Python never
runs that import). Importing a package's name imports its ``__init__``; the parent
packages a module sits in are not counted as its imports.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

__all__ = ["MAX_LINES", "cycles", "import_graph", "long_modules", "main"]

MAX_LINES = 400
ROOT = Path(__file__).resolve().parent.parent


def _modules(package: Path) -> dict[str, Path]:
    """Return every module of ``package`` by its dotted name."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imported(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    """Return the dotted names an import statement asks for (modules or their names)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level == 0:
        base = node.module or ""
    else:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, *([node.module] if node.module else [])])
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def import_graph(package: Path) -> dict[str, set[str]]:
    """Return, for each module of ``package``, the modules of it that it imports."""
    modules = _modules(package)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            names = _imported(module, path, node)
            base, members = names[0], names[1:] or [names[0]]
            # ``from pkg import sub``: the submodule when it is one, else pkg itself.
            targets = {m for m in members if m in modules}
            if isinstance(node, ast.ImportFrom) and len(targets) < len(members):
                targets.add(base)
            edges |= {t for t in targets if t in modules and t != module}
        graph[module] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return each circle of imports (a strongly connected set of two or more modules)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            members = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                members.append(member)
                if member == node:
                    break
            if len(members) > 1:
                found.append(sorted(members))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def long_modules(package: Path, limit: int = MAX_LINES) -> list[tuple[str, int]]:
    """Return (path, lines) for each module of ``package`` longer than ``limit`` lines."""
    long = []
    for path in _modules(package).values():
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count > limit:
            long.append((str(path.relative_to(package.parent)), count))
    return sorted(long)


def main(argv: list[str] | None = None) -> int:
    """Print what is wrong with the package's shape; return 1 if anything is."""
    args = sys.argv[1:] if argv is None else argv
    package = Path(args[0]) if args else ROOT / "secretcache"
    problems = 0
    for path, count in long_modules(package):
        print(f"{path}: {count} lines (at most {MAX_LINES})")
        problems += 1
    for circle in cycles(import_graph(package)):
        print(f"import circle: {' <-> '.join(circle)}")
        problems += 1
    if problems:
        return 1
    print(f"{package.name}: no module over {MAX_LINES} lines, no import circle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
