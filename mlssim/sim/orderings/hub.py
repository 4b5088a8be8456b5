"""``hub`` (MIMI): the DS of each group's owning provider orders that group; other providers
forward to it and fan out to their own clients."""

from __future__ import annotations

from .ordered import Ordered

__all__ = ["Hub"]


class Hub(Ordered):
    name = "hub"

    def orderer_of(self, owner: str, providers: list[str]) -> str:
        return owner
