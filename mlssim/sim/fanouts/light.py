"""``plain`` fan-out with light members (draft-kiefer-mls-light; ``groups[].light_share``): the
ordering DS keeps every epoch's tree and prepares, per light member, what the core's light
processing takes (choice L2 of ``mlssim/mls/light.py``): an AnnotatedCommit for each commit, an
AnnotatedWelcome for a light joiner (L8: the Welcome carries no tree), and a
SenderAuthenticatedMessage for each application message. Full members are served as under
``plain``. The member side is ``sim/light_members.py``.

Model choices, written down:

- Which members are light is the strategy's registry (a light client would tell its DS; it is not
  on the wire): ``round(light_share × initial members)`` of the initial members other than the
  creator, drawn from the stream ``group/<g>/light``, and each joiner the workload adds while the
  light members are fewer than the share (:meth:`Light.joiner`).
- What the DS reads: the before- and after-trees it keeps, the commit's sender (a new member's
  external commit is a PublicMessage with sender type ``new_member_commit``), the removed members
  (by name, as the ordering DS knows membership) and whether the commit has a path (the
  committer's leaf changed: RFC 9420 §12.4.2 replaces it exactly when there is a path).
- The annotation work is recorded (``ds_light`` events per commit and per light joiner, and
  the ``ds_light_messages`` count) and charged to the DS (an ``encode`` per annotated message:
  its time under ``hardware.ds``, ``sim/ds_processing.py``).
- A DS–DS copy is counted as the plain message (the per-member proofs are added by the
  ordering DS before its own clients' downloads, and at the other providers' DSs as if they
  annotated too: each provider's DS keeps the public tree it is sent).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from random import Random
from typing import Any

from ...mls.codec import encode
from ...mls.light import annotate_commits, annotate_welcome, sender_authenticated
from ...mls.messages import AnnotatedCommit, MLSMessage, PublicMessage, SenderType
from ...mls.ratchet_tree import RatchetTree
from .. import light_members
from ..client import Client
from ..delivery import CommitView, DeliveryService, Recipient
from ..forks import message_epoch
from ..records import GroupRecord
from .plain import Plain

__all__ = ["Light"]

#: past epochs' trees the DS keeps to annotate late application messages (beyond any
#: ``mls.keep_past_epochs`` a member can decrypt)
KEPT_TREES = 8


class _Trees:
    """One group's trees at the DS, by epoch, each with its member name → leaf map."""

    def __init__(self) -> None:
        self.by_epoch: dict[int, RatchetTree] = {}
        self.latest: int = -1
        self._leaves: dict[int, dict[str, int]] = {}

    def add(self, epoch: int, tree: RatchetTree) -> None:
        self.by_epoch[epoch] = tree
        self.latest = max(self.latest, epoch)
        for e in [e for e in self.by_epoch if e < self.latest - KEPT_TREES]:
            del self.by_epoch[e]
            self._leaves.pop(e, None)

    def leaves(self, epoch: int) -> dict[str, int]:
        """Member name → leaf in ``epoch``'s tree (one O(N) pass per epoch)."""
        m = self._leaves.get(epoch)
        if m is None:
            tree = self.by_epoch[epoch]
            m = self._leaves[epoch] = {leaf.credential.identity.decode(): int(i) for i, leaf in tree.leaves()}
        return m


