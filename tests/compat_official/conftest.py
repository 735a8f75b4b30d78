"""Run the official suite's files under --strict-markers, minus the tests left out."""

from __future__ import annotations

from typing import TYPE_CHECKING

import official_sdist

if TYPE_CHECKING:
    import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Declare the markers the official test files use."""
    config.addinivalue_line("markers", "unit: aws-secretsmanager-caching's own unit tests")
    config.addinivalue_line("markers", "local: aws-secretsmanager-caching's own local tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the official test that checks its own user agent (LEFT_OUT says why)."""
    left_out = [i for i in items if any(i.nodeid.endswith(k) for k in official_sdist.LEFT_OUT)]
    if left_out:
        items[:] = [i for i in items if i not in left_out]
        config.hook.pytest_deselected(items=left_out)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which official tests were not run, and why."""
    terminalreporter.write_sep("-", "aws-secretsmanager-caching tests not run against compat")
    for name, why in official_sdist.LEFT_OUT.items():
        terminalreporter.write_line(f"{name}: {why}")
