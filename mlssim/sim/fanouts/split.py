"""``split`` fan-out (server-assisted, SAIK / the split-commit draft; format in
``mlssim/assist/split_commit.py`` and ``docs/bandwidth.md``): the committer uploads a
SplitCommit (the stripped, signed content plus every ciphertext), DSs forward it between
providers, and each member downloads only its own ciphertext, its Merkle proof and the public
keys it cannot derive. Sizes are exact encodings. The members' state machines still process the
plain commit (the simulator's members are RFC 9420 clients); the split format is used for the
byte counts, and its verification is tested in the core.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...assist.split_commit import download_sizes, upload_size
from ...mls.crypto import CipherSuite
from ...mls.group import StagedCommit
from .plain import Plain

__all__ = ["Split"]


class Split(Plain):
    name = "split"

    def __init__(self, suite: CipherSuite) -> None:
        self.suite = suite

    def commit_sizes(self, staged: StagedCommit, commit_bytes: int) -> tuple[int, Mapping[str, int] | None]:
        """Per-member sizes computed once per commit, in O(N); members the commit removes (not
        in its new tree) get the plain commit."""
        by_leaf = download_sizes(self.suite, staged)
        tree = staged.ratchet_tree
        sizes = {leaf.credential.identity.decode(): by_leaf[i] for i, leaf in tree.leaves() if i in by_leaf}
        return upload_size(self.suite, staged), sizes
