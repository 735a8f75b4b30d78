"""README.md stays true: its marked snippets run, its tables match the code, its links resolve.

A fenced ``python`` block preceded by ``<!-- test:run -->`` is executed as written in a
fresh namespace; ``<!-- test:run moto -->`` runs it inside ``mock_aws()`` with the secrets
the README's examples read (``prod/db`` and friends). Functions named ``test_*`` that a
snippet defines are then called, and an optional ``then="..."`` expression must be true.
"""

from __future__ import annotations

import inspect
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

import secretcache
from secretcache import SecretCache
from secretcache._errors import BOTOCORE_TABLE, CODE_TABLE
from secretcache._source import CLIENT_SETTINGS
from secretcache.aio import AsyncSecretCache
from secretcache.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
LINES = README.splitlines()
MARKER = re.compile(r'<!-- test:run(?P<moto> moto)?(?: then="(?P<then>.*)")? -->')

# What the README's examples read, as a Lambda or a service would find it in AWS.
EXAMPLE_SECRETS: dict[str, str | bytes] = {
    "prod/db": json.dumps(
        {
            "username": "app",
            "password": "pw",
            "host": "db.example.com",
            "port": 5432,
            "dbname": "app",
        }
    ),
    "prod/api-key": "k3y",
    "prod/api-token": "t0ken",
    "prod/stripe": "sk_test",
    "prod/tls-key": b"\x00binary-key",
}


@dataclass(frozen=True)
class Snippet:
    """One marked code block of the README."""

    line: int  # 1-based line of the opening fence
    moto: bool
    then: str | None
    code: str


def _outside_fences() -> list[tuple[int, str]]:
    """Return (line number, text) of every README line that is not inside a code fence."""
    kept, fenced = [], False
    for number, text in enumerate(LINES, start=1):
        if text.startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            kept.append((number, text))
    return kept


def _snippets() -> list[Snippet]:
    found = []
    for index, text in enumerate(LINES):
        marker = MARKER.fullmatch(text.strip())
        if marker is None:
            continue
        fence = LINES[index + 1] if index + 1 < len(LINES) else ""
        assert fence.strip() == "```python", f"README.md:{index + 1}: marker not before ```python"
        end = LINES.index("```", index + 2)
        found.append(
            Snippet(
                line=index + 2,
                moto=bool(marker["moto"]),
                then=marker["then"],
                code="\n".join(LINES[index + 2 : end]) + "\n",
            )
        )
    return found


SNIPPETS = _snippets()


def _section(heading: str) -> str:
    """Return the README text from ``heading`` up to the next heading of that level."""
    level = heading.split(" ")[0]
    start = README.index(f"\n{heading}\n")
    end = README.find(f"\n{level} ", start + len(heading) + 2)
    return README[start : end if end != -1 else len(README)]


def _table(header_start: str) -> list[list[str]]:
    """Return the body rows (cells stripped) of the table whose header starts so."""
    start = next(i for i, text in enumerate(LINES) if text.startswith(header_start))
    rows = []
    for text in LINES[start + 2 :]:
        if not text.startswith("|"):
            break
        cells = re.split(r"(?<!\\)\|", text.strip().strip("|"))
        rows.append([cell.strip() for cell in cells])
    return rows


def _ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


# -- the snippets run ---------------------------------------------------------------


def test_the_testing_kit_examples_are_marked_to_run() -> None:
    testing = _section("## Testing your own code with `secretcache.testing`")
    assert "<!-- test:run -->\n```python" in testing
    assert len(SNIPPETS) >= 6


def _run(snippet: Snippet) -> None:
    namespace: dict[str, Any] = {"__name__": f"readme_line_{snippet.line}"}
    code = compile(snippet.code, f"README.md:{snippet.line}", "exec")
    try:
        exec(code, namespace)
        tests = [
            value
            for name, value in namespace.items()
            if name.startswith("test_")
            and inspect.isfunction(value)
            and value.__module__ == namespace["__name__"]
        ]
        for test in tests:
            test()
        if snippet.then is not None:
            assert eval(snippet.then, namespace), f"README.md:{snippet.line}: {snippet.then}"
    finally:
        # A snippet's cache may run a refresh-ahead thread: stop it inside mock_aws.
        for value in namespace.values():
            if isinstance(value, SecretCache):
                value.close()


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[f"line{s.line}" for s in SNIPPETS])
def test_marked_snippet_runs(snippet: Snippet) -> None:
    if not snippet.moto:
        _run(snippet)
        return
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        for name, value in EXAMPLE_SECRETS.items():
            field = "SecretBinary" if isinstance(value, bytes) else "SecretString"
            client.create_secret(Name=name, **{field: value})
        _run(snippet)


