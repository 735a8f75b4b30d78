"""The manual's examples run: every block marked ``<!-- test:run -->`` on any page.

A fenced ``python`` block preceded by ``<!-- test:run -->`` is executed as written in a
fresh namespace; ``<!-- test:run moto -->`` runs it inside ``mock_aws()`` with the secrets
the examples read (``prod/db`` and friends). Functions named ``test_*`` that a snippet
defines are then called, and an optional ``then="..."`` expression must be true.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

import boto3
import pytest
from docs_pages import README, Snippet, page, snippets
from moto import mock_aws

from secretcache import SecretCache

# What the examples read, as a Lambda or a service would find it in AWS.
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

SNIPPETS = snippets()


def test_the_quick_start_and_the_testing_kit_examples_are_marked_to_run() -> None:
    marked = {snippet.page for snippet in SNIPPETS}
    assert README.name in marked
    assert "docs/getting-started.md" in marked
    assert "<!-- test:run -->\n```python" in page("docs/testing.md").text
    assert len(SNIPPETS) >= 10


def _run(snippet: Snippet) -> None:
    namespace: dict[str, Any] = {"__name__": f"docs_{snippet.where}"}
    # dont_inherit: as written, not under this module's ``from __future__ import
    # annotations`` (pydantic models in a snippet read their annotations at run time).
    code = compile(snippet.code, snippet.where, "exec", dont_inherit=True)
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
            assert eval(snippet.then, namespace), f"{snippet.where}: {snippet.then}"
    finally:
        # A snippet's cache may run a refresh-ahead thread: stop it inside mock_aws.
        for value in namespace.values():
            if isinstance(value, SecretCache):
                value.close()


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.where for s in SNIPPETS])
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
