"""Designs with an orderer (``single``, ``hub``): a DS decides the order of a group's handshake.

The ordering DS accepts the first commit built on the group's current epoch and rejects the
rest (the losers' committers discard their staged commit and retry after the retry policy's
backoff); a proposal is current only in its epoch. Every message a member sends goes to the
orderer through the member's home DS, which fans it out (``sim/delivery.py``). Which DS orders
a group is the subclass's choice (:meth:`Ordered.orderer_of`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...assist.pre_store import PREUpload
from ...mls.group import StagedCommit
from ...mls.messages import MLSMessage
from .. import commits, resync
from ..client import Client
from ..context import Sim
from ..delivery import CommitView, DeliveryService
from ..records import CONTROL_BYTES, GroupRecord, PendingCommit
from ..routing import Hop, relay, route
from ..summary import Finished

__all__ = ["Ordered"]


class Ordered:
    name = "ordered"
    #: a DS decides every commit (so a failover can move it: ``sim/faults.py``)
    decides = True

    def orderer_of(self, owner: str, providers: list[str]) -> str:
        """The provider whose DS orders a group owned by ``owner``."""
        raise NotImplementedError

    # -- at the orderer ---------------------------------------------------------------------

    def accepts_commit(self, rec: GroupRecord, epoch: int) -> bool:
        """Is a commit built on ``epoch`` accepted as the next epoch of ``rec``?"""
        return epoch == rec.epoch

    def accepts_proposal(self, rec: GroupRecord, epoch: int) -> bool:
        """Is a proposal sent in ``epoch`` still current?"""
        return epoch == rec.epoch

    # -- what a member sends and receives ---------------------------------------------------

    def send_application(self, c: Client, group: str, msg: MLSMessage, n: int, auth: bytes) -> None:
        sent_to = c.world.ds_of(group)
        c.upload(
            group,
            n,
            "application",
            lambda: _forwarded(
                c, group, sent_to, n, "application", lambda ds: ds.order_application(group, c.name, n, msg)
            ),
        )

    def send_proposal(self, c: Client, group: str, msg: MLSMessage, n: int, epoch: int) -> None:
        sent_to = c.world.ds_of(group)
        c.upload(
            group,
            n,
            "proposal:update",
            lambda: _forwarded(
                c,
                group,
                sent_to,
                n,
                "proposal:update",
                lambda ds: ds.order_proposal(group, epoch, c.name, n, msg),
            ),
        )

    def committer_uploads(self, c: Client, group: str, staged: StagedCommit) -> tuple[int, PREUpload | None]:
        """What the orderer keeps comes with the commit: GroupInfo, tree, the fan-out's own
        upload (PRE records)."""
        extra = c.public_state_bytes(group, staged)
        upload = c.world.fanout.committer_upload(c, group, staged)
        if upload is not None:
            extra += len(upload.encoded())
        return extra, upload

    def submit_commit(self, c: Client, group: str, epoch: int, total: int, view: CommitView) -> None:
        """Upload ``total`` bytes to the orderer, which accepts or rejects (``order_commit``)."""
        w = c.world
        sent_to = w.ds_of(group)
        p = c.pending[group]

        def at_orderer() -> None:
            if w.ds_of(group) is sent_to:
                p.delivered = True
                sent_to.order_commit(group, epoch, c.name, view)
            elif c.pending.get(group) is p:  # the orderer moved: this DS tells the committer
                w.recorder.event(w.env.now, "orderer_moved", group=group, client=c.name, action="reject")
                sent_to.to_client(c.name, CONTROL_BYTES, "commit_reject", group, lambda: c.on_reject(group))
            else:  # the committer has redone it at the new orderer already
                w.recorder.event(w.env.now, "orderer_moved", group=group, client=c.name, action="drop")

        c.upload(group, total, f"commit:{view.kind}", at_orderer)

    def receive_commit(self, c: Client, group: str, msg: MLSMessage) -> None:
        c.process_commit(group, msg)

    def joined(self, c: Client, group: str) -> None:
        """Nothing to do: the orderer's verdicts keep every member on one branch."""

    # -- what the world's policies ask ------------------------------------------------------

    def retry_add(
        self,
        w: Sim,
        adder: Client,
        group: str,
        newbie: Client,
        kp: Any,
        prev: PendingCommit,
        path: bool | None,
        kind: str,
    ) -> None:
        """A rejected Add is redone with the same KeyPackage (its Welcome was never sent)."""
        commits.add(w, adder, group, newbie, kp, prev, path=path, kind=kind)

    def removal_candidates(self, w: Sim, remover: Client, group: str) -> list[str]:
        """The members ``remover`` may remove: the orderer's record, less itself."""
        return [m for m in w.members_of(group) if m != remover.name]

    def start_resync(self, w: Sim, c: Client, group: str, reason: str) -> None:
        resync.start(w, c, group, reason)

    def public_state_for_resync(self, resync_mode: str) -> bool:
        """Does the orderer keep GroupInfo and tree for members that re-sync by external commit?"""
        return resync_mode == "external-commit"

    # -- results ----------------------------------------------------------------------------

    def accepted_commits(self, merged: int, accepted: int, dropped: int) -> int:
        """Commits that made an epoch: the orderer's acceptances."""
        return accepted

    def group_outcome(self, w: Finished, gname: str) -> dict[str, Any]:
        """Members, epoch and agreement at the end of the run: the orderer's record, converged
        when every member holds the same epoch state."""
        drec: GroupRecord = w.ds_of(gname).groups[gname]
        states = set()
        held = 0
        for m in drec.members:
            g = w.clients[m].state_in(gname)
            if g is not None:
                held += 1
                states.add((g.epoch, g.epoch_authenticator))
        agree = len(states) == 1 and held == len(drec.members)
        return {
            "members": len(drec.members),
            "epoch": drec.epoch,
            "converged": agree,
            "orphaned": 0,
            "ds_storage_bytes": drec.storage_bytes(),
        }


def _forwarded(
    c: Client,
    group: str,
    sent_to: DeliveryService,
    size: int,
    msg_type: str,
    act: Callable[[DeliveryService], None],
) -> None:
    """A message reached ``sent_to``, the group's orderer when it was sent: ``act`` there, or,
    when a failover moved the ordering since (``sim/faults.py``), forward it to the new one."""
    w = c.world
    ds = w.ds_of(group)
    if ds is sent_to:
        act(ds)
        return
    w.recorder.event(w.env.now, "orderer_moved", group=group, client=c.name, action="forward")
    relay(
        w.network,
        route(Hop(sent_to.node, ds.node, "ds_ds", "forward")),
        size,
        msg_type,
        group,
        lambda: act(ds),
    )
