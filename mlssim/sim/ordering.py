"""Who orders a group's handshake messages: the ordering hook of the delivery service.

An orderer decides, for each handshake message that reaches it, whether it is accepted for the
group's current epoch. ``single`` (this module) is the baseline: one DS (the owning
provider's) accepts the first commit for each epoch and rejects later ones for the same epoch.
The federation designs (hub, client fan-out, decentralised) plug in beside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .actors import GroupRecord

__all__ = ["Ordering", "SingleOrdering", "make_ordering"]


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


def make_ordering(name: str) -> Ordering:
    if name == "single":
        return SingleOrdering()
    raise ValueError(f"unknown ordering {name!r}")
