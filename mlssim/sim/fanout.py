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

from collections import OrderedDict
from typing import Protocol

from ..assist.split_commit import download_sizes, upload_size
from ..mls.crypto import CipherSuite
from ..mls.group import StagedCommit

__all__ = ["Fanout", "PlainFanout", "PREFanout", "SplitFanout", "make_fanout"]


class Fanout(Protocol):
    name: str

    def commit_upload(self, staged: StagedCommit, commit_bytes: int) -> int:
        """Bytes the committer uploads (and DSs forward) for this commit."""
        ...

    def commit_download(self, staged: StagedCommit, commit_bytes: int, member: str) -> int:
        """Bytes ``member`` downloads for this commit."""
        ...


class PlainFanout:
    name = "plain"

    def commit_upload(self, staged: StagedCommit, commit_bytes: int) -> int:
        return commit_bytes

    def commit_download(self, staged: StagedCommit, commit_bytes: int, member: str) -> int:
        return commit_bytes


class PREFanout(PlainFanout):
    name = "pre"


class SplitFanout:
    """Per-member sizes computed once per commit (O(N)), kept for the commits in flight."""

    name = "split"

    def __init__(self, suite: CipherSuite, keep: int = 64) -> None:
        self.suite = suite
        self.keep = keep
        # id(staged) -> (staged, member name -> download size); holding ``staged`` keeps the id unique
        self._cache: OrderedDict[int, tuple[StagedCommit, dict[str, int], int]] = OrderedDict()

    def _sizes(self, staged: StagedCommit, commit_bytes: int) -> tuple[dict[str, int], int]:
        hit = self._cache.get(id(staged))
        if hit is not None:
            return hit[1], hit[2]
        by_leaf = download_sizes(self.suite, staged)
        tree = staged.ratchet_tree
        sizes = {leaf.credential.identity.decode(): by_leaf[i] for i, leaf in tree.leaves() if i in by_leaf}
        up = upload_size(self.suite, staged)
        self._cache[id(staged)] = (staged, sizes, up)
        while len(self._cache) > self.keep:
            self._cache.popitem(last=False)
        return sizes, up

    def commit_upload(self, staged: StagedCommit, commit_bytes: int) -> int:
        return self._sizes(staged, commit_bytes)[1]

    def commit_download(self, staged: StagedCommit, commit_bytes: int, member: str) -> int:
        # members the commit removes (not in its new tree) get the plain commit
        return self._sizes(staged, commit_bytes)[0].get(member, commit_bytes)


def make_fanout(name: str, suite: CipherSuite) -> Fanout:
    if name == "plain":
        return PlainFanout()
    if name == "split":
        return SplitFanout(suite)
    if name == "pre":
        return PREFanout()
    raise ValueError(f"unknown fan-out {name!r}")
