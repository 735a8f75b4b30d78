"""Test kit for code that uses secretcache: a fake clock, fault injection, fake sources.

- ``FakeClock``: pass as ``SecretCache(clock=...)``; ``advance(seconds)`` moves time.
- ``FaultInjector``: make a real boto3 client (moto or not) answer an error code, a
  connection error or a timeout, through botocore's own retry path.
- ``InMemorySource``: a counting, in-process ``SecretSource`` (no boto3, no moto);
  ``AsyncInMemorySource``: the same for ``AsyncSecretCache``.
- ``rotate_secret`` / ``start_rotation`` / ``finish_rotation``: rotate a secret in moto
  (or AWS) the way a rotation Lambda does.
"""

from .clock import FakeClock, new_version_id
from .faults import FaultInjector, counting_calls
from .rotation import finish_rotation, rotate_secret, start_rotation
from .sources import AsyncInMemorySource, InMemorySource

__all__ = [
    "AsyncInMemorySource",
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
    globals()[_name].__module__ = __name__
del _name
