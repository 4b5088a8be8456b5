"""``single``: one DS (``federation.orderer``, default the first provider) orders every group."""

from __future__ import annotations

from .ordered import Ordered

__all__ = ["Single"]


class Single(Ordered):
    name = "single"

    def __init__(self, orderer: str | None) -> None:
        self.orderer = orderer

    def orderer_of(self, owner: str, providers: list[str]) -> str:
        return self.orderer or providers[0]
