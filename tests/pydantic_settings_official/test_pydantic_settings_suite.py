"""pydantic-settings 2.16.3's own tests of its AWS Secrets Manager source, run against ours.

The test file comes from the pydantic-settings sdist, downloaded at test time
(``pydantic_sdist``), and runs unmodified: its test class is collected from this module,
and every one of its tests runs (none is left out).
"""

from __future__ import annotations

import inspect

import pydantic_sdist
import pydantic_settings

from secretcache.integrations.pydantic_settings import AWSSecretsManagerSettingsSource

_MODULE = pydantic_sdist.load()
_CLASSES = {
    name: value
    for name, value in vars(_MODULE).items()
    if inspect.isclass(value) and name.startswith("Test") and value.__module__ == _MODULE.__name__
}

# pytest collects the Test* classes found in this module: theirs, from here.
globals().update(_CLASSES)


def test_their_tests_exercise_ours_not_the_original() -> None:
    # pydantic-settings' own class is importable too: a failed swap would quietly test it.
    assert vars(_MODULE)["AWSSecretsManagerSettingsSource"] is AWSSecretsManagerSettingsSource
    assert pydantic_settings.AWSSecretsManagerSettingsSource is not AWSSecretsManagerSettingsSource


def test_the_suite_is_the_one_counted() -> None:
    found = {
        f"{cls.__name__}::{name}"
        for cls in _CLASSES.values()
        for name in dir(cls)
        if name.startswith("test")
    }
    assert len(found) == 6
