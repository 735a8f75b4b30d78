"""The documents show what `secretcache policy` prints, and no `-*` secret ARN anywhere.

Every ```console block of the manual (README.md and docs/) that starts with
``$ secretcache policy`` is run and must print exactly the rest of the block; the IAM
page's feature table must be the one in ``secretcache/cli/policy.py``.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from docs_pages import PAGES, page

from secretcache.cli import main
from secretcache.cli.policy import FEATURES

ROOT = Path(__file__).resolve().parent.parent

# A Secrets Manager ARN whose name ends in "-*": it grants every longer name too.
DASH_STAR = re.compile(r"arn:[\w-]*:secretsmanager:[^\s\"'`]*:secret:[^\s\"'`]*-\*")

RESOURCE = {
    "secret": "each secret's ARN",
    "*": "`*` (takes no ARN)",
    "key": "the key's ARN, via Secrets Manager, for these secrets",
}


def _policy_blocks() -> list[tuple[str, str]]:
    """Return (command line, printed text) for each console block running `policy`."""
    pattern = r"```console\n(\$ secretcache policy [^\n]*)\n(.*?)```"
    blocks = [block for p in PAGES for block in re.findall(pattern, p.text, re.DOTALL)]
    return [(command, text) for command, text in blocks if text.strip()]


BLOCKS = _policy_blocks()


def test_the_manual_shows_policies_with_and_without_prefetch_and_kms() -> None:
    commands = " ".join(command for command, _ in BLOCKS)
    assert len(BLOCKS) >= 2
    assert "--prefetch" in commands
    assert "--kms-key" in commands


@pytest.mark.parametrize(("command", "shown"), BLOCKS, ids=[c for c, _ in BLOCKS])
def test_shown_policy_is_what_the_command_prints(
    command: str, shown: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = shlex.split(command)[2:]
    assert main(argv) == 0
    assert capsys.readouterr().out == shown


def _feature_table() -> str:
    lines = [
        "| You use | `policy` option | Action | Resource | Without it |",
        "|---|---|---|---|---|",
    ]
    for feature in FEATURES:
        for index, need in enumerate(feature.needs):
            option = f"`{feature.option}`" if feature.option else "(always)"
            first = (feature.name, option) if index == 0 else ("", "")
            cells = [*first, f"`{need.action}`", RESOURCE[need.resource], need.without]
            lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def test_iam_pages_feature_table_is_the_table_in_code() -> None:
    table = _feature_table()
    assert table in page("docs/iam.md").text, f"paste this table into docs/iam.md:\n{table}"


def _documents() -> list[Path]:
    found = [ROOT / "README.md"]
    for folder in ("examples", "docs"):
        if (ROOT / folder).is_dir():
            found += [p for p in sorted((ROOT / folder).rglob("*")) if p.is_file()]
    return found


def test_the_dash_star_pattern_is_recognised() -> None:
    assert DASH_STAR.search('"arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-*"')
    assert DASH_STAR.search("Resource: arn:aws-cn:secretsmanager:*:*:secret:app/x-*")
    assert not DASH_STAR.search("arn:aws:secretsmanager:us-east-1:123456789012:secret:db-??????")


def test_no_document_grants_a_secret_with_dash_star() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _documents()
        for number, line in enumerate(
            path.read_text(encoding="utf-8", errors="replace").splitlines(), 1
        )
        if DASH_STAR.search(line)
    ]
    assert found == []
