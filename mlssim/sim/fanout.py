"""What each member downloads when the DS fans a commit out: the fan-out hook.

- ``plain``: every member downloads the whole commit; the committer uploads it.
- ``split`` (server-assisted, SAIK / the split-commit draft; format in ``mlssim/assist/split_commit.py``
  and ``docs/bandwidth.md``): the committer uploads a SplitCommit (the stripped, signed content
  plus every ciphertext), DSs forward it between providers, and each member downloads only its
  own ciphertext, its Merkle proof and the public keys it cannot derive. Sizes are exact
  encodings. The members' state machines still process the plain commit (the simulator's
  members are RFC 9420 clients); the split format is used for the byte counts, and its
  verification is tested in the core.

- ``pre``: members download the plain commit; the committer also uploads its PRE records and
  re-encryption key, which the DS keeps (``mlssim/assist/pre_store.py``; the upload is counted where
  the commit is sent, in ``Client.send_commit``, and the store lives in the DS's group record).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from ..assist.split_commit import download_sizes, upload_size
from ..mls.crypto import CipherSuite
from ..mls.group import StagedCommit

__all__ = ["Fanout", "PlainFanout", "PREFanout", "SplitFanout", "make_fanout"]


class Fanout(Protocol):
    name: str

    def commit_sizes(self, staged: StagedCommit, commit_bytes: int) -> tuple[int, Mapping[str, int] | None]:
        """Bytes the committer uploads (and DSs forward) for this commit, and what each member
        downloads (``None``: the plain commit, ``commit_bytes``). Computed by the committer,
        which holds the staged commit; the DS receives only the sizes."""
        ...


class PlainFanout:
    name = "plain"

    def commit_sizes(self, staged: StagedCommit, commit_bytes: int) -> tuple[int, Mapping[str, int] | None]:
        return commit_bytes, None


class PREFanout(PlainFanout):
    name = "pre"


class SplitFanout:
    """Per-member sizes computed once per commit, in O(N)."""

    name = "split"

    def __init__(self, suite: CipherSuite) -> None:
        self.suite = suite

    def commit_sizes(self, staged: StagedCommit, commit_bytes: int) -> tuple[int, Mapping[str, int] | None]:
        by_leaf = download_sizes(self.suite, staged)
        tree = staged.ratchet_tree
        sizes = {leaf.credential.identity.decode(): by_leaf[i] for i, leaf in tree.leaves() if i in by_leaf}
        return upload_size(self.suite, staged), sizes


def make_fanout(name: str, suite: CipherSuite) -> Fanout:
    if name == "plain":
        return PlainFanout()
    if name == "split":
        return SplitFanout(suite)
    if name == "pre":
        return PREFanout()
    raise ValueError(f"unknown fan-out {name!r}")
