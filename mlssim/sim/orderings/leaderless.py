"""Designs without an orderer (``client-fanout``, ``decentralised``): members resolve forks.

Every committer merges its own commit at once (keeping a checkpoint) and sends it to the
members of its epoch; two commits for one epoch fork the group, and every member applies the
rule of ``sim/forks.py`` (the lowest hash wins). Messages travel by ``federation.topology``:
one upload to the home DS, which fans out (``server``); one copy per provider hosting
recipients (``client-per-provider``); or one per recipient (``client-per-member``). No DS
keeps the group's public state, so nobody re-syncs through an orderer.

A group still has a membership *directory* (the DS record named by ``World.ds_groups``) that
committers update as they merge: the workload's view of who is in the group, never a result.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from ...assist.pre_store import PREUpload
from ...mls.codec import encode
from ...mls.group import StagedCommit
from ...mls.messages import MLSMessage
from .. import commits, forks
from ..client import Client
from ..context import Sim
from ..delivery import CommitView
from ..records import GroupRecord, PendingCommit
from ..routing import Hop, relay, route
from ..summary import Finished, majority_state

__all__ = ["Leaderless", "view_members"]


def view_members(c: Client, group: str) -> list[str]:
    """The other members in ``c``'s own tree: whom it addresses without an orderer."""
    g = c.groups[group]
    me = g.leaf_index
    return [leaf.credential.identity.decode() for i, leaf in g.tree.leaves() if i != me]


