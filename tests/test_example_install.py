"""examples/requirements.txt resolves secretcache from the wheel a clone builds.

``make example`` runs tools/check_example_install.py with the real wheel (pip asks the
index for the other lines); these tests run pip itself offline on the real file, with
stand-in wheels, and the check's reading of pip's report.
"""

from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from check_example_install import (  # noqa: E402
    REQUIREMENTS,
    WHEELS,
    problems,
    requirement_names,
    resolve,
)

import secretcache  # noqa: E402


def _wheel(where: Path, name: str, version: str) -> Path:
    """Write an empty, installable wheel: what pip needs to resolve a requirement to it."""
    where.mkdir(parents=True, exist_ok=True)
    dist = name.replace("-", "_")
    path = where / f"{dist}-{version}-py3-none-any.whl"
    info = f"{dist}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(
            f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        )
        wheel.writestr(
            f"{info}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        wheel.writestr(f"{info}/RECORD", "")
    return path


def test_the_file_names_this_clones_version_and_the_wheel_directory() -> None:
    text = REQUIREMENTS.read_text(encoding="utf-8")
    assert "--find-links wheels" in text.splitlines()
    assert REQUIREMENTS.parent / "wheels" == WHEELS
    assert f"secretcache=={secretcache.__version__}" in text.splitlines()
    assert requirement_names(text) == ["secretcache", "aws-lambda-powertools"]


def test_pip_resolves_secretcache_from_the_wheels_next_to_the_file(tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    examples.mkdir()
    shutil.copyfile(REQUIREMENTS, examples / "requirements.txt")
    ours = _wheel(examples / "wheels", "secretcache", secretcache.__version__)
    _wheel(examples / "wheels", "secretcache", "0.0.1")  # an older build left behind
    others = tmp_path / "index"
    _wheel(others, "aws-lambda-powertools", "3.0.0")
    # pip offline, with stand-in wheels; `make example` runs it on the index with the real one
    parsed = resolve(
        examples / "requirements.txt", "--no-deps", "--no-index", "--find-links", str(others)
    )
    names = requirement_names(REQUIREMENTS.read_text(encoding="utf-8"))
    assert problems(parsed, names, examples / "wheels", secretcache.__version__) == []
    urls = {i["metadata"]["name"]: i["download_info"]["url"] for i in parsed["install"]}
    assert urls["secretcache"] == ours.as_uri()


def _report(name: str, version: str, url: str) -> dict[str, object]:
    return {"metadata": {"name": name, "version": version}, "download_info": {"url": url}}


def test_the_check_refuses_secretcache_from_anywhere_else(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    names = ["secretcache", "aws-lambda-powertools"]
    from_index = {
        "install": [
            _report("secretcache", "0.2.0", "https://files.example/secretcache-0.2.0.whl"),
            _report("aws_lambda_powertools", "3.0.0", "https://files.example/p.whl"),
        ]
    }
    assert problems(from_index, names, wheels, "0.2.0") == [
        f"secretcache comes from https://files.example/secretcache-0.2.0.whl, not from {wheels}"
    ]
    stale = {"install": [_report("secretcache", "0.1.0", f"{wheels.as_uri()}/s.whl")]}
    assert problems(stale, names, wheels, "0.2.0") == [
        "aws-lambda-powertools was not resolved",
        "secretcache 0.1.0 resolved; this clone is 0.2.0",
    ]
