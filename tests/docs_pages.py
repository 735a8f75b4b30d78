"""The manual as the tests read it: README.md and every page under docs/.

Every test that checks what the manual says (its runnable examples, its tables, its links,
the policies and the failure table it shows) reads the pages through this module, so a
page added to docs/ is checked like the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MARKER = re.compile(r'<!-- test:run(?P<moto> moto)?(?: then="(?P<then>.*)")? -->')


@dataclass(frozen=True)
class Page:
    """One markdown file of the manual."""

    path: Path

    @property
    def name(self) -> str:
        """Return the path from the repository's root, as messages name it."""
        if self.path.is_relative_to(ROOT):
            return self.path.relative_to(ROOT).as_posix()
        return self.path.as_posix()

    @cached_property
    def text(self) -> str:
        """Return the page's markdown."""
        return self.path.read_text(encoding="utf-8")

    @property
    def lines(self) -> list[str]:
        """Return the page's lines."""
        return self.text.splitlines()

    def outside_fences(self) -> list[tuple[int, str]]:
        """Return (line number, text) of every line that is not inside a code fence."""
        kept, fenced = [], False
        for number, text in enumerate(self.lines, start=1):
            if text.startswith("```"):
                fenced = not fenced
                continue
            if not fenced:
                kept.append((number, text))
        return kept

    def headings(self) -> list[str]:
        """Return the text of every heading, in order."""
        found = []
        for _, text in self.outside_fences():
            heading = re.match(r"#{1,6} (.+)", text)
            if heading is not None:
                found.append(heading.group(1))
        return found

    def anchors(self) -> set[str]:
        """Return the anchor of every heading, numbered as GitHub numbers repeats."""
        anchors: set[str] = set()
        seen: dict[str, int] = {}
        for heading in self.headings():
            anchor = slug(heading)
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            anchors.add(anchor if count == 0 else f"{anchor}-{count}")
        return anchors

    def links(self) -> list[tuple[int, str]]:
        """Return (line number, target) of every markdown link outside code fences."""
        return [
            (number, target)
            for number, text in self.outside_fences()
            for target in re.findall(r"\]\(([^)\s]+)\)", text)
        ]


def slug(heading: str) -> str:
    """Return GitHub's anchor for a heading: lower case, punctuation dropped, spaces -."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


README = Page(ROOT / "README.md")
GUIDES = [Page(path) for path in sorted(DOCS.glob("*.md"))]
PAGES = [README, *GUIDES, *(Page(path) for path in sorted(DOCS.glob("*/*.md")))]


def page(name: str) -> Page:
    """Return the page at ``name`` (a path from the repository's root)."""
    return next(p for p in PAGES if p.name == name)


def all_text() -> str:
    """Return every page's markdown, one after the other."""
    return "\n".join(p.text for p in PAGES)


@dataclass(frozen=True)
class Snippet:
    """One code block marked to run."""

    page: str
    line: int  # 1-based line of the block's first line of code
    moto: bool
    then: str | None
    code: str

    @property
    def where(self) -> str:
        """Return ``page:line``, for messages and test ids."""
        return f"{self.page}:{self.line}"


def snippets() -> list[Snippet]:
    """Return every ```python block preceded by a test:run marker, on every page."""
    found = []
    for p in PAGES:
        lines = p.lines
        for index, text in enumerate(lines):
            marker = MARKER.fullmatch(text.strip())
            if marker is None:
                continue
            fence = lines[index + 1] if index + 1 < len(lines) else ""
            assert fence.strip() == "```python", f"{p.name}:{index + 1}: marker not before code"
            end = lines.index("```", index + 2)
            code = "\n".join(lines[index + 2 : end]) + "\n"
            found.append(Snippet(p.name, index + 3, bool(marker["moto"]), marker["then"], code))
    return found


def python_blocks() -> list[tuple[str, str]]:
    """Return (page name, code) of every ```python block, marked or not."""
    return [
        (p.name, code)
        for p in PAGES
        for code in re.findall(r"```python\n(.*?)```", p.text, re.DOTALL)
    ]


def table(header_start: str) -> list[list[str]]:
    """Return the body rows (cells stripped) of the one table whose header starts so."""
    hits = [
        (p, i) for p in PAGES for i, text in enumerate(p.lines) if text.startswith(header_start)
    ]
    assert len(hits) == 1, f"{len(hits)} tables start with {header_start!r}"
    p, start = hits[0]
    rows = []
    for text in p.lines[start + 2 :]:
        if not text.startswith("|"):
            break
        cells = re.split(r"(?<!\\)\|", text.strip().strip("|"))
        rows.append([cell.strip() for cell in cells])
    return rows