class Leaderless:
    name = "leaderless"
    default_topology = "server"
    #: no DS decides a commit: nothing to fail over (``sim/faults.py``)
    decides = False

    def __init__(self, topology: str | None, directory: str | None = None) -> None:
        self.topology = topology or self.default_topology
        self.directory = directory

    def orderer_of(self, owner: str, providers: list[str]) -> str:
        """The provider whose DS holds the group's membership directory (it orders nothing)."""
        return self.directory or providers[0]

    def accepts_commit(self, rec: GroupRecord, epoch: int) -> bool:
        return True

    def accepts_proposal(self, rec: GroupRecord, epoch: int) -> bool:
        return True

    # -- what a member sends and receives ---------------------------------------------------

    def send_application(self, c: Client, group: str, msg: MLSMessage, n: int, auth: bytes) -> None:
        w = c.world
        receivers = view_members(c, group)
        w.recorder.event(w.env.now, "app_fanout", group=group, client=c.name, receivers=len(receivers))
        self.broadcast(
            c, group, "application", "application", n, n, receivers, "on_application", (group, msg, auth)
        )

    def send_proposal(self, c: Client, group: str, msg: MLSMessage, n: int, epoch: int) -> None:
        self.broadcast(
            c, group, "proposal:update", "proposal", n, n, view_members(c, group), "on_proposal", (group, msg)
        )

    def committer_uploads(self, c: Client, group: str, staged: StagedCommit) -> tuple[int, PREUpload | None]:
        """No DS keeps public state or a PRE store: nothing but the commit is uploaded."""
        return 0, None

    def submit_commit(self, c: Client, group: str, epoch: int, total: int, view: CommitView) -> None:
        """Merge at once, keep a checkpoint, send to the members of the old epoch."""
        w = c.world
        p = c.pending.pop(group)
        recipients = view_members(c, group)  # includes the members this commit removes
        g, before = c.merge_own(group, p.staged)
        forks.record_own_commit(c, group, before, view.message, p)
        if p.kind == "create":
            w.created[group].succeed()
        directory = w.ds_of(group).groups[group].members
        for name in p.removed:
            directory.pop(name, None)
        for name in p.added:
            directory[name] = w.clients[name].provider
        c.merged(
            group,
            g,
            p,
            parent=before.epoch_authenticator.hex(),
            digest=forks.commit_digest(view.message).hex(),
        )
        w.epoch_reached(group, c.name, g)
        c.epoch_changed(group, g, committed_mine=False)
        p.cost += self.broadcast(
            c,
            group,
            f"commit:{p.kind}",
            "commit",
            view.wire,
            view.download,
            recipients,
            "on_commit",
            (group, view.message),
        )
        if view.welcome is not None:
            joiners = list(p.added)
            if not w.config_for(group).ratchet_tree_in_welcome:
                tree = view.tree
                tsize = len(tree.encode())
                p.cost += self.broadcast(
                    c, group, "ratchet_tree", "ratchet_tree", tsize, tsize, joiners, "on_tree", (group, tree)
                )
            wsize = len(encode(view.welcome))
            p.cost += self.broadcast(
                c, group, "welcome", "welcome", wsize, wsize, joiners, "on_welcome", (group, view.welcome)
            )

    def receive_commit(self, c: Client, group: str, msg: MLSMessage) -> None:
        forks.receive_commit(c, group, msg)

    def joined(self, c: Client, group: str) -> None:
        forks.joined(c, group)

    def broadcast(
        self,
        sender: Client,
        group: str,
        up_type: str,
        down_type: str,
        wire_size: int,
        member_size: int | Callable[[str], int],
        recipients: list[str],
        handler: str,
        args: tuple[Any, ...],
    ) -> int:
        """Send one message from ``sender`` to ``recipients`` under the topology: each
        recipient ``m`` downloads ``member_size`` bytes (an int, or ``member_size(m)``) and runs
        ``m.<handler>(*args)`` on arrival. Returns the bytes it puts on the network: uploads,
        forwards and downloads."""
        if not recipients:
            return 0
        w = sender.world
        home = w.providers[sender.provider].ds
        net = w.network
        clients = w.clients
        sizes = (
            dict.fromkeys(recipients, member_size)
            if isinstance(member_size, int)
            else {m: member_size(m) for m in recipients}
        )
        downloads = sum(sizes[m] for m in recipients)
        remote = {clients[m].provider for m in recipients} - {sender.provider}
        upload = partial(
            net.send,
            sender.node,
            home.node,
            "client_ds",
            wire_size,
            role="upload",
            msg_type=up_type,
            group=group,
        )
        if self.topology == "server":
            upload(
                on_receive=partial(
                    home.fan_out, recipients, down_type, group, wire_size, sizes.__getitem__, handler, args
                )
            )
            return wire_size * (1 + len(remote)) + downloads
        if self.topology == "client-per-provider":
            by_home: dict[str, list[str]] = {}
            for m in recipients:
                by_home.setdefault(clients[m].provider, []).append(m)
            copies = list(by_home.items())
        else:
            copies = [(clients[m].provider, [m]) for m in recipients]
        for provider, members in copies:
            dest = w.providers[provider].ds
            local = partial(
                dest.deliver_many,
                [clients[m] for m in members],
                [sizes[m] for m in members],
                down_type,
                group,
                [partial(getattr(type(clients[m]), handler), clients[m], *args) for m in members],
            )
            forward = route(Hop(home.node, dest.node, "ds_ds", "forward"))
            upload(on_receive=partial(relay, net, forward, wire_size, down_type, group, local))
        forwards = sum(1 for provider, _ in copies if provider != sender.provider)
        return wire_size * (len(copies) + forwards) + downloads

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
        """A dropped Add's Welcome may have consumed the KeyPackage: fetch a new one."""
        commits.refetch_add(w, adder, group, newbie, prev, path=path, kind=kind)

    def removal_candidates(self, w: Sim, remover: Client, group: str) -> list[str]:
        """The members ``remover`` may remove: the others in its own tree."""
        return view_members(remover, group)

    def start_resync(self, w: Sim, c: Client, group: str, reason: str) -> None:
        """No orderer to NACK to: a member that cannot follow stays where it is."""

    def public_state_for_resync(self, resync_mode: str) -> bool:
        return False

    # -- results ----------------------------------------------------------------------------

    def accepted_commits(self, merged: int, accepted: int, dropped: int) -> int:
        """Commits that made an epoch: those merged and never dropped by a fork switch."""
        return merged - dropped

    def group_outcome(self, w: Finished, gname: str) -> dict[str, Any]:
        """The group is what most of its holders hold (ties: the later epoch); its members are
        that state's tree, and clients holding any other state of it count as ``orphaned``."""
        state, keepers = majority_state(w, gname)
        if state is None:
            return {"members": 0, "epoch": None, "converged": False, "orphaned": 0}
        holders = {n: g for n, c in w.clients.items() if (g := c.groups.get(gname)) is not None}
        some = holders[keepers[0]]
        members = {leaf.credential.identity.decode() for _, leaf in some.tree.leaves()}
        agree = all(
            m in holders and (holders[m].epoch, holders[m].epoch_authenticator) == state for m in members
        )
        orphaned = sum(1 for n in holders if n not in members)
        return {"members": len(members), "epoch": state[0], "converged": agree, "orphaned": orphaned}
