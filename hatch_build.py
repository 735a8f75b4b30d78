"""Hatchling metadata hook: the package index gets README.md with absolute links.

README.md stays the repository's landing page (its links are relative, to docs/); the
description in the wheel and sdist is built from it by tools/index_readme.py, with every
relative link pointing at the project's ``Repository`` URL (pyproject's ``[project.urls]``)
on its default branch.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from hatchling.metadata.plugin.interface import MetadataHookInterface

HERE = Path(__file__).resolve().parent


def _index_readme() -> Any:
    spec = importlib.util.spec_from_file_location("index_readme", HERE / "tools/index_readme.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.index_readme


class IndexReadmeHook(MetadataHookInterface):
    """Set ``readme`` to README.md with its relative links made absolute."""

    def update(self, metadata: dict[str, Any]) -> None:
        """Fill in the dynamic ``readme`` field."""
        home = metadata["urls"]["Repository"].rstrip("/") + "/blob/main"
        text = (Path(self.root) / "README.md").read_text(encoding="utf-8")
        metadata["readme"] = {"content-type": "text/markdown", "text": _index_readme()(text, home)}
