"""The manual's tables and signatures match the code, wherever in the manual they are."""

from __future__ import annotations

import inspect
import json
import re
import shlex
from typing import Any

from docs_pages import PAGES, ROOT, all_text, page, table

import secretcache
from secretcache import SecretCache
from secretcache._core.errors import BOTOCORE_TABLE, CODE_TABLE
from secretcache._sources.botocore import CLIENT_SETTINGS
from secretcache.aio import AsyncSecretCache
from secretcache.cli import build_parser


def _ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def test_error_table_matches_the_error_mapping() -> None:
    rows = {
        _ticked(row[0])[0]: (set(_ticked(row[1])), row[2])
        for row in table("| Class | AWS codes / botocore errors |")
    }
    for code, cls in CODE_TABLE.items():
        assert code in rows[cls.__name__][0], f"{code} missing from the {cls.__name__} row"
    for name, cls in BOTOCORE_TABLE.items():
        assert name in rows[cls.__name__][0], f"{name} not in its row"
    botocore_names = dict(BOTOCORE_TABLE)
    for name, (tokens, retryable) in rows.items():
        cls = getattr(secretcache, name)
        assert ("yes" in retryable) is cls.retryable, f"{name}: retryable column"
        for token in tokens:
            mapped = CODE_TABLE.get(token) or botocore_names.get(token)
            refined = token == "InvalidRequestException" and name == "SecretDeletedError"
            assert mapped in (None, cls) or refined, f"{token} listed under {name}"


def _default(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if callable(value):
        return f"{value.__module__}.{value.__qualname__}"
    return repr(value)


def _signature(cls: type) -> str:
    parts, starred = [], False
    for name, param in inspect.signature(cls).parameters.items():
        if param.kind is param.KEYWORD_ONLY and not starred:
            parts.append("*")
            starred = True
        parts.append(f"{name}={_default(param.default)}")
    return f"{cls.__name__}({', '.join(parts)})"


def test_constructor_signatures_are_quoted_exactly() -> None:
    flat = " ".join(all_text().split())
    assert _signature(SecretCache) in flat
    assert _signature(AsyncSecretCache) in flat


def test_configuration_table_matches_secretcache_defaults() -> None:
    rows = {_ticked(row[0])[0]: row[1] for row in table("| Option | Default | Meaning |")}
    params = inspect.signature(SecretCache).parameters
    assert set(rows) == set(params)
    for name, param in params.items():
        if name == "ttl":
            assert "SECRETCACHE_TTL" in rows[name]
            assert "`300.0`" in rows[name]
        else:
            assert rows[name].startswith(f"`{_default(param.default)}`"), name


def test_default_client_settings_are_described() -> None:
    flat = " ".join(page("docs/configuration.md").text.split())
    retries = CLIENT_SETTINGS["retries"]
    assert f"`{retries['mode']}` retry mode ({retries['total_max_attempts']} attempts in all)" in (
        flat
    )
    assert f"a {CLIENT_SETTINGS['connect_timeout']} s connect" in flat
    assert f"{CLIENT_SETTINGS['read_timeout']} s read timeout" in flat


def test_cli_examples_parse() -> None:
    parser = build_parser()
    commands = [
        text[2:]
        for p in PAGES
        for text in p.lines
        if text.startswith(("$ secretcache ", "$ python -m secretcache "))
    ]
    assert len(commands) >= 8
    for command in commands:
        words = shlex.split(command.split("|")[0].split("  #")[0], comments=True)
        args = words[3:] if words[0] == "python" else words[1:]
        parser.parse_args(args)


def test_benchmark_tables_quote_results_md() -> None:
    results = (ROOT / "bench" / "RESULTS.md").read_text(encoding="utf-8").replace(",", "")
    text = page("docs/benchmarks.md").text
    rows = [line for line in text.splitlines() if line.startswith("|") and "---" not in line]
    assert rows
    for row in rows:
        for number in re.findall(r"\d[\d,]*(?:\.\d+)?", row):
            assert number.replace(",", "") in results, f"{number} ({row[:40]}...)"
