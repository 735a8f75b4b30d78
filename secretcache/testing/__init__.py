"""Test kit for code that uses secretcache: a fake clock, fault injection, fake sources.

- ``FakeClock``: pass as ``SecretCache(clock=...)``; ``advance(seconds)`` moves time.
- ``FaultInjector``: make a real boto3 client (moto or not) answer an error code, a
  connection error or a timeout, through botocore's own retry path.
- ``InMemorySource``: a counting, in-process ``SecretSource`` (no boto3, no moto);
  ``AsyncInMemorySource``: the same for ``AsyncSecretCache``.
- ``ExtensionEmulator``: a local Lambda extension / Secrets Manager Agent on 127.0.0.1,
  backed by any Secrets Manager client (moto's), for ``ExtensionSource``.
- ``rotate_secret`` / ``start_rotation`` / ``finish_rotation``: rotate a secret in moto
  (or AWS) the way a rotation Lambda does.
"""

from typing import TYPE_CHECKING

from .clock import FakeClock, new_version_id
from .faults import FaultInjector, counting_calls
from .rotation import finish_rotation, rotate_secret, start_rotation
from .sources import AsyncInMemorySource, InMemorySource

if TYPE_CHECKING:
    from .emulator import ExtensionEmulator

__all__ = [
    "AsyncInMemorySource",
    "ExtensionEmulator",
    "FakeClock",
    "FaultInjector",
    "InMemorySource",
    "counting_calls",
    "finish_rotation",
    "new_version_id",
    "rotate_secret",
    "start_rotation",
]

# Each name is secretcache.testing's, wherever it is written (reprs, pickles, the docs):
# the parts are private.
for _name in __all__:
    if _name in globals():
        globals()[_name].__module__ = __name__
del _name


def __getattr__(name: str) -> object:
    # Served when first asked for: a test kit without the emulator costs no http.server.
    if name == "ExtensionEmulator":
        from .emulator import ExtensionEmulator

        ExtensionEmulator.__module__ = __name__
        return ExtensionEmulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
