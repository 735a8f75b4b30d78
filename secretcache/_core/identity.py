"""Which secret ids name the same secret: a name, its full ARN and its partial ARN.

A cache keys entries by the id the caller passed, so ``prod/db`` and
``arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf`` are two keys of
one secret. For invalidate(), secret-wide errors and rotation events they must be one.

A loaded value says exactly which secret an id named (its Name and ARN). Without one,
the id itself is read: a plain name is that name; an ARN names its resource, and a
resource ending in "-" plus six characters may be a full ARN (the name is what precedes
the suffix) or a partial ARN of a name that ends that way: both are candidates. Being
generous there costs at most one extra cache miss; it never serves a wrong value.
Replicas (another region, same name and account) are the same secret.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Secret

__all__ = ["Identity", "identity", "looks_suffixed", "parse_arn"]

# Patterns as text: ``re`` compiles them on first use (and caches them), not at import,
# which a Lambda cold start pays for. Read leniently: they parse what AWS sends.
_SECRET_ARN = (
    r"(?P<head>arn:(?P<partition>[^:]*):secretsmanager:)(?P<region>[^:]*):"
    r"(?P<account>[^:]*):secret:(?P<resource>.+)"
)
_SUFFIX = r"-[A-Za-z0-9]{6}"  # the six characters AWS appends to a name


def parse_arn(text: str) -> re.Match[str] | None:
    """Match a secret's ARN: groups head, partition, region, account, resource."""
    return re.fullmatch(_SECRET_ARN, text, re.DOTALL)


def looks_suffixed(resource: str) -> bool:
    """Return True if ``resource`` ends like a full ARN's name: "-" and six characters."""
    return len(resource) > 7 and re.fullmatch(_SUFFIX, resource[-7:]) is not None


class Identity:
    """A secret's account (None when unknown) and the names it may have."""

    # A plain slotted class: a NamedTuple costs ~0.3 ms of import time to create.
    __slots__ = ("account", "names")

    def __init__(self, account: str | None, names: frozenset[str]) -> None:
        self.account = account
        self.names = names

    @property
    def exact(self) -> bool:
        """Return True when it is known which secret this is (one candidate name)."""
        return len(self.names) == 1

    def overlaps(self, other: Identity) -> bool:
        """Return True when both may be the same secret."""
        if None not in (self.account, other.account) and self.account != other.account:
            return False
        return not self.names.isdisjoint(other.names)


def identity(secret_id: str, value: Secret | None = None) -> Identity:
    """Return what ``secret_id`` names, from its loaded ``value`` when there is one."""
    if value is not None and value.name:
        found = parse_arn(value.arn)
        return Identity(found["account"] if found else None, frozenset((value.name,)))
    found = parse_arn(secret_id)
    if found is None:
        return Identity(None, frozenset((secret_id,)))
    resource = found["resource"]
    names = {resource}
    if looks_suffixed(resource):
        names.add(resource[:-7])
    return Identity(found["account"] or None, frozenset(names))
