"""The "secretcache" logger, with ``logging`` imported only when something is logged.

``logging`` costs a Lambda cold start about as much as the whole extension source (~29 M
instructions): the modules on that path log through ``log`` here, which imports it on
first use. Records go to ``logging.getLogger("secretcache")`` as before.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["log", "logging_loaded"]


def logging_loaded() -> bool:
    """Return True once ``logging`` is imported (before that, no handler can exist)."""
    return "logging" in sys.modules


class _Logger:
    """Forward every attribute to the "secretcache" logger, imported on first use."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        import logging

        return getattr(logging.getLogger("secretcache"), name)

    def __repr__(self) -> str:
        return "<lazy logger 'secretcache'>"


log: Any = _Logger()
