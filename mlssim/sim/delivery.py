"""The delivery service: one per provider. It orders the groups it owns, relays and stores the rest.

The DS is an adapter of its own: it receives a :class:`CommitView` (the commit's bytes and
sizes, the new epoch's GroupInfo and public tree, the Welcome) and never a ``StagedCommit`` or
any secret. Model choices, written down:

- A group's handshake messages are ordered by one DS (which one, and how it decides, is the
  ordering design's: ``sim/orderings/``). The DS knows a group's membership (which client at
  which provider) from the commits it orders; with ``mls.handshake = private`` this is an
  assumption (MIMI hubs know their rooms' membership), with ``public`` the DS could read it from
  the commit.
- Fan-out is by the servers: the ordering DS sends one copy of a message to each other provider
  hosting receivers (over ``ds_ds``), and each provider's DS delivers it to its own clients or,
  when a client is offline, keeps it in the mailbox for ``mailbox_retention`` seconds. What
  each member downloads is the fan-out strategy's choice (``plain``: the whole message).
- Control messages that are not MLS messages (accept/reject of a commit, mailbox and
  KeyPackage requests) are counted with a fixed size of ``CONTROL_BYTES``.
- When joiners need something from the DS (the tree for a Welcome without the
  ``ratchet_tree`` extension, the GroupInfo for an external commit), the committer uploads
  the new epoch's signed GroupInfo with its commit (counted in the upload). The DS keeps the
  public ratchet tree itself: with ``mls.handshake = public`` it can compute it from the
  commits; with ``private`` the committer uploads the encoded tree too (counted).

Clients appear here only as :class:`Recipient`: the DS calls a recipient's handler by name
(``"on_commit"``, ...), so this module does not depend on the client adapter.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from operator import attrgetter
from typing import Any, Protocol

import simpy

from ..assist.pre import PRE
from ..assist.pre_store import PREJoinDownload, PREJoinSecret, PREUpload
from ..mls.codec import encode
from ..mls.group import GroupConfig
from ..mls.group_state import PublicEpoch
from ..mls.messages import MLSMessage
from ..mls.ratchet_tree import RatchetTree
from ..mls.treemath import LeafIndex
from .ds_processing import DSQueue, Outbox
from .network import Network
from .recorder import Recorder
from .records import CONTROL_BYTES, GroupRecord
from .routing import Hop, relay, route

__all__ = ["AuthenticationService", "CommitView", "DeliveryService", "Recipient"]

_name = attrgetter("name")


@dataclass(frozen=True)
class CommitView:
    """What the ordering DS receives with a commit: public data and sizes only.

    ``public`` is the new epoch's public state (tree, context, confirmation tag) that every
    member will hold. The DS keeps the GroupInfo and tree only when the group needs them (the
    committer then uploads them, counted); the passive adversary is shown ``public`` as what
    it could compute from the same public messages."""

    message: MLSMessage
    #: size of the plain commit (``len(encode(message))``)
    commit_bytes: int
    public: PublicEpoch
    group_info: MLSMessage
    welcome: MLSMessage | None
    committer: LeafIndex
    #: the leaves the commit's Adds filled
    added_leaves: tuple[int, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    kind: str
    #: bytes the committer uploaded and its home DS forwarded to the orderer (wasted if rejected)
    upload_bytes: int = 0
    #: size of the commit as DSs forward it between providers (split: the SplitCommit)
    wire: int = 0
    #: what each member downloads, when the fan-out strategy differs from the plain commit
    member_sizes: Mapping[str, int] | None = None
    #: under ``fanout: pre``: the committer's PRE upload, and the small secrets for its joiners
    pre_upload: PREUpload | None = None
    pre_join: tuple[PREJoinSecret, ...] = ()
    #: a forged commit (``sim/forged_commits.py``): the verdict goes to the connection that sent
    #: it, not to the impersonated member's device, which receives the commit like every member
    reply_to: Callable[[bool], None] | None = None

    @property
    def tree(self) -> RatchetTree:
        return self.public.tree

    def download(self, member: str) -> int:
        """Bytes ``member`` downloads for this commit (members a split commit removes, absent
        from its new tree, get the plain commit)."""
        sizes = self.member_sizes
        return self.commit_bytes if sizes is None else sizes.get(member, self.commit_bytes)


class Recipient(Protocol):
    """A client as the DS sees it: an address and the handlers its messages run."""

    name: str
    node: str
    provider: str
    online: bool

    def on_commit(self, group: str, msg: MLSMessage) -> None: ...
    def on_accept(self, group: str) -> None: ...
    def on_reject(self, group: str) -> None: ...
    def on_proposal_reject(self, group: str, epoch: int) -> None: ...
    def caught_up(self, gaps: list[str] | None = None) -> None: ...
    def on_pre_join(
        self, group: str, secret: PREJoinSecret, download: PREJoinDownload, gi: MLSMessage, tree: RatchetTree
    ) -> None: ...


class CommitObserver(Protocol):
    """The compromise bookkeeping, told what the ordering DS accepts (``sim/compromise.py``)."""

    def commit_accepted(
        self, group: str, epoch: int, sender: str, view: CommitView, welcome_sent: bool
    ) -> None: ...
    def pre_store_seen(self, group: str) -> None: ...


class DSFanout(Protocol):
    """The fan-out strategy at the ordering DS (``sim/fanouts/``): each recipient's step, what
    the DS keeps, and the joiners' path."""

    def commit_for(self, group: str, view: CommitView, m: Recipient) -> tuple[int, Callable[[], None]]: ...
    def at_ds(self, ds: DeliveryService, group: str, rec: GroupRecord, view: CommitView) -> None: ...
    def to_joiners(self, ds: DeliveryService, group: str, rec: GroupRecord, view: CommitView) -> int: ...
    def message_step(
        self, ds: DeliveryService, group: str, sender: str, msg: MLSMessage, size: int
    ) -> Callable[[Recipient], tuple[int, Callable[[], None]]] | None: ...


