"""Who orders a group's handshake messages: the ordering hook of the delivery service.

An orderer decides, for each handshake message that reaches it, whether it is accepted for the
group's current epoch. ``single`` is the baseline: one DS orders every group, accepting the first
commit for each epoch and rejecting later ones for the same epoch; ``hub`` applies the same rule
at the DS of each group's owning provider (MIMI). Which DS orders a group is the world's routing
(``World.ds_groups``). Client fan-out and decentralised ordering plug in beside them.
"""

from __future__ import annotations

from typing import Protocol

from .records import GroupRecord

__all__ = ["HubOrdering", "Ordering", "SingleOrdering", "make_ordering"]


class Ordering(Protocol):
    name: str

    def accepts_commit(self, rec: GroupRecord, epoch: int) -> bool:
        """Is a commit built on ``epoch`` accepted as the next epoch of ``rec``?"""
        ...

    def accepts_proposal(self, rec: GroupRecord, epoch: int) -> bool:
        """Is a proposal sent in ``epoch`` still current?"""
        ...


class SingleOrdering:
    """First commit for the current epoch wins; proposals are current only in their epoch."""

    name = "single"

    def accepts_commit(self, rec: GroupRecord, epoch: int) -> bool:
        return epoch == rec.epoch

    def accepts_proposal(self, rec: GroupRecord, epoch: int) -> bool:
        return epoch == rec.epoch


class HubOrdering(SingleOrdering):
    """The same rule, applied by the DS of each group's owning provider (the world routes every
    handshake message of a group to its hub; other providers forward and fan out)."""

    name = "hub"


class Leaderless:
    """No DS decides: every commit is delivered (see ``sim/forks.py`` for how members agree)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def accepts_commit(self, rec: GroupRecord, epoch: int) -> bool:
        return True

    def accepts_proposal(self, rec: GroupRecord, epoch: int) -> bool:
        return True


def make_ordering(name: str) -> Ordering:
    if name == "single":
        return SingleOrdering()
    if name == "hub":
        return HubOrdering()
    if name in ("client-fanout", "decentralised"):
        return Leaderless(name)
    raise ValueError(f"unknown ordering {name!r}")
