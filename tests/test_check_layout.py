"""tools/check_layout.py: no module over 400 lines and no import circle, in lint.

It runs on the real package (which must pass) and on small packages written here that
break each rule, including the ways a circle hides: an import inside a function and
one under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "check_layout.py"


@pytest.fixture(scope="module")
def checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_layout", TOOL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    package = tmp_path / "pkg"
    for name, text in {"__init__.py": "", **files}.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package


def test_the_package_has_no_long_module_and_no_circle() -> None:
    done = subprocess.run([sys.executable, str(TOOL)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no import circle" in done.stdout


def test_a_module_over_400_lines_fails(checker: ModuleType, tmp_path: Path) -> None:
    package = _package(tmp_path, {"short.py": "x = 1\n" * 400, "long.py": "x = 1\n" * 401})
    assert checker.long_modules(package) == [("pkg/long.py", 401)]
    assert checker.main([str(package)]) == 1


@pytest.mark.parametrize(
    "second",
    [
        "from . import first\n",  # at the top
        "def f():\n    from .first import x\n    return x\n",  # lazy, in a function
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .first import x\n",
        "from .sub.third import y\n",  # through a third module in a subpackage
    ],
    ids=["top", "lazy", "type-checking", "via-subpackage"],
)
def test_an_import_circle_fails_however_it_is_written(
    checker: ModuleType, tmp_path: Path, second: str, capsys: pytest.CaptureFixture[str]
) -> None:
    package = _package(
        tmp_path,
        {
            "first.py": "from .second import z\nx = 1\n",
            "second.py": second + "z = 2\n",
            "sub/__init__.py": "",
            "sub/third.py": "from ..first import x\ny = x\n",
        },
    )
    found = checker.cycles(checker.import_graph(package))
    assert found, second
    assert all("pkg.first" in circle for circle in found)
    assert checker.main([str(package)]) == 1
    assert "import circle: " in capsys.readouterr().out


def test_imports_that_go_one_way_pass(checker: ModuleType, tmp_path: Path) -> None:
    package = _package(
        tmp_path,
        {
            "core.py": "import json\nvalue = 1\n",
            "shell.py": "from . import core\nfrom .core import value\n",
            "__main__.py": "from .shell import core\n",
        },
    )
    assert checker.cycles(checker.import_graph(package)) == []
    assert checker.main([str(package)]) == 0
