"""The package-index description: README.md's relative links made absolute, and the check.

hatch_build.py builds the wheel's and sdist's description with tools/index_readme.py;
``make wheel`` runs tools/check_index_page.py on what it built.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from index_readme import absolute, index_readme, is_relative, links  # noqa: E402

HOME = "https://github.com/o/r/blob/main"
HEADERS = (
    "Metadata-Version: 2.4\nName: secretcache\nVersion: 0.2.0\n"
    "Project-URL: Repository, https://github.com/o/r\n"
    "Description-Content-Type: text/markdown\n\n"
)


def test_relative_links_become_urls_under_the_repository() -> None:
    text = (
        "See [`docs/`](docs/index.md), [errors](docs/errors.md#the-table) and "
        "[top](#install).\n![plot](docs/img/hits.svg)\n[ref]: ./CHANGELOG.md\n"
        '<a href="docs/cli.md">cli</a> and [PyPI](https://pypi.org/) stay.\n'
    )
    out = index_readme(text, HOME)
    assert list(links(out)) == [
        f"{HOME}/docs/index.md",
        f"{HOME}/docs/errors.md#the-table",
        f"{HOME}/README.md#install",
        f"{HOME}/docs/img/hits.svg",
        "https://pypi.org/",
        f"{HOME}/CHANGELOG.md",
        f"{HOME}/docs/cli.md",
    ]
    assert "[`docs/`](" in out  # link text untouched


def test_code_blocks_are_left_as_written() -> None:
    text = "```markdown\n[a](docs/a.md)\n```\n[b](docs/b.md)\n"
    out = index_readme(text, HOME)
    assert "```markdown\n[a](docs/a.md)\n```" in out
    assert list(links(out)) == [f"{HOME}/docs/b.md"]


def test_paths_resolve_like_the_repository_would() -> None:
    assert absolute("a/../b.md", HOME) == f"{HOME}/b.md"
    assert absolute("../x.md", HOME, page="docs/index.md") == f"{HOME}/x.md"
    assert absolute("mailto:a@b.c", HOME) == "mailto:a@b.c"
    with pytest.raises(ValueError, match="leaves the repository"):
        absolute("../outside.md", HOME)
    assert is_relative("docs/x.md")
    assert is_relative("#anchor")
    assert not is_relative("HTTPS://example.com")


def test_the_readme_for_the_index_has_no_relative_link() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    repository = re.search(r'^Repository = "([^"]+)"', pyproject, re.M)
    assert repository is not None
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert any(is_relative(t) for t in links(readme))  # the repository's page keeps them
    out = index_readme(readme, repository[1] + "/blob/main")
    assert [t for t in links(out) if is_relative(t)] == []
    assert len(list(links(out))) == len(list(links(readme)))


def _wheel(path: Path, description: str) -> Path:
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("secretcache-0.2.0.dist-info/METADATA", HEADERS + description)
    return path


def _sdist(path: Path, description: str) -> Path:
    data = (HEADERS + description).encode()
    with tarfile.open(path, "w:gz") as sdist:
        info = tarfile.TarInfo("secretcache-0.2.0/PKG-INFO")
        info.size = len(data)
        sdist.addfile(info, io.BytesIO(data))
    return path


def _check(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / "check_index_page.py"), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_check_fails_on_a_relative_link_in_a_wheel_or_sdist(tmp_path: Path) -> None:
    bad = "# x\n\nSee [errors](docs/errors.md) and [top](#x).\n"
    done = _check(_wheel(tmp_path / "a.whl", bad), _sdist(tmp_path / "a.tar.gz", bad))
    assert done.returncode == 1
    for name in ("a.whl", "a.tar.gz"):
        assert f"{name}: relative link 'docs/errors.md'" in done.stderr
        assert f"{name}: relative link '#x'" in done.stderr


def test_the_check_passes_a_self_contained_description(tmp_path: Path) -> None:
    good = f"# x\n\nSee [errors]({HOME}/docs/errors.md).\n"
    done = _check(_wheel(tmp_path / "a.whl", good), _sdist(tmp_path / "a.tar.gz", good))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("the description is self-contained") == 2


def test_the_check_wants_markdown_and_a_repository_url(tmp_path: Path) -> None:
    path = tmp_path / "b.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("secretcache-0.2.0.dist-info/METADATA", "Metadata-Version: 2.4\n\n")
    done = _check(path)
    assert done.returncode == 1
    assert "not text/markdown" in done.stderr
    assert "no long description" in done.stderr
    assert "no Project-URL named Repository" in done.stderr
