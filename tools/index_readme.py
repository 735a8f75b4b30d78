"""The package-index description: README.md with every relative link made absolute.

README.md is the landing page in the repository, where ``docs/errors.md`` resolves; on a
package index the same link is a 404. ``hatch_build.py`` (a hatchling metadata hook) runs
``index_readme`` at build time, so the wheel and the sdist carry a self-contained
description whose links point at the project's repository (``[project.urls]``).
``tools/check_index_page.py`` fails the build on any link that is still relative.
Standard library only: it runs inside hatchling's isolated build environment.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

# Fenced blocks hold no links, whatever their text looks like. (Inline code is left in:
# link text may hold it, [`docs/`](docs/index.md), and it is never a link target itself.)
_CODE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
# Inline links and images, [text](target "title"); reference definitions, [id]: target;
# HTML attributes, href="..." and src="...".
_INLINE = re.compile(r"(?P<head>!?\[[^\]\n]*\]\(\s*<?)(?P<target>[^)\s>]+)")
_REFERENCE = re.compile(r"^(?P<head> {0,3}\[[^\]\n]+\]:[ \t]*<?)(?P<target>[^\s>]+)", re.M)
_HTML = re.compile(r"(?P<head>\b(?:href|src)\s*=\s*[\"'])(?P<target>[^\"']+)", re.I)
_PATTERNS = (_INLINE, _REFERENCE, _HTML)
_ABSOLUTE = re.compile(r"(?:https?|mailto):", re.I)


def is_relative(target: str) -> bool:
    """Tell whether a link target depends on where the page is shown (a path or #anchor)."""
    return not _ABSOLUTE.match(target)


def _outside_code(text: str, rewrite: Callable[[str], str]) -> str:
    """Apply ``rewrite`` to the parts of ``text`` that are not code."""
    parts, at = [], 0
    for code in _CODE.finditer(text):
        parts += [rewrite(text[at : code.start()]), code.group()]
        at = code.end()
    return "".join([*parts, rewrite(text[at:])])


def links(text: str) -> Iterator[str]:
    """Yield every link target in Markdown ``text`` (code excluded)."""
    found: list[str] = []

    def collect(prose: str) -> str:
        found.extend(m["target"] for pattern in _PATTERNS for m in pattern.finditer(prose))
        return prose

    _outside_code(text, collect)
    yield from found


def absolute(target: str, home: str, page: str = "README.md") -> str:
    """Return ``target`` (relative to ``page`` in the repository) as a URL under ``home``.

    ``home`` is the repository's browsable root, e.g. ``https://github.com/o/r/blob/main``.
    """
    if not is_relative(target):
        return target
    if target.startswith("#"):
        return f"{home}/{page}{target}"
    path, hash_, anchor = target.partition("#")
    parts: list[str] = page.split("/")[:-1]
    for part in path.split("/"):
        if part == "..":
            if not parts:
                raise ValueError(f"{target!r} leaves the repository")
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return f"{home}/{'/'.join(parts)}{hash_}{anchor}"


def index_readme(text: str, home: str) -> str:
    """Return README ``text`` with every relative link rewritten to an absolute URL."""

    def rewrite(prose: str) -> str:
        for pattern in _PATTERNS:
            prose = pattern.sub(lambda m: m["head"] + absolute(m["target"], home), prose)
        return prose

    return _outside_code(text, rewrite)
