"""Providers (one delivery service and one authentication service each) and clients.

Model choices, written down:
- A group's handshake messages are ordered by one DS (``single`` ordering: the DS of the
  group's owning provider). It accepts the first commit for each epoch and rejects the rest
  (the losers' committers discard their staged commit and retry after the retry policy's
  backoff). The DS knows a group's membership (which client at which provider) from the
  commits it orders; with ``mls.handshake = private`` this is an assumption (MIMI hubs know
  their rooms' membership), with ``public`` the DS could read it from the commit.
- Fan-out is by the servers: the ordering DS sends one copy of a message to each other provider
  hosting receivers (over ``ds_ds``), and each provider's DS delivers it to its own clients or,
  when a client is offline, keeps it in the mailbox for ``mailbox_retention`` seconds. What
  each member downloads is the fan-out strategy's choice (``plain``: the whole message).
- Control messages that are not MLS messages (accept/reject of a commit, mailbox and
  KeyPackage requests) are counted with a fixed size of ``CONTROL_BYTES``.
- Clients process a message the instant it arrives (CPU time is not simulated time).
- When joiners need something from the DS (the tree for a Welcome without the
  ``ratchet_tree`` extension, the GroupInfo for an external commit), the committer uploads
  the new epoch's signed GroupInfo with its commit (counted in the upload). The DS keeps the
  public ratchet tree itself: with ``mls.handshake = public`` it can compute it from the
  commits; with ``private`` the committer uploads the encoded tree too (counted).
- Update proposals (``workload.update_mode = propose``) are ordered like commits (current
  epoch only) and committed by the designated committer: the member with the lowest leaf
  index other than the proposer, as soon as it receives the proposal. A proposal that an
  epoch change voids is proposed again under the retry policy.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from ..assist.pre_store import PREJoinDownload, PREJoinSecret, PREStore, PREUpload, committer_upload, pre_join
from ..mls.codec import encode
from ..mls.credentials import DefaultCredentialValidator
from ..mls.crypto import KeyPair
from ..mls.errors import MLSError
from ..mls.group import CommitApplied, Group, GroupConfig, MemberIdentity, ProposalReceived, StagedCommit
from ..mls.group_validation import LeafPolicy
from ..mls.key_packages import KeyPackageBundle, make_key_package
from ..mls.messages import Credential, GroupInfo, Lifetime, MLSMessage, Welcome
from ..mls.rand import RandomSource
from ..mls.ratchet_tree import RatchetTree
from . import forks

if TYPE_CHECKING:
    from .world import World

__all__ = ["CONTROL_BYTES", "AuthenticationService", "DeliveryService", "Client", "GroupRecord"]

#: size counted for a control message (accept/reject, fetch requests): a small fixed header
CONTROL_BYTES = 32
FOREVER = Lifetime(not_before=0, not_after=2**63)


@dataclass
class GroupRecord:
    """What the ordering DS knows about a group."""

    name: str
    owner: str
    epoch: int = 0
    members: dict[str, str] = field(default_factory=dict)  # client name -> provider
    #: the current epoch's signed GroupInfo and public tree, when joiners need them
    group_info: MLSMessage | None = None
    tree: RatchetTree | None = None
    _tree_bytes: int | None = None
    #: under ``fanout: pre``: the group's PRE-encrypted node secrets (ciphertexts only)
    pre_store: PREStore | None = None

    def tree_bytes(self) -> int:
        """Size of the encoded ratchet tree (computed once per epoch, on first download)."""
        if self._tree_bytes is None:
            assert self.tree is not None
            self._tree_bytes = len(self.tree.encode())
        return self._tree_bytes


#: How every member validates leaves, as the federation's authentication services vouch for
#: them (§5.3.1): a basic credential named after the client, checked by the core's
#: DefaultCredentialValidator, whose successor policy is the federation's too: a leaf that
#: replaces a member's leaf (an Update, a commit's path, a resync's external commit) must present
#: the same identity, so no client can take over another's leaf.
AS_LEAF_POLICY = LeafPolicy(credential_validator=DefaultCredentialValidator(check_validity=True))


class AuthenticationService:
    """Issues credentials (validated by members under :data:`AS_LEAF_POLICY`) and stores the
    KeyPackages its clients upload."""

    def __init__(self, world: World, provider: str) -> None:
        self.world = world
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

    def __init__(self, world: World, provider: str, retention: float) -> None:
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

    # -- ordering (this DS owns the group) ---------------------------------------------------

    def order_commit(self, group: str, epoch: int, sender: str, size: int, commit: _CommitInfo) -> None:
        rec = self.groups[group]
        w = self.world
        if not w.ordering.accepts_commit(rec, epoch):
            w.recorder.event(
                w.env.now,
                "commit_rejected",
                group=group,
                client=sender,
                epoch=epoch,
                wasted_bytes=commit.upload_bytes + CONTROL_BYTES,
            )
            self.to_client(
                sender, CONTROL_BYTES, "commit_reject", group, lambda: w.clients[sender].on_reject(group)
            )
            return
        rec.epoch += 1
        staged = commit.staged
        if w.compromises is not None:
            w.compromises.commit_accepted(group, rec.epoch, sender, staged, welcome_sent=not commit.pre_join)
        if rec.epoch == 1:
            w.created[group].succeed()
        w.recorder.event(w.env.now, "commit_accepted", group=group, client=sender, epoch=rec.epoch)
        # removed members receive the commit too: it tells them they are out
        receivers = [m for m in rec.members if m != sender]
        for name in commit.removed:
            rec.members.pop(name, None)
        msg = staged.message
        fanned = self.fan_out(
            receivers,
            "commit",
            group,
            commit.wire or size,
            lambda m: w.fanout.commit_download(staged, size, m),
            Client.on_commit,
            (group, msg),
        )
        self.to_client(
            sender, CONTROL_BYTES, "commit_accept", group, lambda: w.clients[sender].on_accept(group)
        )
        for name in commit.added:
            rec.members[name] = w.clients[name].provider
        if w.needs_public_state(group):
            rec.group_info = staged.group_info
            rec.tree = staged.ratchet_tree
            rec._tree_bytes = None
        if commit.pre_upload is not None:
            assert w.pre is not None
            if rec.pre_store is None:
                rec.pre_store = PREStore(w.pre)
            work = rec.pre_store.apply(commit.pre_upload, staged.ratchet_tree)
            w.recorder.event(
                w.env.now,
                "pre_rekey",
                group=group,
                epoch=rec.epoch,
                reencryptions=work,
                records=len(rec.pre_store.records),
                storage_bytes=rec.pre_store.storage_bytes(),
            )
            if w.compromises is not None:
                w.compromises.pre_store_seen(group)
        if commit.pre_join:
            fanned += self._pre_joins(group, rec, staged, commit)
        elif staged.welcome is not None:
            wsize = len(encode(staged.welcome))
            welcome = staged.welcome
            tree = None if w.config_for(group).ratchet_tree_in_welcome else staged.ratchet_tree
            joiners = list(commit.added)
            mode = "welcome-with-tree" if tree is None else "tree-from-ds"
            for name in joiners:
                w.recorder.event(
                    w.env.now,
                    "join_cost",
                    group=group,
                    client=name,
                    mode=mode,
                    op=commit.kind,
                    download=wsize + (rec.tree_bytes() if tree is not None else 0),
                    upload=0,
                    adder_upload=wsize,
                )
            if tree is not None:
                tsize = rec.tree_bytes()
                fanned += self.fan_out(
                    joiners,
                    "ratchet_tree",
                    group,
                    tsize,
                    tsize,
                    Client.on_tree,
                    (group, tree),
                )
            fanned += self.fan_out(
                joiners,
                "welcome",
                group,
                wsize,
                wsize,
                Client.on_welcome,
                (group, welcome),
            )
        w.recorder.event(w.env.now, "commit_fanout", group=group, client=sender, op=commit.kind, bytes=fanned)

    def _pre_joins(self, group: str, rec: GroupRecord, staged: StagedCommit, commit: _CommitInfo) -> int:
        """Each joiner gets the adder's small secret and downloads GroupInfo, tree and its PRE records."""
        w = self.world
        assert rec.pre_store is not None and rec.group_info is not None and rec.tree is not None
        gi, tree = rec.group_info, rec.tree
        gi_size, tree_size = len(encode(gi)), rec.tree_bytes()
        by_leaf = {leaf.credential.identity.decode(): i for i, leaf in tree.leaves()}
        sent = 0
        for name, secret in zip(commit.added, commit.pre_join, strict=True):
            download = rec.pre_store.download_for(tree, by_leaf[name], staged.committer)
            parts = (
                ("group_info", gi_size),
                ("ratchet_tree", tree_size),
                ("pre_records", len(download.encoded())),
                ("pre_join_secret", len(secret.encoded())),
            )
            for i, (msg_type, size) in enumerate(parts):
                last = i == len(parts) - 1
                then = (
                    partial(w.clients[name].on_pre_join, group, secret, download, gi, tree)
                    if last
                    else (lambda: None)
                )
                self.to_client(name, size, msg_type, group, then)
            total = sum(size for _, size in parts)
            w.recorder.event(
                w.env.now,
                "join_cost",
                group=group,
                client=name,
                mode="pre",
                op=commit.kind,
                download=total,
                upload=0,
                adder_upload=len(secret.encoded()),
            )
            sent += total
        return sent

    def order_proposal(self, group: str, epoch: int, sender: str, size: int, msg: MLSMessage) -> None:
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
            return
        w.recorder.event(w.env.now, "proposal_accepted", group=group, client=sender, epoch=epoch)
        self.fan_out(
            [m for m in rec.members if m != sender],
            "proposal",
            group,
            size,
            size,
            Client.on_proposal,
            (group, msg),
        )

    def order_application(self, group: str, sender: str, size: int, msg: MLSMessage) -> None:
        rec = self.groups[group]
        w = self.world
        receivers = [m for m in rec.members if m != sender]
        w.recorder.event(w.env.now, "app_fanout", group=group, client=sender, receivers=len(receivers))
        self.fan_out(
            receivers,
            "application",
            group,
            size,
            size,
            Client.on_application,
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
        handler: Callable[..., None],
        args: tuple[Any, ...],
    ) -> int:
        """Server fan-out: one copy (``wire_size`` bytes) to each other provider hosting
        receivers, whose DS delivers ``member_size`` bytes (an int, or ``member_size(m)``) to
        each of its receivers ``m``, where ``handler(client m, *args)`` runs on arrival.
        Returns the bytes this puts on the network."""
        w = self.world
        clients = w.clients
        sizes = (
            [member_size] * len(receivers)
            if isinstance(member_size, int)
            else [member_size(m) for m in receivers]
        )
        by_home: dict[str, tuple[list[Client], list[int], list[Callable[[], None]]]] = {}
        for m, size in zip(receivers, sizes, strict=True):
            c = clients[m]
            batch = by_home.get(c.provider)
            if batch is None:
                batch = by_home[c.provider] = ([], [], [])
            batch[0].append(c)
            batch[1].append(size)
            batch[2].append(partial(handler, c, *args))
        total = sum(sizes)
        for home, (members, msizes, calls) in by_home.items():
            ds = w.providers[home].ds
            if home == self.provider:
                ds.deliver_many(members, msizes, msg_type, group, calls)
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
                    on_receive=partial(ds.deliver_many, members, msizes, msg_type, group, calls),
                )
        return total

    def to_client(
        self, client: str, size: int, msg_type: str, group: str, deliver: Callable[[], None]
    ) -> None:
        """From this (ordering) DS to a client, through the client's home DS."""
        w = self.world
        home = w.clients[client].provider
        if home == self.provider:
            self.deliver_local(client, size, msg_type, group, deliver)
        else:
            ds = w.providers[home].ds
            w.network.send(
                self.node,
                ds.node,
                "ds_ds",
                size,
                role="fanout",
                msg_type=msg_type,
                group=group,
                on_receive=partial(ds.deliver_local, client, size, msg_type, group, deliver),
            )

    def deliver_local(
        self, client: str, size: int, msg_type: str, group: str, deliver: Callable[[], None]
    ) -> None:
        """To one of this DS's clients: over its link when connected, else into its mailbox."""
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
        members: Sequence[Client],
        sizes: Sequence[int],
        msg_type: str,
        group: str,
        deliver: Sequence[Callable[[], None]],
    ) -> None:
        """:meth:`deliver_local` to each of ``members`` in order (``sizes[i]`` bytes, then
        ``deliver[i]()`` on arrival), the connected ones in one network batch."""
        connected = self.connected
        nodes: list[str]
        if all(c.name in connected for c in members):
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


