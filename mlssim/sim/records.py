"""What the simulator keeps about groups and commits in flight, below every actor.

``GroupRecord`` is the ordering DS's view of a group (public data only); ``PendingCommit`` is a
committer's commit waiting for its verdict, with the retry bookkeeping written once
(:meth:`PendingCommit.next_attempt`). Both sit below the actors so that the DS, the clients,
the ordering strategies and the fork resolution can share them without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..assist.pre_store import PREStore
from ..mls.codec import encode
from ..mls.group import StagedCommit
from ..mls.messages import MLSMessage
from ..mls.ratchet_tree import RatchetTree
from .free import MembersDict

__all__ = ["CONTROL_BYTES", "GroupRecord", "PendingCommit"]

#: size counted for a control message (accept/reject, fetch requests): a small fixed header
CONTROL_BYTES = 32


@dataclass
class GroupRecord:
    """What the ordering DS knows about a group."""

    name: str
    owner: str
    epoch: int = 0
    #: client name -> provider (versioned: the workload's candidate lists follow it, sim/free.py)
    members: dict[str, str] = field(default_factory=MembersDict)
    #: the current epoch's signed GroupInfo and public tree, when joiners need them
    group_info: MLSMessage | None = None
    tree: RatchetTree | None = None
    _tree_bytes: int | None = None
    #: under ``fanout: pre``: the group's PRE-encrypted node secrets (ciphertexts only)
    pre_store: PREStore | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.members, MembersDict):
            self.members = MembersDict(self.members)

    def tree_bytes(self) -> int:
        """Size of the encoded ratchet tree (computed once per epoch, on first download)."""
        if self._tree_bytes is None:
            assert self.tree is not None
            self._tree_bytes = len(self.tree.encode())
        return self._tree_bytes

    def storage_bytes(self) -> int:
        """Bytes the ordering DS keeps for the group between epochs: GroupInfo and tree when
        joiners or re-syncs need them, and the PRE store (queued messages are not counted)."""
        total = 0
        if self.group_info is not None and self.tree is not None:
            total += len(encode(self.group_info)) + self.tree_bytes()
        if self.pre_store is not None:
            total += self.pre_store.storage_bytes()
        return total


@dataclass
class PendingCommit:
    """A commit a client staged and sent, waiting for the verdict (or, without an orderer,
    merged and possibly dropped later by a fork switch). Held by the committer only: the DS
    never sees it (it carries the staged commit and so the committer's secrets)."""

    staged: StagedCommit
    kind: str
    first_attempt: float
    attempts: int
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    retry: Callable[[PendingCommit], None] | None = None
    #: bytes this attempt put on the network (all copies, forwards and downloads it caused)
    cost: int = 0
    #: the commit reached a DS ordering its group (a failover redirects only those that did not)
    delivered: bool = False

    @staticmethod
    def next_attempt(prev: PendingCommit | None, now: float) -> tuple[float, int]:
        """When the operation was first tried and which attempt this is: a retry keeps the
        first attempt's time (latency counts from it) and counts one more attempt."""
        return (prev.first_attempt, prev.attempts + 1) if prev is not None else (now, 1)
