"""End to end with sentry-sdk at its defaults: no secret value in a secretcache frame of an event.

``sentry_scenarios.py`` runs in a subprocess (``sentry_sdk.init`` patches the process for
good), with no DSN: each event is kept by ``before_send`` (after sentry-sdk serialized it,
local variables included, and before anything could be sent) and printed. The user's own
frames do hold the secret at these defaults; the manual's ``before_send`` recipe drops them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sentry_scenarios import SCENARIOS

SCRIPT = Path(__file__).resolve().parent / "sentry_scenarios.py"
USER_FRAMES = {"handler", "_connect", "legacy"}  # where the scenarios' own code holds it


def _events(canary: str, *options: str) -> list[tuple[str, dict[str, Any]]]:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *options],
        input=canary,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [(name, event) for name, event in json.loads(done.stdout)]


def _frames(event: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        frame
        for exception in event["exception"]["values"]
        for frame in (exception.get("stacktrace") or {}).get("frames", [])
    ]


def _ours(frame: dict[str, Any]) -> bool:
    return str(frame.get("module")).startswith("secretcache")


@pytest.fixture(scope="module")
def canary() -> str:
    return "CANARY-sentry-0f3c9a7e5b1d"


@pytest.fixture(scope="module")
def default_events(canary: str) -> list[tuple[str, dict[str, Any]]]:
    return _events(canary)


def test_every_scenario_was_reported(default_events: list[tuple[str, dict[str, Any]]]) -> None:
    assert {name for name, _ in default_events} == set(SCENARIOS)
    assert len(default_events) == 8


def test_no_secretcache_frame_of_an_event_holds_the_value(
    default_events: list[tuple[str, dict[str, Any]]], canary: str
) -> None:
    for name, event in default_events:
        ours = [frame for frame in _frames(event) if _ours(frame)]
        assert ours, name
        # At these defaults sentry-sdk records every frame's locals: ours are there.
        assert all("vars" in frame for frame in ours), name
        leaked = [f"{f['module']}.{f['function']}" for f in ours if canary in json.dumps(f["vars"])]
        assert leaked == [], name


def test_only_the_users_own_frames_show_the_value_at_the_defaults(
    default_events: list[tuple[str, dict[str, Any]]], canary: str
) -> None:
    shown = set()
    for _, event in default_events:
        for frame in _frames(event):
            if canary in json.dumps(frame.get("vars", {})):
                shown.add(frame["function"])
                frame.pop("vars")
        assert canary not in json.dumps(event)  # messages, breadcrumbs, contexts: clean
    # What the manual's "Secrets and error trackers" warns about, and its recipe is for.
    assert shown == USER_FRAMES


def test_the_manual_recipe_drops_the_users_frames_too(canary: str) -> None:
    events = _events(canary, "--recipe")
    assert {name for name, _ in events} == set(SCENARIOS)
    for name, event in events:
        assert canary not in json.dumps(event), name
        # Frames before the injection keep their locals: only what ran inside it loses them.
        assert any("vars" in frame for frame in _frames(event)), name
