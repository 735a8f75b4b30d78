"""Scrub secret values from botocore's DEBUG log records.

botocore logs every request's params (``botocore.endpoint``) and every response body
(``botocore.parsers``) at DEBUG, so an application that turns DEBUG on would log each
SecretString it reads. A filter on those loggers rewrites such records before any
handler sees them. It changes no logging level. Opt out with ``remove_log_scrubber()``
or the environment variable ``SECRETCACHE_SCRUB_LOGS=0`` (read when it would install).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from .forksafe import ForkSafeLock

__all__ = ["install_log_scrubber", "remove_log_scrubber"]

_SCRUBBED_LOGGERS = (
    "botocore.endpoint",
    "botocore.parsers",
    "aiobotocore.endpoint",
    "aiobotocore.parsers",
    # moto (the demo, users' tests) logs each request body under IAM enforcement.
    "moto.iam.access_control",
)
_SECRET_KEYS = frozenset({"SecretString", "SecretBinary"})
# What a text must contain to possibly name a secret key: the key itself, or a JSON
# \u escape (the only escape that spells a letter: "Secret\u0053tring" is SecretString
# to json.loads, and so to botocore). A text with neither is logged as it is.
_MARKERS = (*(k.encode() for k in _SECRET_KEYS), b"\\u")
_REDACTED = "<redacted by secretcache>"
_lock = ForkSafeLock()
# Logging is process-wide, so is the opt-out: once removed, later clients don't re-add it.
_opted_out = False


def _scrub_json(node: Any) -> Any:
    """Return ``node`` with every secret key's value redacted (``node`` itself if none)."""
    if isinstance(node, dict):
        pairs = [
            (k, v, _REDACTED if k in _SECRET_KEYS else _scrub_json(v)) for k, v in node.items()
        ]
        if all(new is old for _, old, new in pairs):
            return node
        return {k: new for k, _, new in pairs}
    if isinstance(node, list):
        items = [_scrub_json(v) for v in node]
        return node if all(new is old for new, old in zip(items, node, strict=True)) else items
    if isinstance(node, str):
        # A document inside a string (a body embedded in another): scrubbed the same way.
        return _scrub_text(node)
    return node


def _scrub_text(value: str | bytes) -> str | bytes:
    """Return ``value`` with secret values redacted, judged by what its JSON means.

    A text that may name a secret key is parsed: the keys are compared decoded, as
    botocore reads them, so no spelling of SecretString gets past. One that does not
    parse is replaced whole (fail closed): its edges cannot be told without parsing.
    """
    raw = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
    if not any(m in raw for m in _MARKERS):
        return value
    try:
        parsed = json.loads(raw)
        cleaned = _scrub_json(parsed)
    except (ValueError, RecursionError):
        return _REDACTED
    if cleaned is parsed:
        return value  # nothing secret in it: log it as it was written
    text = json.dumps(cleaned)
    return text.encode() if isinstance(value, bytes) else text


def _scrub_arg(arg: Any) -> Any:
    if isinstance(arg, (str, bytes, bytearray)):
        return _scrub_text(bytes(arg) if isinstance(arg, bytearray) else arg)
    if isinstance(arg, Mapping):
        # Keys too: moto parses a JSON request body into a dict with the body as its key.
        pairs = [
            (k, v, _scrub_arg(k), _REDACTED if k in _SECRET_KEYS else _scrub_arg(v))
            for k, v in arg.items()
        ]
        if all(k2 is k and v2 is v for k, v, k2, v2 in pairs):
            return arg  # keep the original (and its repr, e.g. HTTPHeaders)
        return {k2: v2 for _, _, k2, v2 in pairs}
    if isinstance(arg, (list, tuple)):
        return type(arg)(_scrub_arg(v) for v in arg)
    return arg


class SecretValueScrubber(logging.Filter):
    """Rewrite SecretString/SecretBinary values in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            # logging unwraps a lone Mapping argument into record.args itself (as botocore's
            # "Response headers: %r" does): it must stay one mapping, not become its keys.
            if isinstance(record.args, Mapping):
                record.args = _scrub_arg(record.args)
            else:
                record.args = tuple(_scrub_arg(a) for a in record.args)
        elif isinstance(record.msg, (str, bytes)):
            record.msg = _scrub_text(record.msg)
        return True


_FILTER = SecretValueScrubber()


def _add_filters() -> None:
    for name in _SCRUBBED_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def auto_install() -> bool:
    """Install the filter unless the user opted out; called when a client is set up."""
    if os.environ.get("SECRETCACHE_SCRUB_LOGS", "1").strip().lower() in {"0", "false", "no"}:
        return False
    with _lock:
        if _opted_out:
            return False
        _add_filters()
    return True


def install_log_scrubber() -> None:
    """Install the scrubbing filter on botocore's loggers (idempotent), undoing an opt-out."""
    global _opted_out
    with _lock:
        _opted_out = False
        _add_filters()


def remove_log_scrubber() -> None:
    """Remove the filter for good: botocore's DEBUG records show secret values again."""
    global _opted_out
    with _lock:
        _opted_out = True
        for name in _SCRUBBED_LOGGERS:
            logging.getLogger(name).removeFilter(_FILTER)
