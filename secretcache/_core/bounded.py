"""A set that forgets its oldest members beyond a size: per-id memory stays bounded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Hashable

__all__ = ["BoundedSet"]

T = TypeVar("T", bound="Hashable")


class BoundedSet(Generic[T]):
    """Membership for at most ``limit`` items, oldest dropped first."""

    __slots__ = ("_items", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: dict[T, None] = {}

    def add(self, item: T) -> None:
        """Add ``item`` (as the newest), dropping the oldest beyond the limit."""
        items = self._items
        items.pop(item, None)
        while len(items) >= self.limit:
            del items[next(iter(items))]
        items[item] = None

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __len__(self) -> int:
        return len(self._items)