# -- links and the table of contents -------------------------------------------------


def _slug(heading: str) -> str:
    """Return GitHub's anchor for a heading: lower case, punctuation dropped, spaces -."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors() -> set[str]:
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for _, text in _outside_fences():
        heading = re.match(r"#{1,6} (.+)", text)
        if heading is None:
            continue
        slug = _slug(heading.group(1))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _links() -> list[tuple[int, str]]:
    links = []
    for number, text in _outside_fences():
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            links.append((number, target))
    return links


def test_slug_follows_githubs_rules() -> None:
    assert _slug("Inject a secret into a function: `@inject_secret`") == (
        "inject-a-secret-into-a-function-inject_secret"
    )
    assert _slug('`revalidate="describe"`') == "revalidatedescribe"


def test_every_anchor_link_resolves_to_a_heading() -> None:
    anchors = _anchors()
    broken = [(n, t) for n, t in _links() if t.startswith("#") and t[1:] not in anchors]
    assert broken == []


def test_table_of_contents_covers_every_section() -> None:
    contents = _section("## Contents")
    listed = {target[1:] for target in re.findall(r"\]\((#[^)]+)\)", contents)}
    sections = {_slug(text[3:]) for _, text in _outside_fences() if text.startswith("## ")}
    assert sections - listed == {"contents"}


def test_every_relative_link_points_to_an_existing_file() -> None:
    missing = []
    for number, target in _links():
        if target.startswith(("#", "http://", "https://", "mailto:")):
            continue
        path = target.split("#", 1)[0]
        if not (ROOT / path).exists():
            missing.append((number, target))
    assert missing == []


# -- tables match the code -------------------------------------------------------------


def test_error_table_matches_the_error_mapping() -> None:
    rows = {
        _ticked(row[0])[0]: (set(_ticked(row[1])), row[2])
        for row in _table("| Class | AWS codes / botocore errors |")
    }
    for code, cls in CODE_TABLE.items():
        assert code in rows[cls.__name__][0], f"{code} missing from the {cls.__name__} row"
    for error, cls in BOTOCORE_TABLE.items():
        assert error.__name__ in rows[cls.__name__][0], f"{error.__name__} not in its row"
    botocore_names = {error.__name__: cls for error, cls in BOTOCORE_TABLE.items()}
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
    flat = " ".join(README.split())
    assert _signature(SecretCache) in flat
    assert _signature(AsyncSecretCache) in flat


def test_configuration_table_matches_secretcache_defaults() -> None:
    rows = {_ticked(row[0])[0]: row[1] for row in _table("| Option | Default | Meaning |")}
    params = inspect.signature(SecretCache).parameters
    assert set(rows) == set(params)
    for name, param in params.items():
        if name == "ttl":
            assert "SECRETCACHE_TTL" in rows[name]
            assert "`300.0`" in rows[name]
        else:
            assert rows[name].startswith(f"`{_default(param.default)}`"), name


def test_default_client_settings_are_described() -> None:
    flat = " ".join(README.split())
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
        for text in LINES
        if text.startswith(("$ secretcache ", "$ python -m secretcache "))
    ]
    assert len(commands) >= 8
    for command in commands:
        words = shlex.split(command.split("|")[0].split("  #")[0], comments=True)
        args = words[3:] if words[0] == "python" else words[1:]
        parser.parse_args(args)


def test_benchmark_tables_quote_results_md() -> None:
    results = (ROOT / "bench" / "RESULTS.md").read_text(encoding="utf-8").replace(",", "")
    section = _section("## Benchmarks")
    rows = [text for text in section.splitlines() if text.startswith("|") and "---" not in text]
    assert rows
    for row in rows:
        for number in re.findall(r"\d[\d,]*(?:\.\d+)?", row):
            assert number.replace(",", "") in results, f"{number} ({row[:40]}...)"