class Orderer(Protocol):
    """The ordering design's decision at the ordering DS (``sim/orderings/``)."""

    def accepts_commit(self, rec: GroupRecord, epoch: int) -> bool: ...
    def accepts_proposal(self, rec: GroupRecord, epoch: int) -> bool: ...


class _Provider(Protocol):
    @property
    def ds(self) -> DeliveryService: ...


Step = Callable[[Recipient], tuple[int, Callable[[], None]]]


class DSMisbehaviour(Protocol):
    """A misbehaving DS's windows, asked at each delivery and verdict (``sim/misbehaviour.py``)."""

    def intercept(
        self, ds: DeliveryService, client: str, size: int, msg_type: str, group: str, call: Callable[[], None]
    ) -> bool: ...
    def equivocates(
        self, ds: DeliveryService, group: str, rec: GroupRecord, epoch: int, sender: str, view: CommitView
    ) -> bool: ...
    def tag_step(self, step: Step, view: CommitView) -> Step: ...


class DeliveryWorld(Protocol):
    """What a DS needs from the world around it."""

    env: simpy.Environment
    recorder: Recorder
    network: Network

    @property
    def ordering(self) -> Orderer: ...
    @property
    def fanout(self) -> DSFanout: ...

    pre: PRE | None
    created: dict[str, simpy.Event]

    @property
    def clients(self) -> Mapping[str, Recipient]: ...
    @property
    def providers(self) -> Mapping[str, _Provider]: ...
    @property
    def compromises(self) -> CommitObserver | None: ...
    @property
    def misbehaviour(self) -> DSMisbehaviour | None: ...
    def config_for(self, group: str) -> GroupConfig: ...
    def needs_public_state(self, group: str) -> bool: ...


