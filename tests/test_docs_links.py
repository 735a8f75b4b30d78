"""The manual's links resolve, on GitHub as on the built site, and every page is reachable.

Anchors follow GitHub's rules here; ``make docs`` (mkdocs --strict) checks them by
mkdocs's rules, so a link that passes both works in either place.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import yaml
from docs_pages import DOCS, GUIDES, PAGES, README, ROOT, Page, slug

if TYPE_CHECKING:
    from pathlib import Path

EXTERNAL = ("http://", "https://", "mailto:")


def test_slug_follows_githubs_rules() -> None:
    assert slug("Inject a secret into a function: `@inject_secret`") == (
        "inject-a-secret-into-a-function-inject_secret"
    )
    assert slug('`revalidate="describe"`') == "revalidatedescribe"


def _broken(p: Page) -> list[str]:
    broken = []
    for number, target in p.links():
        if target.startswith(EXTERNAL):
            continue
        path, _, anchor = target.partition("#")
        file = (p.path.parent / path).resolve() if path else p.path
        if not file.exists():
            broken.append(f"{p.name}:{number}: {target} (no such file)")
        elif anchor and file.suffix == ".md" and anchor not in Page(file).anchors():
            broken.append(f"{p.name}:{number}: {target} (no such heading)")
    return broken


def test_every_link_reaches_a_file_and_every_anchor_a_heading() -> None:
    assert [problem for p in PAGES for problem in _broken(p)] == []


def test_the_checker_finds_a_broken_anchor_and_a_missing_file(tmp_path: Path) -> None:
    (tmp_path / "errors.md").write_text("# Errors\n", encoding="utf-8")
    sample = tmp_path / "page.md"
    sample.write_text(
        "[a](errors.md#nope) [b](missing.md) [c](errors.md#errors) [d](#here)\n\n## Here\n",
        encoding="utf-8",
    )
    assert [problem.split(" ", 1)[1] for problem in _broken(Page(sample))] == [
        "errors.md#nope (no such heading)",
        "missing.md (no such file)",
    ]


def test_docs_pages_link_within_the_repository_only_through_docs() -> None:
    # The site holds docs/ alone: a relative link out of it would break there.
    outside = [
        f"{p.name}:{number}: {target}"
        for p in PAGES
        if p is not README
        for number, target in p.links()
        if not target.startswith(EXTERNAL)
        and target.partition("#")[0]
        and not (p.path.parent / target.partition("#")[0]).resolve().is_relative_to(DOCS)
    ]
    assert outside == []


def test_the_readme_links_every_page_of_the_manual() -> None:
    linked = {(ROOT / target.partition("#")[0]).resolve() for _, target in README.links()}
    assert [p.name for p in GUIDES if p.path not in linked] == []


def _nav_pages(entries: list[object]) -> set[str]:
    found: set[str] = set()
    for entry in entries:
        values = entry.values() if isinstance(entry, dict) else [entry]
        for value in values:
            found |= _nav_pages(value) if isinstance(value, list) else {str(value)}
    return found


def test_every_page_is_in_the_sites_navigation() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    pages = {p.path.relative_to(DOCS).as_posix() for p in PAGES if p is not README}
    assert _nav_pages(config["nav"]) == pages


def test_the_readme_is_a_landing_page() -> None:
    lines = README.lines
    assert len(lines) <= 300
    first_screen = "\n".join(lines[:40])
    commands = re.findall(r"^make \w+", first_screen, re.MULTILINE)
    assert commands == ["make demo", "make test"]
