"""Which source a cache built without one reads through: the SDK, or the Lambda extension.

Read from the environment only (and whether a layer's executable exists), importing
nothing, so that the choice costs a cache on the SDK path no import time:

- ``SECRETCACHE_SOURCE=sdk`` or ``=extension`` decides;
- else, in Lambda (``AWS_LAMBDA_FUNCTION_NAME`` set) with the extension configured
  (``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`` set, or a layer's executable under
  /opt/extensions: the AWS Parameters and Secrets extension, or the Secrets Manager
  Agent packaged as one), the extension;
- else the SDK.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = [
    "AGENT_FILES",
    "EXTENSION_FILES",
    "PORT_VARIABLE",
    "SOURCE_VARIABLE",
    "choose_source",
    "in_lambda",
    "installed_extension",
]

PORT_VARIABLE = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"
SOURCE_VARIABLE = "SECRETCACHE_SOURCE"
#: Lambda layers install their extension as an executable of this name.
EXTENSION_FILES = ("/opt/extensions/AWS-Parameters-and-Secrets-Lambda-Extension",)
AGENT_FILES = ("/opt/extensions/secrets-manager-agent-extension.sh",)


def in_lambda(env: Mapping[str, str]) -> bool:
    """Return True when running in an AWS Lambda execution environment."""
    return bool(env.get("AWS_LAMBDA_FUNCTION_NAME"))


def installed_extension(
    env: Mapping[str, str], exists: Callable[[str], bool] = os.path.exists
) -> str | None:
    """Return "agent" or "extension" for the Lambda layer configured here, else None.

    The AWS layer's port variable is set only if the user sets it; its executable under
    /opt/extensions says it is there either way.
    """
    if any(exists(path) for path in AGENT_FILES):
        return "agent"
    if env.get(PORT_VARIABLE) or any(exists(path) for path in EXTENSION_FILES):
        return "extension"
    return None


def choose_source(
    env: Mapping[str, str], exists: Callable[[str], bool] = os.path.exists
) -> tuple[str, str]:
    """Return ("sdk" or "extension", why), for a cache given no client, session or source."""
    forced = env.get(SOURCE_VARIABLE, "").strip().lower()
    if forced in ("sdk", "extension"):
        return forced, f"{SOURCE_VARIABLE}={forced}"
    if forced:
        raise ValueError(f"{SOURCE_VARIABLE} must be 'sdk' or 'extension', not {forced!r}")
    if not in_lambda(env):
        return "sdk", "not in Lambda (AWS_LAMBDA_FUNCTION_NAME unset)"
    layer = installed_extension(env, exists)
    if layer is None:
        return "sdk", "in Lambda without the Parameters and Secrets extension"
    where = f"{PORT_VARIABLE}={env[PORT_VARIABLE]}" if env.get(PORT_VARIABLE) else "its layer"
    return (
        "extension",
        f"in Lambda with the {'Agent' if layer == 'agent' else 'extension'} ({where})",
    )
