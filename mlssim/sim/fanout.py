"""What each member downloads when the DS fans a handshake message out: the fan-out hook.

``plain`` (this module) is the baseline: every member downloads the whole message, and a
joiner whose Welcome omits the ratchet tree downloads the whole encoded tree. Server-assisted
(split) commits and proxy re-encryption replace these sizes per member.
"""

from __future__ import annotations

from typing import Protocol

from ..mls.group import StagedCommit

__all__ = ["Fanout", "PlainFanout", "make_fanout"]


class Fanout(Protocol):
    name: str

    def commit_download(self, staged: StagedCommit, commit_bytes: int, member: str) -> int:
        """Bytes ``member`` downloads for this commit."""
        ...


class PlainFanout:
    name = "plain"

    def commit_download(self, staged: StagedCommit, commit_bytes: int, member: str) -> int:
        return commit_bytes


def make_fanout(name: str) -> Fanout:
    if name == "plain":
        return PlainFanout()
    raise ValueError(f"unknown fan-out {name!r}")
