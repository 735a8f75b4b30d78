"""Run the test suite on every Python secretcache supports, against the built wheel.

``make matrix`` builds the wheel (``make wheel``) and runs ``nox -s tests``: one fresh
virtual environment per Python, the wheel installed with its test extras (not
editable), the suite run from a copy of the repository without the package source.
"""

from __future__ import annotations

from pathlib import Path

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
EXTRAS = "dev,demo,powertools,aio,bench,sqlalchemy,django,psycopg,pydantic"
ROOT = Path(__file__).resolve().parent

nox.options.error_on_missing_interpreters = True
nox.options.reuse_existing_virtualenvs = False


def _wheel() -> str:
    wheels = sorted((ROOT / "dist").glob("secretcache-*-py3-none-any.whl"))
    if len(wheels) != 1:
        raise SystemExit("build exactly one wheel first: make wheel")
    return str(wheels[0])


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Install the wheel with its test extras; run the whole suite against it."""
    session.install(f"{_wheel()}[{EXTRAS}]")
    session.run("python", "tools/run_installed_suite.py", *session.posargs)