class Light(Plain):
    name = "plain"

    def __init__(self) -> None:
        #: group -> names of its light members (joined or about to)
        self.light: dict[str, set[str]] = {}
        self.share: dict[str, float] = {}
        self._trees: dict[str, _Trees] = {}
        #: the last commit's annotations, by light member (see ``Split._last``)
        self._last: tuple[CommitView, Mapping[str, AnnotatedCommit]] | None = None

    # -- which members are light ------------------------------------------------------------

    def place_light(self, group: str, members: Sequence[str], share: float | None, rng: Random) -> None:
        """Draw the group's light initial members (never the creator, ``members[0]``)."""
        if share is None:
            return
        k = min(round(share * len(members)), len(members) - 1)
        self.share[group] = share
        self.light[group] = {members[i] for i in sorted(rng.sample(range(1, len(members)), k))}

    def joiner(self, group: str, name: str, members: Sequence[str]) -> None:
        """A joiner the workload adds to a group of ``members`` is light while that keeps the
        light members at most the share (counting the joiner)."""
        share = self.share.get(group)
        if share is None:
            return
        light = self.light[group]
        if sum(1 for m in members if m in light) + 1 <= share * (len(members) + 1):
            light.add(name)

    def is_light(self, group: str, name: str) -> bool:
        s = self.light.get(group)
        return s is not None and name in s

    # -- commits ----------------------------------------------------------------------------

    def _annotations(self, group: str, view: CommitView) -> Mapping[str, AnnotatedCommit]:
        """Every light receiver's AnnotatedCommit for ``view`` (once per commit)."""
        if self._last is not None and self._last[0] is view:
            return self._last[1]
        trees = self._trees.get(group)
        light = self.light.get(group, set())
        out: dict[str, AnnotatedCommit] = {}
        if trees is not None and light:
            before = trees.by_epoch[trees.latest]
            names = trees.leaves(trees.latest)
            committer = int(view.committer)
            body = view.message.body
            external = isinstance(body, PublicMessage) and (
                body.content.sender.sender_type == SenderType.NEW_MEMBER_COMMIT
            )
            receivers = {n: names[n] for n in sorted(light) if n in names and names[n] != committer}
            by_leaf = annotate_commits(
                None if external else before,
                view.tree,
                view.message,
                sender_before=None if external else committer,
                sender_after=committer,
                receivers=list(receivers.values()),
                added=frozenset(view.added_leaves),
                removed=frozenset(receivers[n] for n in view.removed if n in receivers),
                with_path=external or before.leaf(committer) != view.tree.leaf(committer),
            )
            out = {n: by_leaf[leaf] for n, leaf in receivers.items()}  # type: ignore[index]
        self._last = (view, out)
        return out

    def commit_for(self, group: str, view: CommitView, m: Recipient) -> tuple[int, Callable[[], None]]:
        if not self.is_light(group, m.name):
            return super().commit_for(group, view, m)
        ann = self._annotations(group, view).get(m.name)
        assert ann is not None and isinstance(m, Client), f"{m.name} has no annotation"
        return len(encode(ann)), partial(light_members.commit, m, group, ann)

    def at_ds(self, ds: DeliveryService, group: str, rec: GroupRecord, view: CommitView) -> None:
        """Keep the new epoch's tree; record the annotation work of this commit."""
        if group not in self.light:
            return
        anns = self._annotations(group, view)
        if anns:
            w = ds.world
            built = sum(len(encode(a)) for a in anns.values())
            self.charge_ds(encodes=len(anns), encode_bytes=built)
            w.recorder.event(
                w.env.now,
                "ds_light",
                group=group,
                epoch=rec.epoch,
                what="commit",
                annotations=len(anns),
                bytes=built,
            )
        self._trees.setdefault(group, _Trees()).add(rec.epoch, view.tree)

    # -- joiners ----------------------------------------------------------------------------

    def to_joiners(self, ds: DeliveryService, group: str, rec: GroupRecord, view: CommitView) -> int:
        """Full joiners as under ``plain``; each light joiner gets its AnnotatedWelcome (the
        Welcome with the signer's and its own membership proofs, §8)."""
        light = [n for n in view.added if self.is_light(group, n)]
        if view.welcome is None or not light:
            return super().to_joiners(ds, group, rec, view)
        full = [n for n in view.added if n not in light]
        fanned = self.welcome_to(ds, group, rec, view, full) if full else 0
        w = ds.world
        welcome = view.welcome.body
        leaves = self._trees[group].leaves(rec.epoch)
        wsize = len(encode(view.welcome))
        steps: dict[str, tuple[int, Callable[[], None]]] = {}
        for name in light:
            aw = annotate_welcome(view.tree, welcome, int(view.committer), leaves[name])  # type: ignore[arg-type]
            size = len(encode(aw))
            c = w.clients[name]
            assert isinstance(c, Client)
            steps[name] = (size, partial(light_members.welcome, c, group, aw))
            w.recorder.event(
                w.env.now,
                "join_cost",
                group=group,
                client=name,
                mode="annotated-welcome",
                op=view.kind,
                download=size,
                upload=0,
                adder_upload=wsize,
            )
        built = sum(s for s, _ in steps.values())
        self.charge_ds(encodes=len(steps), encode_bytes=built)
        w.recorder.event(
            w.env.now,
            "ds_light",
            group=group,
            epoch=rec.epoch,
            what="welcome",
            annotations=len(steps),
            bytes=built,
        )
        return fanned + ds.fan_out_each(light, "welcome", group, wsize, lambda m: steps[m.name])

    # -- application messages ---------------------------------------------------------------

    def message_step(
        self, ds: DeliveryService, group: str, sender: str, msg: MLSMessage, size: int
    ) -> Callable[[Recipient], tuple[int, Callable[[], None]]] | None:
        """Light receivers get ``msg`` with its sender's membership proof in the message's
        epoch (§7, §11); ``None`` for a group without light members."""
        light = self.light.get(group)
        trees = self._trees.get(group)
        if not light or trees is None:
            return None
        w = ds.world
        epoch = message_epoch(msg)
        sam = None
        if epoch in trees.by_epoch and sender in (names := trees.leaves(epoch)):
            sam = sender_authenticated(trees.by_epoch[epoch], msg, names[sender])
            w.recorder.counts[("ds_light_messages", group)] += 1
        sam_size = len(encode(sam)) if sam is not None else size
        if sam is not None:
            self.charge_ds(encodes=1, encode_bytes=sam_size)

        def step(m: Recipient) -> tuple[int, Callable[[], None]]:
            assert isinstance(m, Client)
            if m.name not in light:
                return size, partial(m.on_application, group, msg)
            return sam_size, partial(light_members.message, m, group, sam)

        return step

    # -- the summary ------------------------------------------------------------------------

    def members_by_kind(self, w: Any) -> dict[str, Any] | None:
        """The summary's ``light_members`` (``light_members.members_by_kind``)."""
        if not self.light:
            return None
        members = [
            (g, name, w.clients[name].state_in(g))
            for g in sorted(self.light)
            for name in w.ds_of(g).groups[g].members
        ]
        return light_members.members_by_kind(w.recorder, members, self.is_light)