@dataclass
class _Pending:
    """A commit this client staged and sent, waiting for the DS's verdict."""

    staged: StagedCommit
    kind: str
    first_attempt: float
    attempts: int
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    retry: Callable[[_Pending], None] | None = None
    #: bytes this attempt put on the network (all copies, forwards and downloads it caused)
    cost: int = 0


class Client:
    """One device: an MLS client in any number of groups, online or offline."""

    def __init__(self, world: World, name: str, provider: str) -> None:
        self.world = world
        self.name = name
        self.provider = provider
        self.node = f"c:{name}"
        self.online = True
        #: caught up with the mailbox since coming online (see ``DeliveryService.flush_mailbox``)
        self.synced = True
        #: application messages sent per group since this client's last own update
        self.sent_since_update: dict[str, int] = {}
        self.rand: RandomSource = world.streams.mls(f"client/{name}")
        if world.compromises is not None:
            self.rand = world.compromises.device_random(name, self.rand)
        suite = world.suite
        sig = suite.signature_key_pair(self.rand)
        cred = Credential.basic(name.encode())
        self._sig = sig
        self._cred = cred
        self.bundles: dict[bytes, KeyPackageBundle] = {}
        first = self.new_key_package()
        self.identity = MemberIdentity(
            credential=cred,
            signature_priv=sig.priv,
            signature_key=sig.pub,
            capabilities=first.key_package.leaf_node.capabilities,
        )
        self.groups: dict[str, Group] = {}
        self.pending: dict[str, _Pending] = {}
        #: epoch of this client's outstanding Update proposal, per group
        self.proposed: dict[str, int] = {}
        #: trees downloaded ahead of a Welcome that omits them
        self.trees: dict[str, RatchetTree] = {}
        #: groups where this client is the designated committer of proposals it could not
        #: commit yet (offline, catching up or waiting for its own commit's verdict)
        self.owed_commits: set[str] = set()
        #: leaderless designs: applied commits, checkpoints and buffered commits per group
        self.forks: dict[str, forks.ForkState] = {}
        #: groups this client is re-syncing: start time and bytes spent so far
        self.resyncing: dict[str, dict[str, float]] = {}
        #: held offline by the scenario's script (churn does not bring it back)
        self.held = False
        #: the epoch at which this client joined each group
        self.joined_epoch: dict[str, int] = {}

    def new_key_package(self) -> KeyPackageBundle:
        """A fresh KeyPackage, kept privately and uploaded (by reference) to the home AS."""
        b = make_key_package(
            self.world.suite,
            credential=self._cred,
            signature_key_pair=KeyPair(self._sig.priv, self._sig.pub),
            rand=self.rand,
            lifetime=FOREVER,
        )
        ref = self.world.suite.key_package_ref(encode(b.key_package))
        self.bundles[ref] = b
        self.world.providers[self.provider].as_.store(self.name, ref)
        return b

    @property
    def config(self) -> GroupConfig:
        return self.world.group_config

    # -- sending ---------------------------------------------------------------------------

    def upload(self, group: str, size: int, msg_type: str, then: Callable[[], None]) -> None:
        """Client → home DS → (ordering DS): ``then`` runs at the ordering DS."""
        w = self.world
        owner = w.ds_groups[group]
        home = w.providers[self.provider].ds

        def at_home() -> None:
            if owner == self.provider:
                then()
            else:
                w.network.send(
                    home.node,
                    f"ds:{owner}",
                    "ds_ds",
                    size,
                    role="forward",
                    msg_type=msg_type,
                    group=group,
                    on_receive=then,
                )

        w.network.send(
            self.node,
            home.node,
            "client_ds",
            size,
            role="upload",
            msg_type=msg_type,
            group=group,
            on_receive=at_home,
        )

    def send_application(self, group: str, size: int) -> None:
        g = self.groups[group]
        data = bytes(size)
        msg = g.encrypt_application(data, self.rand)
        n = len(encode(msg))
        w = self.world
        w.recorder.event(w.env.now, "app_sent", group=group, client=self.name, epoch=g.epoch)
        k = w.group_specs[group].workload.update_after_messages
        if k is not None:
            sent = self.sent_since_update.get(group, 0) + 1
            self.sent_since_update[group] = sent
            if sent >= k:
                w.update_after_messages(self, group)
        auth = g.epoch_authenticator
        if w.leaderless:
            receivers = w.view_members(self, group)
            w.recorder.event(w.env.now, "app_fanout", group=group, client=self.name, receivers=len(receivers))
            w.broadcast(
                self,
                group,
                "application",
                "application",
                n,
                n,
                receivers,
                Client.on_application,
                (group, msg, auth),
            )
            return
        self.upload(
            group, n, "application", lambda: w.ds_of(group).order_application(group, self.name, n, msg)
        )

    def send_commit(
        self,
        group: str,
        kind: str,
        staged: StagedCommit,
        *,
        added: tuple[str, ...] = (),
        removed: tuple[str, ...] = (),
        retry: Callable[[_Pending], None] | None = None,
        first_attempt: float | None = None,
        attempts: int = 1,
        pre_join: tuple[PREJoinSecret, ...] = (),
    ) -> None:
        w = self.world
        g = self.groups[group]
        self.pending[group] = _Pending(
            staged=staged,
            kind=kind,
            first_attempt=w.env.now if first_attempt is None else first_attempt,
            attempts=attempts,
            added=added,
            removed=removed,
            retry=retry,
        )
        size = len(encode(staged.message))
        up = w.fanout.commit_upload(staged, size)  # what the committer sends (split: a SplitCommit)
        size_w = len(encode(staged.welcome)) if staged.welcome is not None else 0
        if pre_join:  # the joiners get small secrets instead of the Welcome
            size_w = sum(len(s.encoded()) for s in pre_join)
        extra = 0
        if w.needs_public_state(group) and not w.leaderless:
            extra += len(encode(staged.group_info))
            if w.scenario.mls.handshake == "private":
                extra += len(staged.ratchet_tree.encode())
        pre_upload = None
        if w.pre is not None and not w.leaderless:
            pre_upload = committer_upload(w.suite, w.pre, g, staged, self.rand)
            extra += len(pre_upload.encoded())
        w.recorder.event(
            w.env.now,
            "commit_sent",
            group=group,
            client=self.name,
            epoch=g.epoch,
            op=kind,
            bytes=size,
            upload_bytes=up,
            welcome_bytes=size_w,
            public_state_bytes=extra,
            pre_upload_bytes=len(pre_upload.encoded()) if pre_upload is not None else 0,
        )
        if w.leaderless:
            self._commit_leaderless(group, staged, size, up)
            return
        epoch = g.epoch
        total = up + size_w + extra
        forwarded = w.ds_groups[group] != self.provider
        info = _CommitInfo(
            staged,
            added,
            removed,
            total * (2 if forwarded else 1),
            kind,
            up,
            pre_upload=pre_upload,
            pre_join=pre_join,
        )
        self.upload(
            group,
            total,
            f"commit:{kind}",
            lambda: w.ds_of(group).order_commit(group, epoch, self.name, size, info),
        )

    def _commit_leaderless(self, group: str, staged: StagedCommit, size: int, up: int) -> None:
        """No orderer: merge at once, keep a checkpoint, send to the members of the old epoch."""
        w = self.world
        g = self.groups[group]
        p = self.pending.pop(group)
        recipients = w.view_members(self, group)  # includes the members this commit removes
        before = g.copy()
        g.merge(staged)
        forks.record_own_commit(self, group, before, staged.message, p)
        if p.kind == "create":
            w.created[group].succeed()
        directory = w.ds_of(group).groups[group].members
        for name in p.removed:
            directory.pop(name, None)
        for name in p.added:
            directory[name] = w.clients[name].provider
        self._merged(
            group,
            g,
            p,
            parent=before.epoch_authenticator.hex(),
            digest=forks.commit_digest(staged.message).hex(),
        )
        w.epoch_reached(group, self.name, g)
        self._epoch_changed(group, g, committed_mine=False)
        msg = staged.message
        p.cost += w.broadcast(
            self,
            group,
            f"commit:{p.kind}",
            "commit",
            up,
            lambda m: w.fanout.commit_download(staged, size, m),
            recipients,
            Client.on_commit,
            (group, msg),
        )
        if staged.welcome is not None:
            joiners = list(p.added)
            welcome = staged.welcome
            if not w.config_for(group).ratchet_tree_in_welcome:
                tree = staged.ratchet_tree
                tsize = len(tree.encode())
                p.cost += w.broadcast(
                    self,
                    group,
                    "ratchet_tree",
                    "ratchet_tree",
                    tsize,
                    tsize,
                    joiners,
                    Client.on_tree,
                    (group, tree),
                )
            wsize = len(encode(welcome))
            p.cost += w.broadcast(
                self,
                group,
                "welcome",
                "welcome",
                wsize,
                wsize,
                joiners,
                Client.on_welcome,
                (group, welcome),
            )

    def send_update_proposal(self, group: str) -> None:
        g = self.groups[group]
        w = self.world
        msg = g.propose_update(self.rand)
        n = len(encode(msg))
        epoch = g.epoch
        self.proposed[group] = epoch
        w.recorder.event(w.env.now, "proposal_sent", group=group, client=self.name, epoch=epoch, bytes=n)
        if w.leaderless:
            w.broadcast(
                self,
                group,
                "proposal:update",
                "proposal",
                n,
                n,
                w.view_members(self, group),
                Client.on_proposal,
                (group, msg),
            )
            return
        ds = w.ds_of(group)
        self.upload(group, n, "proposal:update", lambda: ds.order_proposal(group, epoch, self.name, n, msg))

    # -- receiving -------------------------------------------------------------------------

    def on_accept(self, group: str) -> None:
        w = self.world
        p = self.pending.pop(group, None)
        g = self.groups.get(group)
        if p is None or g is None:
            return
        g.merge(p.staged)
        if p.kind == "external-join":
            self.joined_epoch[group] = g.epoch
            w.recorder.event(w.env.now, "joined", group=group, client=self.name, epoch=g.epoch)
        if p.kind == "resync":
            self.joined_epoch[group] = g.epoch
            w.resync_done(self, group)
        self._merged(group, g, p)
        w.epoch_reached(group, self.name, g)
        self._epoch_changed(group, g, committed_mine=False)
        if self.ready:
            w.pay_owed_commits(self)

    def _merged(self, group: str, g: Group, p: _Pending, **extra: str) -> None:
        """Record that this committer merged its own commit ``p`` (``g`` is the new state)."""
        w = self.world
        w.recorder.event(
            w.env.now,
            "commit_merged",
            group=group,
            client=self.name,
            epoch=g.epoch,
            op=p.kind,
            latency=round(w.env.now - p.first_attempt, 6),
            attempts=p.attempts,
            **extra,
            auth=g.epoch_authenticator.hex(),
        )

    def on_reject(self, group: str) -> None:
        w = self.world
        p = self.pending.pop(group, None)
        g = self.groups.get(group)
        if p is None or g is None:
            return
        if p.kind in ("external-join", "resync"):
            del self.groups[group]  # the pre-join handle is useless: a new GroupInfo is needed
        else:
            g.discard(p.staged)
        w.schedule_retry(self, group, p)

    def on_commit(self, group: str, msg: MLSMessage) -> None:
        w = self.world
        if w.leaderless:
            forks.receive_commit(self, group, msg)
            return
        g = self.groups.get(group)
        if g is None or not g.active or group in self.resyncing:
            return
        try:
            res = g.process(msg, now=None)
        except MLSError as exc:
            w.recorder.event(
                w.env.now, "process_error", group=group, client=self.name, error=type(exc).__name__
            )
            w.start_resync(self, group, type(exc).__name__)
            return
        assert isinstance(res, CommitApplied)
        self.commit_applied(group, g, res)

    def commit_applied(self, group: str, g: Group, res: CommitApplied) -> None:
        """Bookkeeping after this client's state ``g`` of ``group`` applied a commit."""
        w = self.world
        if res.removed_me:
            self.groups.pop(group, None)
            self.pending.pop(group, None)
            self.proposed.pop(group, None)
            w.recorder.event(w.env.now, "removed", group=group, client=self.name)
            return
        w.epoch_reached(group, self.name, g)
        self._epoch_changed(group, g, committed_mine=g.leaf_index in res.updated)

    def commit_dropped(self, group: str, p: _Pending, digest: bytes) -> None:
        """A fork switch dropped this client's own commit: redo its operation."""
        w = self.world
        w.recorder.event(
            w.env.now,
            "commit_dropped",
            group=group,
            client=self.name,
            op=p.kind,
            wasted_bytes=p.cost,
            digest=digest.hex(),
        )
        w.schedule_retry(self, group, p)

    def _epoch_changed(self, group: str, g: Group, *, committed_mine: bool) -> None:
        """An outstanding Update proposal was committed, or the epoch change voided it."""
        if group not in self.proposed:
            return
        del self.proposed[group]
        w = self.world
        if committed_mine:
            w.recorder.event(w.env.now, "proposal_committed", group=group, client=self.name)
            w.proposal_done(self, group)
        else:
            w.recorder.event(w.env.now, "proposal_voided", group=group, client=self.name)
            w.repropose(self, group)

    def on_proposal(self, group: str, msg: MLSMessage) -> None:
        w = self.world
        g = self.groups.get(group)
        if g is None or not g.active:
            return
        try:
            res = g.process(msg)
        except MLSError as exc:
            w.recorder.event(
                w.env.now, "process_error", group=group, client=self.name, error=type(exc).__name__
            )
            return
        assert isinstance(res, ProposalReceived)
        w.proposal_received(self, group, g, res)

    def on_proposal_reject(self, group: str, epoch: int) -> None:
        """The epoch moved on at the DS; the commit that moved it is on its way to this client,
        and ``_epoch_changed`` proposes again when it arrives."""

    def on_tree(self, group: str, tree: RatchetTree) -> None:
        self.trees[group] = tree

    def on_application(self, group: str, msg: MLSMessage, sent_on: bytes = b"") -> None:
        """``sent_on`` is the sender's epoch authenticator (simulator metadata, not sent): it
        tells a message from another fork branch apart from a failure."""
        g = self.groups.get(group)
        w = self.world
        if g is None:
            w.recorder.event(w.env.now, "app_not_member", group=group, client=self.name)
            return
        try:
            g.process(msg)
        except MLSError as exc:
            epoch = forks.message_epoch(msg)
            if epoch < self.joined_epoch.get(group, 0):
                # sent before this client joined: it never had the keys (not a failure)
                w.recorder.event(w.env.now, "app_predates_join", group=group, client=self.name)
                return
            reason = type(exc).__name__
            if sent_on and self._authenticator_at(group, g, epoch) not in (None, sent_on):
                reason = "other_fork_branch"
            elif group in self.resyncing:
                reason = "member_out_of_sync"  # it missed commits and is re-syncing
            elif epoch > g.epoch:
                reason = "future_epoch"  # the receiver has not reached the sender's epoch
            elif epoch < g.epoch - self.config.keep_past_epochs:
                reason = "epoch_keys_deleted"  # older than the past epochs a member keeps
            w.recorder.event(w.env.now, "app_undecryptable", group=group, client=self.name, reason=reason)
            return
        w.recorder.counts[("app_received", group)] += 1

    def _authenticator_at(self, group: str, g: Group, epoch: int) -> bytes | None:
        if g.epoch == epoch:
            return g.epoch_authenticator
        st = self.forks.get(group)
        held = next((a.before for a in st.applied if a.epoch == epoch), None) if st else None
        return held.epoch_authenticator if held is not None else None

    def on_welcome(self, group: str, msg: MLSMessage) -> None:
        w = self.world
        welcome = msg.body
        assert isinstance(welcome, Welcome)
        suite = w.suite
        refs = {e.new_member for e in welcome.secrets}
        ref = next((r for r in refs if r in self.bundles), None)
        if ref is None:
            return
        b = self.bundles.pop(ref)
        try:
            g = Group.join(
                suite,
                welcome,
                key_package=b.key_package,
                init_priv=b.init_priv,
                encryption_priv=b.encryption_priv,
                identity=self.identity,
                ratchet_tree=self.trees.pop(group, None),
                config=w.config_for(group),
                # §12.4.3.1; a rejoin of the same group replaces the state this client lost
                current_group_ids={
                    h.group_id for name, h in self.groups.items() if name != group and h.active
                },
            )
        except MLSError as exc:
            w.recorder.event(
                w.env.now, "join_failed", group=group, client=self.name, error=type(exc).__name__
            )
            return
        self._joined(group, g)

    def _joined(self, group: str, g: Group) -> None:
        w = self.world
        if group in self.groups:
            w.recorder.event(w.env.now, "rejoined", group=group, client=self.name)
        w.resync_done(self, group)
        self.groups[group] = g
        self.joined_epoch[group] = g.epoch
        w.recorder.event(w.env.now, "joined", group=group, client=self.name, epoch=g.epoch)
        w.epoch_reached(group, self.name, g)
        if w.compromises is not None:
            w.compromises.joined(self, group, g)
        w.device_joined(self, group)
        if w.leaderless:
            forks.joined(self, group)

    def on_pre_join(
        self,
        group: str,
        secret: PREJoinSecret,
        download: PREJoinDownload,
        gi: MLSMessage,
        tree: RatchetTree,
    ) -> None:
        """Join from the adder's small secret plus the DS's GroupInfo, tree and PRE records."""
        w = self.world
        b = self.bundles.pop(secret.new_member, None)
        if b is None:
            return
        assert w.pre is not None and isinstance(gi.body, GroupInfo)
        try:
            g = pre_join(
                w.suite,
                w.pre,
                secret,
                download,
                group_info=gi.body,
                ratchet_tree=tree,
                key_package=b.key_package,
                init_priv=b.init_priv,
                encryption_priv=b.encryption_priv,
                identity=self.identity,
                config=w.config_for(group),
            )
        except MLSError as exc:
            w.recorder.event(
                w.env.now, "join_failed", group=group, client=self.name, error=type(exc).__name__
            )
            return
        self._joined(group, g)

    # -- churn -------------------------------------------------------------------------------

    def go_offline(self) -> None:
        """The connection drops; the home DS notices at once (messages already in flight still
        arrive: they count as received just before the drop)."""
        if not self.online:
            return
        self.online = False
        self.synced = False
        self.world.providers[self.provider].ds.connected.discard(self.name)
        self.world.recorder.event(self.world.env.now, "offline", client=self.name)

    @property
    def ready(self) -> bool:
        """Online and caught up with the mailbox: the client may send."""
        return self.online and self.synced

    def free_in(self, group: str) -> bool:
        """May act in ``group`` now: ready, an active member, no commit of its own in flight and
        not re-syncing."""
        g = self.groups.get(group)
        return (
            self.ready
            and g is not None
            and g.active
            and group not in self.pending
            and group not in self.resyncing
        )

    def caught_up(self, gaps: list[str] | None = None) -> None:
        """The end-of-mailbox marker arrived; ``gaps`` are groups whose handshake messages expired."""
        if self.online:
            self.synced = True
            self.world.recorder.event(self.world.env.now, "caught_up", client=self.name)
            self.world.pay_owed_commits(self)
        for group in gaps or ():
            if group in self.groups:
                self.world.start_resync(self, group, "mailbox_expired")

    def go_online(self) -> None:
        w = self.world
        self.online = True
        w.recorder.event(w.env.now, "online", client=self.name)
        home = w.providers[self.provider].ds
        w.network.send(
            self.node,
            home.node,
            "client_ds",
            CONTROL_BYTES,
            role="upload",
            msg_type="mailbox_fetch",
            group="",
            on_receive=lambda: home.flush_mailbox(self.name),
        )


@dataclass(frozen=True)
class _CommitInfo:
    """What the ordering DS learns with a commit (see the module docstring)."""

    staged: StagedCommit
    added: tuple[str, ...]
    removed: tuple[str, ...]
    #: bytes the committer uploaded and its home DS forwarded to the orderer (wasted if rejected)
    upload_bytes: int = 0
    kind: str = ""
    #: size of the commit as DSs forward it between providers (split: the SplitCommit)
    wire: int = 0
    #: under ``fanout: pre``: the committer's PRE upload, and the small secrets for its joiners
    pre_upload: PREUpload | None = None
    pre_join: tuple[PREJoinSecret, ...] = ()
