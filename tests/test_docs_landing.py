"""What a newcomer sees first: the landing pages, the tables of contents, the table layout.

The rendered result was checked with headless Chromium screenshots (issue 28); these keep
what made it right from regressing.
"""

from __future__ import annotations

import re

from docs_pages import README, ROOT, page, snippets

FIRST_SCREEN = 25  # lines of README.md a browser shows before any scrolling


def test_the_readmes_first_screen_says_how_to_install_and_what_make_test_costs() -> None:
    first = "\n".join(README.lines[:FIRST_SCREEN])
    assert "pip install ." in first
    assert "several minutes" in first
    assert "PostgreSQL" in first
    assert "apt-get" in first


def test_the_sites_home_page_has_an_install_line_and_a_first_example_that_runs() -> None:
    home = page("docs/index.md")
    assert "Install" in home.headings()
    assert "A first example" in home.headings()
    assert "pip install ." in home.text
    # tests/test_docs_snippets.py runs it and checks its then= expression
    assert any(s.page == "docs/index.md" and s.then for s in snippets())


def test_no_page_has_an_empty_table_of_contents_column() -> None:
    # toc.integrate: each page's contents sit in the navigation under the page; a page
    # without sections shows none instead of an empty right-hand column.
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert re.search(r"^\s+- toc\.integrate$", config, re.M)
    for name in ("docs/errors.md", "docs/migration.md"):  # long pages: contents to show
        sections = [text for _, text in page(name).outside_fences() if text.startswith("## ")]
        assert len(sections) >= 4, name


def test_table_cells_never_break_a_name_mid_word() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "  - stylesheets/extra.css" in config
    css = (ROOT / "docs" / "stylesheets" / "extra.css").read_text(encoding="utf-8")
    rule = re.search(r"\.md-typeset table:not\(\[class\]\) code \{(?P<body>[^}]*)\}", css)
    assert rule is not None
    assert "word-break: normal;" in rule["body"]
    assert "overflow-wrap: normal;" in rule["body"]
