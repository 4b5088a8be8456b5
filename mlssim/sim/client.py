"""The client adapter: one device, the only code in ``sim/`` that drives ``mls.Group``.

A client creates, commits, merges or discards, processes, joins (by Welcome, external commit
or the PRE join) and encrypts through the MLS core, and shows the DS only a
:class:`~mlssim.sim.delivery.CommitView` of its commits. What it decides (when to commit,
retry or re-sync) is the world's policies'; the client tells them what happened through the
methods of :class:`ClientWorld`.

Under ``split`` a client frames its commits per the split-commit draft and processes the
IndividualCommit its DS sends it. Clients process a message the instant it arrives (CPU time
is not simulated time). Update proposals (``workload.update_mode = propose``) are ordered like
commits (current epoch only) and committed by the designated committer (``sim/policies``); a
proposal that an epoch change voids is proposed again under the retry policy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Protocol

import simpy

from ..assist.pre import PRE
from ..assist.pre_store import (
    PREJoinDownload,
    PREJoinSecret,
    PREUpload,
    committer_upload,
    pre_join,
    seal_join_secret,
)
from ..mls.codec import encode
from ..mls.commit_builder import CommitFraming
from ..mls.credentials import DefaultCredentialValidator
from ..mls.errors import MLSError
from ..mls.group import CommitApplied, Group, GroupConfig, ProcessResult, ProposalReceived, StagedCommit
from ..mls.group_state import MemberIdentity, rotated_identity
from ..mls.group_validation import LeafPolicy
from ..mls.light_group import LightGroup
from ..mls.messages import GroupInfo, KeyPackage, MLSMessage, Welcome
from ..mls.messages.welcome import first_new_member
from ..mls.rand import RandomSource
from ..mls.ratchet_tree import RatchetTree
from ..mls.split_commit import PathSecretOpener
from ..scenario.schema import GroupSpec, Scenario
from . import forks, receiving
from .delivery import CommitView, DeliveryService
from .device import Device, DeviceObserver, DeviceWorld
from .free import WatchedDict
from .processing import Processing
from .records import CONTROL_BYTES, PendingCommit

__all__ = ["AS_LEAF_POLICY", "CONTROL_BYTES", "Client", "ClientWorld"]

#: How every member validates leaves, as the federation's authentication services vouch for
#: them (§5.3.1): a basic credential named after the client, checked by the core's
#: DefaultCredentialValidator, whose successor policy is the federation's too: a leaf that
#: replaces a member's leaf (an Update, a commit's path, a resync's external commit) must present
#: the same identity, so no client can take over another's leaf.
AS_LEAF_POLICY = LeafPolicy(credential_validator=DefaultCredentialValidator(check_validity=True))


class ClientObserver(DeviceObserver, Protocol):
    """The compromise bookkeeping, as a client meets it (``sim/compromise.py``)."""

    def device_random(self, name: str, base: RandomSource) -> RandomSource: ...
    def joined(self, c: Client, group: str, g: Group) -> None: ...


class Checks(receiving.MemberChecks, Protocol):
    """The authenticator check, as a sender meets it (``sim/misbehaviour.py``)."""

    def check_data(self, client: str, group: str, g: Group) -> bytes: ...


class ClientFanout(Protocol):
    """The fan-out strategy, as a committer meets it (``sim/fanouts/``)."""

    def framing_for(self, c: Client, group: str) -> CommitFraming | None: ...
    def opener_for(self, c: Client, group: str) -> PathSecretOpener | None: ...
    def commit_sizes(
        self, staged: StagedCommit, commit_bytes: int, removed: tuple[str, ...]
    ) -> tuple[int, Mapping[str, int] | None]: ...
    def committer_upload(self, c: Client, group: str, staged: StagedCommit) -> PREUpload | None: ...


class ClientOrdering(Protocol):
    """The ordering design, as a client meets it (``sim/orderings/``): where its messages go and
    what happens to its commits."""

    def send_application(self, c: Client, group: str, msg: MLSMessage, n: int, auth: bytes) -> None: ...
    def send_proposal(self, c: Client, group: str, msg: MLSMessage, n: int, epoch: int) -> None: ...
    def committer_uploads(
        self, c: Client, group: str, staged: StagedCommit
    ) -> tuple[int, PREUpload | None]: ...
    def submit_commit(self, c: Client, group: str, epoch: int, total: int, view: CommitView) -> None: ...
    def receive_commit(self, c: Client, group: str, msg: MLSMessage) -> None: ...
    def joined(self, c: Client, group: str) -> None: ...


class ClientWorld(DeviceWorld, Protocol):
    """What a client needs from the world besides a device's: the group's setting, the
    strategies, and the policies it reports to."""

    scenario: Scenario
    group_config: GroupConfig
    pre: PRE | None
    created: dict[str, simpy.Event]
    group_specs: dict[str, GroupSpec]
    #: how work takes time (sim/processing.py): Instant, or a queue per client
    processing: Processing

    @property
    def ordering(self) -> ClientOrdering: ...
    @property
    def fanout(self) -> ClientFanout: ...
    @property
    def clients(self) -> Mapping[str, Client]: ...
    @property
    def compromises(self) -> ClientObserver | None: ...
    @property
    def misbehaviour(self) -> Checks | None: ...
    @property
    def forgeries(self) -> receiving.Forgeries | None: ...
    def ds_of(self, group: str) -> DeliveryService: ...
    def config_for(self, group: str) -> GroupConfig: ...
    def needs_public_state(self, group: str) -> bool: ...
    # what the client reports to the policies
    def epoch_reached(self, group: str, client: str, g: Group | LightGroup) -> None: ...
    def schedule_retry(self, c: Client, group: str, p: PendingCommit) -> None: ...
    def start_resync(self, c: Client, group: str, reason: str) -> None: ...
    def resync_done(self, c: Client, group: str) -> None: ...
    def pay_owed_commits(self, c: Client) -> None: ...
    def proposal_received(self, c: Client, group: str, g: Group, res: ProposalReceived) -> None: ...
    def proposal_done(self, c: Client, group: str) -> None: ...
    def repropose(self, c: Client, group: str) -> None: ...
    def update_after_messages(self, c: Client, group: str) -> None: ...
    def device_joined(self, c: Client, group: str) -> None: ...


class Client(Device):
    """One device as an MLS client in any number of groups."""

    world: ClientWorld

    def __init__(self, world: ClientWorld, name: str, provider: str) -> None:
        super().__init__(world, name, provider)
        #: application messages sent per group since this client's last own update
        self.sent_since_update: dict[str, int] = {}
        self.groups: dict[str, Group] = WatchedDict(self._changes)  # watched: sim/free.py
        #: groups where this client is a light member (``sim/light_members.py``), not in ``groups``
        self.light: dict[str, LightGroup] = WatchedDict(self._changes)
        self.pending: dict[str, PendingCommit] = WatchedDict(self._changes)
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
        self.resyncing: dict[str, dict[str, float]] = WatchedDict(self._changes)
        #: the epoch at which this client joined each group
        self.joined_epoch: dict[str, int] = {}
        #: groups where a commit of this client is being created (queued under processing time)
        self.creating: set[str] = set()

    @property
    def config(self) -> GroupConfig:
        return self.world.group_config

    # -- driving the MLS core: the only calls of mls.Group's operations in sim/ ----------------

    def create_group(self, group: str, config: GroupConfig) -> Group:
        """Create ``group`` as its only member, with the keys of this client's first KeyPackage."""
        b = next(iter(self.bundles.values()))
        g = Group.create(
            self.world.suite,
            group_id=group.encode(),
            identity=self.identity,
            rand=self.rand,
            config=config,
            encryption_priv=b.encryption_priv,
            leaf_node=b.key_package.leaf_node,
        )
        self.groups[group] = g
        return g

    def stage_commit(
        self, group: str, *, adds: Sequence[KeyPackage] = (), removes: Sequence[int] = (),
        path: bool | None = None, rotate: bool = False,
    ) -> StagedCommit:  # fmt: skip
        """A commit of ``adds`` and ``removes`` (plus the proposals pending, by reference),
        staged: merged or discarded when the verdict comes (``path=None``: the RFC's default);
        ``rotate``: an update, whose path leaf takes a new signature key under on-update."""
        g = self.groups[group]
        return g.commit(
            self.rand,
            adds=adds,
            removes=removes,
            path=path,
            framing=self.world.fanout.framing_for(self, group),
            new_identity=self.new_identity(g) if rotate else None,
        )

    def new_identity(self, g: Group) -> MemberIdentity | None:
        """Under ``adversary.signature_rotation: on-update``, a new signature key for an update."""
        if self.world.scenario.adversary.signature_rotation != "on-update":
            return None
        return rotated_identity(self.world.suite, g.identity, self.rand)

    def join_external(
        self, group: str, gi: GroupInfo, tree: RatchetTree, *, resync_remove: int | None, config: GroupConfig
    ) -> StagedCommit:
        """Join ``group`` by external commit (§12.4.3.2), removing ``resync_remove`` (this
        client's old leaf, when it re-syncs) in the same commit. A re-sync keeps the signature
        key this client has in the group (a rotated one, not the device's first)."""
        old = self.groups.get(group)
        g, staged = Group.external_join(
            self.world.suite,
            gi,
            identity=self.identity if old is None else old.identity,
            rand=self.rand,
            ratchet_tree=tree,
            resync_remove=resync_remove,
            config=config,
        )
        self.groups[group] = g
        return staged

    def seal_pre_join(self, staged: StagedCommit, kp: KeyPackage) -> PREJoinSecret:
        """Under the PRE join: the small secret a joiner gets instead of the Welcome."""
        pre = self.world.pre
        assert pre is not None
        return seal_join_secret(self.world.suite, pre, staged, kp, self.rand)

    # -- sending ---------------------------------------------------------------------------

    def state_in(self, group: str) -> Group | LightGroup | None:
        """This client's state of ``group``, as a full or a light member."""
        g = self.groups.get(group)
        return g if g is not None else self.light.get(group)

    def send_application(self, group: str, size: int) -> None:
        g = self.groups[group]
        w = self.world
        aad = w.misbehaviour.check_data(self.name, group, g) if w.misbehaviour is not None else b""
        msg = g.encrypt_application(bytes(size), self.rand, aad)  # aad: the check (§8.7)
        n = len(encode(msg))
        w.recorder.event(
            w.env.now,
            "app_sent",
            group=group,
            client=self.name,
            epoch=g.epoch,
            auth=g.epoch_authenticator.hex(),
        )
        k = w.group_specs[group].workload.update_after_messages
        if k is not None:
            sent = self.sent_since_update.get(group, 0) + 1
            self.sent_since_update[group] = sent
            if sent >= k:
                w.update_after_messages(self, group)
        w.ordering.send_application(self, group, msg, n, g.epoch_authenticator)

    def send_commit(
        self,
        group: str,
        kind: str,
        staged: StagedCommit,
        *,
        added: tuple[str, ...] = (),
        removed: tuple[str, ...] = (),
        retry: Callable[[PendingCommit], None] | None = None,
        prev: PendingCommit | None = None,
        pre_join: tuple[PREJoinSecret, ...] = (),
    ) -> None:
        w = self.world
        g = self.groups[group]
        first_attempt, attempts = PendingCommit.next_attempt(prev, w.env.now)
        self.pending[group] = PendingCommit(
            staged=staged,
            kind=kind,
            first_attempt=first_attempt,
            attempts=attempts,
            added=added,
            removed=removed,
            retry=retry,
        )
        size = len(encode(staged.message))
        # what the committer sends (split: a SplitCommit) and what each member downloads
        up, member_sizes = w.fanout.commit_sizes(staged, size, removed)
        size_w = len(encode(staged.welcome)) if staged.welcome is not None else 0
        if pre_join:  # the joiners get small secrets instead of the Welcome
            size_w = sum(len(s.encoded()) for s in pre_join)
        extra, pre_upload = w.ordering.committer_uploads(self, group, staged)
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
        total = up + size_w + extra
        forwarded = w.ds_groups[group] != self.provider
        view = CommitView(
            message=staged.message,
            commit_bytes=size,
            public=staged.public,
            group_info=staged.group_info,
            welcome=staged.welcome,
            committer=staged.committer,
            added_leaves=staged.added,
            added=added,
            removed=removed,
            kind=kind,
            upload_bytes=total * (2 if forwarded else 1),
            wire=up,
            member_sizes=member_sizes,
            pre_upload=pre_upload,
            pre_join=pre_join,
        )
        w.ordering.submit_commit(self, group, g.epoch, total, view)

    def public_state_bytes(self, group: str, staged: StagedCommit) -> int:
        """What a committer uploads besides the commit for a DS that keeps the group's public
        state: GroupInfo, and the tree too under ``mls.handshake: private``."""
        w = self.world
        if not w.needs_public_state(group):
            return 0
        extra = len(encode(staged.group_info))
        if w.scenario.mls.handshake == "private":
            extra += len(staged.ratchet_tree.encode())
        return extra

    def pre_upload(self, group: str, staged: StagedCommit) -> PREUpload:
        """Under ``fanout: pre``: this commit's PRE records and re-encryption key for the DS."""
        pre = self.world.pre
        assert pre is not None
        return committer_upload(self.world.suite, pre, self.groups[group], staged, self.rand)

    def merge_own(self, group: str, staged: StagedCommit) -> tuple[Group, Group]:
        """Merge this client's own commit without a verdict; returns the new state and a
        checkpoint of the state before it (for fork resolution)."""
        g = self.groups[group]
        before = g.copy()
        g.merge(staged)
        return g, before

    def send_update_proposal(self, group: str) -> None:
        g = self.groups[group]
        w = self.world
        msg = g.propose_update(self.rand, new_identity=self.new_identity(g))
        n = len(encode(msg))
        epoch = g.epoch
        self.proposed[group] = epoch
        w.recorder.event(w.env.now, "proposal_sent", group=group, client=self.name, epoch=epoch, bytes=n)
        w.ordering.send_proposal(self, group, msg, n, epoch)

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
        self.merged(group, g, p)
        w.epoch_reached(group, self.name, g)
        self.epoch_changed(group, g, committed_mine=False)
        if self.ready:
            w.pay_owed_commits(self)

    def merged(self, group: str, g: Group, p: PendingCommit, **extra: str) -> None:
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
        self.world.ordering.receive_commit(self, group, msg)

    def process_commit(self, group: str, msg: MLSMessage) -> None:
        """Process a commit the orderer accepted (``sim/receiving.py``)."""
        receiving.commit(self, group, msg)

    def process_message(self, group: str, g: Group, msg: MLSMessage) -> ProcessResult | MLSError:
        """``g.process(msg)``: the MLS work of a received message (``sim/receiving.py`` runs it
        as a job), its error returned rather than raised; a split commit's path ciphertext is
        opened as the fan-out strategy says (``pre``: with this member's PRE key)."""
        try:
            return g.process(msg, now=None, opener=self.world.fanout.opener_for(self, group))
        except MLSError as exc:
            return exc

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
        self.epoch_changed(group, g, committed_mine=g.leaf_index in res.updated)

    def commit_dropped(self, group: str, p: PendingCommit, digest: bytes) -> None:
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

    def epoch_changed(self, group: str, g: Group, *, committed_mine: bool) -> None:
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
        receiving.proposal(self, group, msg)

    def on_proposal_reject(self, group: str, epoch: int) -> None:
        """The epoch moved on at the DS; the commit that moved it is on its way to this client,
        and ``_epoch_changed`` proposes again when it arrives."""

    def on_tree(self, group: str, tree: RatchetTree) -> None:
        self.trees[group] = tree

    #: ``on_application(group, msg, sent_on=b"")`` is receiving's function: no frame of its own
    on_application = receiving.application

    def on_welcome(self, group: str, msg: MLSMessage) -> None:
        welcome = msg.body
        assert isinstance(welcome, Welcome)
        ref = first_new_member(welcome, self.bundles)
        if ref is not None:
            self.world.processing.run(
                self.name, "welcome", partial(self._join, group, welcome, ref), partial(self._welcomed, group)
            )

    def _join(self, group: str, welcome: Welcome, ref: bytes) -> Group | MLSError | None:
        w = self.world
        b = self.bundles.pop(ref, None)
        if b is None:
            return None
        try:
            return Group.join(
                w.suite,
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
            return exc

    def _welcomed(self, group: str, g: Group | MLSError | None) -> None:
        w = self.world
        if isinstance(g, MLSError):
            w.recorder.event(w.env.now, "join_failed", group=group, client=self.name, error=type(g).__name__)
        elif g is not None:
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
        w.ordering.joined(self, group)

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
            and group not in self.creating
        )

    def caught_up(self, gaps: list[str] | None = None) -> None:
        """The end-of-mailbox marker arrived; ``gaps`` are groups whose handshake messages expired."""
        if self.online:
            self.synced = True
            self.world.recorder.event(self.world.env.now, "caught_up", client=self.name)
            self.world.pay_owed_commits(self)
        for group in gaps or ():
            if group in self.groups or group in self.light:
                self.world.start_resync(self, group, "mailbox_expired")