class AuthenticationService:
    """Issues credentials (validated by members under ``sim/client.AS_LEAF_POLICY``) and
    stores the KeyPackages its clients upload."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.node = f"as:{provider}"
        self.key_packages: dict[str, deque[bytes]] = {}

    def store(self, client: str, kp_ref: bytes) -> None:
        self.key_packages.setdefault(client, deque()).append(kp_ref)

    def take(self, client: str) -> bytes | None:
        q = self.key_packages.get(client)
        return q.popleft() if q else None


class DeliveryService:
    """One provider's DS: orders the groups it owns, relays and stores the rest."""

    def __init__(self, world: DeliveryWorld, provider: str, retention: float) -> None:
        self.world = world
        self.provider = provider
        self.node = f"ds:{provider}"
        self.retention = retention
        self.groups: dict[str, GroupRecord] = {}
        self.mailboxes: dict[str, deque[tuple[float, Callable[[], None], int, str, str]]] = {}
        #: clients with a live connection; the rest get their messages through the mailbox.
        #: A client that comes back online is connected only once its mailbox fetch arrives,
        #: so nothing new overtakes what waited for it.
        self.connected: set[str] = set()
        #: ``hardware.ds``: this DS's queue of jobs, and the outbox of the job being handled
        #: (``sim/ds_processing.py``); None: the DS's work takes no time
        self.queue: DSQueue | None = None
        self.held: Outbox | None = None

    # -- ordering (this DS owns the group) ---------------------------------------------------

    def order_commit(self, group: str, epoch: int, sender: str, commit: CommitView) -> None:
        """A commit reached its orderer: handled now, or in turn as a job (``hardware.ds``)."""
        if self.queue is not None:
            job = partial(self._order_commit, group, epoch, sender, commit)
            self.queue.handle(self, group, "commit", commit.commit_bytes, job)
            return
        self._order_commit(group, epoch, sender, commit)

    def _order_commit(self, group: str, epoch: int, sender: str, commit: CommitView) -> bool:
        """Accept (and fan out) or reject the commit; whether it was fanned out."""
        rec = self.groups[group]
        w = self.world
        mb = w.misbehaviour
        if mb is not None and mb.equivocates(self, group, rec, epoch, sender, commit):
            return True  # accepted as a second commit for an epoch already decided
        if not w.ordering.accepts_commit(rec, epoch):
            w.recorder.event(
                w.env.now,
                "commit_rejected",
                group=group,
                client=sender,
                epoch=epoch,
                wasted_bytes=commit.upload_bytes + CONTROL_BYTES,
                at_orderer=w.clients[sender].provider == self.provider,
            )
            if commit.reply_to is not None:
                commit.reply_to(False)
                return False
            self.to_client(
                sender, CONTROL_BYTES, "commit_reject", group, lambda: w.clients[sender].on_reject(group)
            )
            return False
        rec.epoch += 1
        if w.compromises is not None:
            w.compromises.commit_accepted(group, rec.epoch, sender, commit, welcome_sent=not commit.pre_join)
        if rec.epoch == 1:
            w.created[group].succeed()
        w.recorder.event(
            w.env.now,
            "commit_accepted",
            group=group,
            client=sender,
            epoch=rec.epoch,
            at_orderer=w.clients[sender].provider == self.provider,
        )
        # removed members receive the commit too: it tells them they are out
        forged = commit.reply_to is not None
        receivers = list(rec.members) if forged else [m for m in rec.members if m != sender]
        for name in commit.removed:
            rec.members.pop(name, None)
        fanout = w.fanout
        wire = commit.wire or commit.commit_bytes
        step: Step = partial(fanout.commit_for, group, commit)
        if mb is not None:
            step = mb.tag_step(step, commit)
        fanned = self.fan_out_each(receivers, "commit", group, wire, step)
        if commit.reply_to is not None:
            commit.reply_to(True)
        else:
            self.to_client(
                sender, CONTROL_BYTES, "commit_accept", group, lambda: w.clients[sender].on_accept(group)
            )
        for name in commit.added:
            rec.members[name] = w.clients[name].provider
        if w.needs_public_state(group):
            rec.group_info = commit.group_info
            rec.tree = commit.tree
            rec._tree_bytes = None
        fanout.at_ds(self, group, rec, commit)
        fanned += fanout.to_joiners(self, group, rec, commit)
        w.recorder.event(w.env.now, "commit_fanout", group=group, client=sender, op=commit.kind, bytes=fanned)
        return True

    def order_proposal(self, group: str, epoch: int, sender: str, size: int, msg: MLSMessage) -> None:
        if self.queue is not None:
            self.queue.handle(
                self, group, "proposal", size, partial(self._order_proposal, group, epoch, sender, size, msg)
            )
            return
        self._order_proposal(group, epoch, sender, size, msg)

    def _order_proposal(self, group: str, epoch: int, sender: str, size: int, msg: MLSMessage) -> bool:
        rec = self.groups[group]
        w = self.world
        if not w.ordering.accepts_proposal(rec, epoch):
            w.recorder.event(w.env.now, "proposal_rejected", group=group, client=sender, epoch=epoch)
            self.to_client(
                sender,
                CONTROL_BYTES,
                "proposal_reject",
                group,
                lambda: w.clients[sender].on_proposal_reject(group, epoch),
            )
            return False
        w.recorder.event(w.env.now, "proposal_accepted", group=group, client=sender, epoch=epoch)
        self.fan_out(
            [m for m in rec.members if m != sender],
            "proposal",
            group,
            size,
            size,
            "on_proposal",
            (group, msg),
        )
        return True

    def order_application(self, group: str, sender: str, size: int, msg: MLSMessage) -> None:
        if self.queue is not None:
            self.queue.handle(
                self, group, "application", size, partial(self._order_application, group, sender, size, msg)
            )
            return
        self._order_application(group, sender, size, msg)

    def _order_application(self, group: str, sender: str, size: int, msg: MLSMessage) -> None:
        rec = self.groups[group]
        w = self.world
        receivers = [m for m in rec.members if m != sender]
        w.recorder.event(w.env.now, "app_fanout", group=group, client=sender, receivers=len(receivers))
        step = w.fanout.message_step(self, group, sender, msg, size)  # light members: §7 proofs
        if step is not None:
            self.fan_out_each(receivers, "application", group, size, step)
            return
        self.fan_out(
            receivers,
            "application",
            group,
            size,
            size,
            "on_application",
            (group, msg),
        )

    def serve_group_info(
        self,
        group: str,
        client: str,
        then: Callable[[MLSMessage, RatchetTree], None],
        *,
        prefix: str = "",
    ) -> None:
        """An external joiner's (or a re-syncing member's) request reached this (ordering) DS:
        send GroupInfo and tree (message types ``<prefix>group_info``, ``<prefix>ratchet_tree``)."""
        rec = self.groups[group]
        assert rec.group_info is not None and rec.tree is not None
        gi, tree = rec.group_info, rec.tree
        self.to_client(client, len(encode(gi)), f"{prefix}group_info", group, lambda: None)
        self.to_client(client, rec.tree_bytes(), f"{prefix}ratchet_tree", group, lambda: then(gi, tree))

    # -- relaying ---------------------------------------------------------------------------

    def fan_out(
        self,
        receivers: list[str],
        msg_type: str,
        group: str,
        wire_size: int,
        member_size: int | Callable[[str], int],
        handler: str,
        args: tuple[Any, ...],
    ) -> int:
        """Server fan-out: one copy (``wire_size`` bytes) to each other provider hosting
        receivers, whose DS delivers ``member_size`` bytes (an int, or ``member_size(m)``) to
        each of its receivers ``m``, where ``m.<handler>(*args)`` runs on arrival.
        Returns the bytes this puts on the network."""
        clients = self.world.clients
        members = [clients[m] for m in receivers]
        sizes = (
            [member_size] * len(receivers)
            if isinstance(member_size, int)
            else [member_size(m) for m in receivers]
        )
        # the handler through the class (no bound method made per receiver): m.<handler>(*args)
        calls = [partial(getattr(type(c), handler), c, *args) for c in members]
        return self._fan_out(members, sizes, calls, msg_type, group, wire_size)

    def fan_out_each(
        self,
        receivers: list[str],
        msg_type: str,
        group: str,
        wire_size: int,
        step: Callable[[Recipient], tuple[int, Callable[[], None]]],
    ) -> int:
        """:meth:`fan_out` with a per-recipient step: ``step(m)`` gives the bytes ``m``
        downloads and what runs on arrival, so one message can reach recipients of different
        kinds (the fan-out strategy's hook, ``commit_for``)."""
        clients = self.world.clients
        members = [clients[m] for m in receivers]
        steps = [step(c) for c in members]
        return self._fan_out(
            members, [s for s, _ in steps], [c for _, c in steps], msg_type, group, wire_size
        )

    def _fan_out(
        self,
        members: Sequence[Recipient],
        sizes: Sequence[int],
        calls: Sequence[Callable[[], None]],
        msg_type: str,
        group: str,
        wire_size: int,
    ) -> int:
        """Deliver ``sizes[i]`` bytes to each ``members[i]`` (then ``calls[i]()``): this DS's own
        clients directly, each other provider's through one ``ds_ds`` copy of ``wire_size`` (held
        until its job's work is done when this DS is a queue, ``sim/ds_processing.py``)."""
        if self.held is not None:
            return self.held.fan_out(self, members, sizes, calls, msg_type, group, wire_size)
        w = self.world
        by_home: dict[str, tuple[list[Recipient], list[int], list[Callable[[], None]]]] = {}
        for c, size, call in zip(members, sizes, calls, strict=True):
            batch = by_home.get(c.provider)
            if batch is None:
                batch = by_home[c.provider] = ([], [], [])
            batch[0].append(c)
            batch[1].append(size)
            batch[2].append(call)
        total = sum(sizes)
        for home, (mine, msizes, mcalls) in by_home.items():
            ds = w.providers[home].ds
            if home == self.provider:
                ds.deliver_many(mine, msizes, msg_type, group, mcalls)
            else:
                total += wire_size
                w.network.send(
                    self.node,
                    ds.node,
                    "ds_ds",
                    wire_size,
                    role="fanout",
                    msg_type=msg_type,
                    group=group,
                    on_receive=partial(ds.deliver_many, mine, msizes, msg_type, group, mcalls),
                )
        return total

    def to_client(
        self, client: str, size: int, msg_type: str, group: str, deliver: Callable[[], None]
    ) -> None:
        """From this (ordering) DS to a client, through the client's home DS."""
        if self.held is not None:
            self.held.to_client(self, client, size, msg_type, group, deliver)
            return
        w = self.world
        ds = w.providers[w.clients[client].provider].ds
        then = partial(ds.deliver_local, client, size, msg_type, group, deliver)
        relay(w.network, route(Hop(self.node, ds.node, "ds_ds", "fanout")), size, msg_type, group, then)

    def deliver_local(
        self, client: str, size: int, msg_type: str, group: str, deliver: Callable[[], None]
    ) -> None:
        """To one of this DS's clients: over its link when connected, else into its mailbox
        (unless a misbehaving DS takes it)."""
        mb = self.world.misbehaviour
        if mb is not None and mb.intercept(self, client, size, msg_type, group, deliver):
            return
        self.deliver_now(client, size, msg_type, group, deliver)

    def deliver_now(
        self, client: str, size: int, msg_type: str, group: str, deliver: Callable[[], None]
    ) -> None:
        """:meth:`deliver_local` without asking a misbehaving DS (what it delivers late)."""
        w = self.world
        if client not in self.connected:
            self.mailboxes.setdefault(client, deque()).append((w.env.now, deliver, size, msg_type, group))
            return
        w.network.send(
            self.node,
            w.clients[client].node,
            "client_ds",
            size,
            role="download",
            msg_type=msg_type,
            group=group,
            on_receive=deliver,
        )

    def deliver_many(
        self,
        members: Sequence[Recipient],
        sizes: Sequence[int],
        msg_type: str,
        group: str,
        deliver: Sequence[Callable[[], None]],
    ) -> None:
        """:meth:`deliver_local` to each of ``members`` in order (``sizes[i]`` bytes, then
        ``deliver[i]()`` on arrival), the connected ones in one network batch."""
        mb = self.world.misbehaviour
        if mb is not None:
            kept = [
                i
                for i, c in enumerate(members)
                if not mb.intercept(self, c.name, sizes[i], msg_type, group, deliver[i])
            ]
            members = [members[i] for i in kept]
            sizes = [sizes[i] for i in kept]
            deliver = [deliver[i] for i in kept]
            if not members:
                return
        connected = self.connected
        nodes: list[str]
        if connected.issuperset(map(_name, members)):
            nodes = [c.node for c in members]
        else:
            now = self.world.env.now
            nodes = []
            on_sizes: list[int] = []
            on_deliver: list[Callable[[], None]] = []
            for c, size, then in zip(members, sizes, deliver, strict=True):
                if c.name in connected:
                    nodes.append(c.node)
                    on_sizes.append(size)
                    on_deliver.append(then)
                else:
                    self.mailboxes.setdefault(c.name, deque()).append((now, then, size, msg_type, group))
            if not nodes:
                return
            sizes, deliver = on_sizes, on_deliver
        self.world.network.send_many(
            self.node,
            nodes,
            "client_ds",
            sizes,
            role="download",
            msg_type=msg_type,
            group=group,
            on_receive=deliver,
        )

    def flush_mailbox(self, client: str) -> None:
        """The client came online and fetches its mailbox; expired messages are dropped."""
        w = self.world
        q = self.mailboxes.pop(client, deque())
        c = w.clients[client]
        if c.online:
            self.connected.add(client)
        gaps: set[str] = set()
        for t, deliver, size, msg_type, group in q:
            if w.env.now - t > self.retention:
                w.recorder.event(w.env.now, "mailbox_expired", client=client, group=group, msg_type=msg_type)
                if msg_type != "application":
                    gaps.add(group)  # a handshake message is gone: the client cannot follow
                continue
            w.network.send(
                self.node,
                c.node,
                "client_ds",
                size,
                role="download",
                msg_type=msg_type,
                group=group,
                on_receive=deliver,
            )
        # the end-of-mailbox marker arrives after everything queued (links are FIFO): only then
        # has the client caught up and may send again
        w.network.send(
            self.node,
            c.node,
            "client_ds",
            CONTROL_BYTES,
            role="download",
            msg_type="mailbox_end",
            group="",
            on_receive=partial(c.caught_up, sorted(gaps)),
        )
