"""``split`` fan-out: draft-mularczyk-mls-splitcommit end to end (``mlssim/mls/split_commit.py``,
``docs/bandwidth.md``). The committer sends a splittable commit (``SCommit``: the framed
SHeader and every path ciphertext), DSs forward it between providers, and the ordering DS sends
each member its ``IndividualCommit`` (the header, the one ciphertext the member decrypts and the
path keys it cannot derive), which the member processes as its commit. Members the commit removes
get the header alone (choice S6). Sizes are the exact encodings of what is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

from ...mls.codec import encode
from ...mls.commit_builder import CommitFraming
from ...mls.group import StagedCommit
from ...mls.messages import IndividualCommit, MLSMessage, SCommit
from ...mls.ratchet_tree import RatchetTree
from ...mls.split_commit import SPLIT_FRAMING, project_all
from ..delivery import CommitView, DeliveryService, Recipient
from ..records import GroupRecord
from .plain import Plain

__all__ = ["Split"]


def _by_name(
    message: MLSMessage, tree: RatchetTree, committer: int, added: tuple[int, ...]
) -> dict[str, MLSMessage]:
    """Each receiver's IndividualCommit by client name, from the commit's new tree: what a DS
    that tracks the tree computes once per commit (an O(N) pass over the copath resolutions)."""
    sc = message.body
    assert isinstance(sc, SCommit)
    projected = project_all(sc, tree, committer, frozenset(added))
    return {
        leaf.credential.identity.decode(): MLSMessage(body=projected[i])
        for i, leaf in tree.leaves()
        if i in projected
    }


class Split(Plain):
    name = "split"
    framing: CommitFraming | None = SPLIT_FRAMING

    def __init__(self) -> None:
        # the last commit's projections (one commit is fanned out at a time, recipient by
        # recipient); keyed by the view object, kept alive with it
        self._last: tuple[CommitView, dict[str, MLSMessage], MLSMessage] | None = None

    def commit_sizes(
        self, staged: StagedCommit, commit_bytes: int, removed: tuple[str, ...]
    ) -> tuple[int, Mapping[str, int] | None]:
        """The SCommit is uploaded (``commit_bytes`` is its size); each member downloads its
        IndividualCommit, a removed member the header alone."""
        sc = staged.message.body
        assert isinstance(sc, SCommit)
        projected = _by_name(staged.message, staged.ratchet_tree, int(staged.committer), staged.added)
        sizes = {name: len(encode(m)) for name, m in projected.items()}
        header_only = len(encode(MLSMessage(body=IndividualCommit(sheader=sc.sheader))))
        sizes.update((name, header_only) for name in removed)
        return commit_bytes, sizes

    def _projections(self, view: CommitView) -> tuple[dict[str, MLSMessage], MLSMessage]:
        if self._last is None or self._last[0] is not view:
            sc = view.message.body
            assert isinstance(sc, SCommit)
            header_only = MLSMessage(body=IndividualCommit(sheader=sc.sheader))
            self._last = (
                view,
                _by_name(view.message, view.tree, int(view.committer), view.added_leaves),
                header_only,
            )
        return self._last[1], self._last[2]

    def at_ds(self, ds: DeliveryService, group: str, rec: GroupRecord, view: CommitView) -> None:
        """Record the ordering DS's splitting work for this commit, and charge it (what a DS
        that is a queue takes time for): the IndividualCommits it built and their bytes."""
        projected, _ = self._projections(view)
        w = ds.world
        built = sum(len(encode(m)) for m in projected.values())
        self.charge_ds(encodes=len(projected), encode_bytes=built)
        w.recorder.event(
            w.env.now,
            "ds_split",
            group=group,
            epoch=rec.epoch,
            downloads=len(projected),
            bytes=built,
            scommit_bytes=view.commit_bytes,
        )

    def commit_for(self, group: str, view: CommitView, m: Recipient) -> tuple[int, Callable[[], None]]:
        projected, header_only = self._projections(view)
        msg = projected.get(m.name, header_only)
        return view.download(m.name), partial(m.on_commit, group, msg)
