"""Fork hooks that other code registered may use or create caches without hanging.

gunicorn, celery and multiprocessing users register ``os.register_at_fork`` hooks. One
registered before ``import secretcache`` runs inside secretcache's own hooks (its
``before`` after secretcache's, its ``after_in_*`` before secretcache's); one registered
after runs outside them. Each case runs in a fresh master (tests/fork_hook_scenarios.py):
the hook must be registered before the import. The subprocess timeout only guards
against a hang (a hung fork would otherwise hang the run); it measures nothing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
HANG_GUARD = 90  # seconds; each case takes about one

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() on this platform")


def _run(order: str, kind: str, action: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    try:
        done = subprocess.run(
            [sys.executable, str(HERE / "fork_hook_scenarios.py"), order, kind, action],
            env=env,
            capture_output=True,
            text=True,
            timeout=HANG_GUARD,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"os.fork() never returned in the master: its {kind} hook hung")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _values(reads: dict[str, Any]) -> list[str]:
    return [reads["sync"], reads["async"], *reads.get("made", [])]


@pytest.mark.parametrize("action", ["use", "create"])
@pytest.mark.parametrize("kind", ["before", "after_in_parent", "after_in_child"])
@pytest.mark.parametrize("order", ["before-import", "after-import"])
def test_a_fork_hook_may_use_or_create_a_cache(order: str, kind: str, action: str) -> None:
    report = _run(order, kind, action)
    child = report["child"]
    assert "hung" not in child, f"the child hung ({kind} hook registered {order})"
    assert "error" not in child, child
    # The hook read with both caches (SecretCache, AsyncSecretCache) where it ran.
    hook = child["ok"]["hook"] if kind == "after_in_child" else report["hook"]
    assert "error" not in hook, hook
    assert all(re.fullmatch(r"v\d", v) for v in (hook["sync"], hook["async"])), hook
    # Afterwards every cache works in both processes, the ones the hook built included
    # (a cache built before the fork is in both; one built after it, in one).
    holders = {"before": ("child", "parent"), "after_in_parent": ("parent",)}.get(kind, ("child",))
    for where, reads in (("child", child["ok"]["reads"]), ("parent", report["parent"])):
        made = 2 if action == "create" and where in holders else 0
        assert len(reads["made"]) == made, (where, reads)
        assert all(re.fullmatch(r"v\d", v) for v in _values(reads)), (where, reads)
