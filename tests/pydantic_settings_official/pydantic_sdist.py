"""Fetch pydantic-settings 2.16.3's sdist and load its AWS Secrets Manager test against ours.

The sdist is downloaded with pip (never vendored, ``peer_sdist``) into
``.cache/pydantic-settings-suite/`` at the repository root, checked against its published
SHA-256, and only ``tests/test_source_aws_secrets_manager.py`` is extracted. It imports
the source as ``from pydantic_settings import AWSSecretsManagerSettingsSource``: while it
is imported, that one attribute of the ``pydantic_settings`` module is secretcache's class,
and it is put back right after, so nothing else in the run is affected. No network, no
tests: a failed download raises, it never skips.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from typing import TYPE_CHECKING

import peer_sdist
import pydantic_settings

from secretcache.integrations import pydantic_settings as ours

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from types import ModuleType

VERSION = "2.16.3"
SDIST = f"pydantic_settings-{VERSION}.tar.gz"
SHA256 = "10e36f616623ebb586c05ca3d3cd22927146869db413d4f14c20c514442a1337"
CACHE = peer_sdist.CACHE / "pydantic-settings-suite"
FILE = "test_source_aws_secrets_manager.py"


def test_file() -> Path:
    """Return the extracted test file (downloading and extracting it if needed)."""
    archive = peer_sdist.download(f"pydantic-settings=={VERSION}", SDIST, SHA256, CACHE)
    member = f"pydantic_settings-{VERSION}/tests/{FILE}"
    return peer_sdist.extract(archive, {member: CACHE / VERSION / "tests" / FILE})[0]


@contextlib.contextmanager
def ours_in_place() -> Iterator[None]:
    """Make ``from pydantic_settings import AWSSecretsManagerSettingsSource`` give ours."""
    theirs = pydantic_settings.AWSSecretsManagerSettingsSource
    pydantic_settings.AWSSecretsManagerSettingsSource = ours.AWSSecretsManagerSettingsSource  # type: ignore[misc]
    try:
        yield
    finally:
        pydantic_settings.AWSSecretsManagerSettingsSource = theirs  # type: ignore[misc]


def load() -> ModuleType:
    """Import their test file with our class in place; return the module."""
    name = f"pydantic_settings_{VERSION.replace('.', '_')}_{FILE[:-3]}"
    spec = importlib.util.spec_from_file_location(name, test_file())
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    with ours_in_place():
        spec.loader.exec_module(module)
    return module
