"""The sans-IO MLS group state machine (RFC 9420 §11–§12).

One :class:`Group` is one member's view of one group. It never reads a clock or a socket:
callers pass randomness (``rand``) and, where lifetimes matter, ``now``; it returns
:class:`~mlssim.mls.messages.MLSMessage` objects and typed results.

State rules (h11-style, all in one place):

* ``commit()`` *stages*: it returns a :class:`StagedCommit` (the commit message, the
  Welcome, the GroupInfo and the next epoch's state) and leaves the group in its current
  epoch. ``merge(staged)`` moves to the new epoch; dropping the staged value discards it
  (a delivery service rejected it: the collision case). Staging consumes one generation
  of the sender's handshake ratchet when the commit travels as a PrivateMessage, so a
  discarded commit never causes nonce reuse.
* ``process(msg)`` validates completely before changing anything; a message that fails
  raises an :class:`~mlssim.mls.errors.MLSError` and leaves the group exactly as it was
  (§12.4.2). A commit from this member that matches the pending staged commit merges it.
* Proposals received in an epoch are cached by ProposalRef, dropped at the next epoch.
* After a commit that removes this member, or carries a ReInit, the group is inactive.
* The public part of an epoch (:class:`PublicEpoch`: GroupContext, ratchet tree, interim
  transcript hash) is immutable and shared by every member in that epoch; the private part
  (leaf and path keys, epoch secrets, secret tree) is per member.

``Group`` holds the state and the rules above; the work is done by functions of a member's
state: ``group_send`` (sending), ``commit_builder`` (committing), ``group_process`` and
``group_proposals`` (receiving), ``group_join`` (creating and joining); the split-commit
draft's framing and receiving in ``split_commit`` and ``split_process``.
"""

from __future__ import annotations

from collections.abc import Container, Sequence

from .commit_builder import CommitFraming, build_commit
from .crypto.suite import CipherSuite
from .errors import LocalProtocolError
from .group_join import external_join_states, join_state, new_group_state
from .group_process import process_commit, unprotect_message
from .group_proposals import proposals_to_commit, receive_proposal
from .group_resume import reinit_target, resumed_config
from .group_send import (
    application_message,
    group_info_message,
    member_committer,
    proposal_message,
    resumption_psk_id,
)
from .group_state import (
    ApplicationMessage,
    CommitApplied,
    CommitterError,
    DuplicateGroupIdError,
    GroupConfig,
    InactiveGroupError,
    MemberIdentity,
    MemberState,
    MissingPathError,
    ProcessResult,
    ProposalReceived,
    PublicEpoch,
    RejectedProposalError,
    StagedCommit,
    UnknownProposalError,
    UnknownSenderError,
    WrongEpochError,
    WrongGroupError,
    sign_leaf,
)
from .keyschedule import EpochSecrets
from .messages.common import Extension, GroupContext
from .messages.enums import ContentType, LeafNodeSource, PSKType, ResumptionPSKUsage
from .messages.framing import MLSMessage, Sender
from .messages.key_package import KeyPackage
from .messages.proposals import Add, GroupContextExtensions, PreSharedKey, Proposal, ReInit, Remove, Update
from .messages.psk_id import PreSharedKeyID
from .messages.split import IndividualCommit, SCommit
from .messages.tree import LeafNode
from .messages.welcome import GroupInfo, Welcome
from .rand import RandomSource
from .ratchet_tree import RatchetTree
from .sharing import EpochCache
from .split_commit import PathSecretOpener, SplitCommitError
from .split_process import process_split_commit
from .treekem import PathKeys
from .treemath import LeafIndex

__all__ = [
    "ApplicationMessage",
    "CommitApplied",
    "CommitterError",
    "EpochCache",
    "Group",
    "GroupConfig",
    "InactiveGroupError",
    "DuplicateGroupIdError",
    "MemberIdentity",
    "MissingPathError",
    "ProcessResult",
    "ProposalReceived",
    "PublicEpoch",
    "RejectedProposalError",
    "StagedCommit",
    "UnknownProposalError",
    "UnknownSenderError",
    "WrongEpochError",
    "WrongGroupError",
]


# ---- the group -----------------------------------------------------------------------------


class Group:
    """One member's state machine for one group."""

    __slots__ = ("_past", "_pending", "_st", "config", "suite")

    def __init__(self, suite: CipherSuite, state: MemberState, config: GroupConfig) -> None:
        self.suite = suite
        self.config = config
        self._st = state
        self._pending: StagedCommit | None = None
        self._past: dict[int, MemberState] = {}

    def copy(self) -> Group:
        """An independent handle on this epoch: a later commit processed by one handle does not
        move the other. Epoch state is immutable and shared; only the secret trees' ratchets
        (already-consumed message keys) are common to both. No staged commit is carried over.
        Used to keep a state to roll back to when concurrent commits fork a group."""
        other = Group(self.suite, self._st, self.config)
        other._past = dict(self._past)
        return other

    # -- read-only views ----------------------------------------------------------------------

    @property
    def group_id(self) -> bytes:
        return self._st.public.context.group_id

    @property
    def epoch(self) -> int:
        return self._st.public.context.epoch

    @property
    def context(self) -> GroupContext:
        return self._st.public.context

    @property
    def public(self) -> PublicEpoch:
        return self._st.public

    @property
    def tree(self) -> RatchetTree:
        return self._st.public.tree

    @property
    def leaf_index(self) -> LeafIndex:
        return self._st.leaf

    @property
    def active(self) -> bool:
        return self._st.active

    @property
    def epoch_authenticator(self) -> bytes:
        return self._st.secrets.epoch_authenticator

    @property
    def tree_hash(self) -> bytes:
        return self._st.public.context.tree_hash

    @property
    def path_keys(self) -> PathKeys:
        return self._st.path_keys

    @property
    def secrets(self) -> EpochSecrets:
        return self._st.secrets

    @property
    def identity(self) -> MemberIdentity:
        """Credential and signature key pair this member signs with."""
        return self._st.identity

    @property
    def pending_update_keys(self) -> tuple[bytes, ...]:
        """Private leaf keys of this member's own Update proposals not yet committed (§12.1.2)."""
        return tuple(self._st.pending_updates.values())

    @property
    def staged_state(self) -> MemberState | None:
        """The next epoch's private state of the commit this member has staged, if any."""
        return None if self._pending is None else self._pending._state

    @property
    def retained_epochs(self) -> tuple[int, ...]:
        """Past epochs whose secret trees are kept for late application messages (§14)."""
        return tuple(sorted(self._past))

    @property
    def committed_reinit(self) -> ReInit | None:
        """The ReInit of the last commit, if any (the group is then inactive, §11.2)."""
        return self._st.reinit

    @property
    def pending_proposals(self) -> tuple[bytes, ...]:
        return tuple(self._st.proposals)

    def export_secret(self, label: bytes | str, context: bytes, length: int) -> bytes:
        """§8.5 MLS-Exporter."""
        return self._st.secrets.exporter(label, context, length)

    def resumption_psk(self, epoch: int) -> bytes | None:
        return self._st.resumption_psks.get(epoch)

    # -- creation ------------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        suite: CipherSuite,
        *,
        group_id: bytes,
        identity: MemberIdentity,
        rand: RandomSource,
        extensions: tuple[Extension, ...] = (),
        config: GroupConfig | None = None,
        encryption_priv: bytes | None = None,
        leaf_node: LeafNode | None = None,
    ) -> Group:
        """§11: a one-member group at epoch 0 (``group_join.new_group_state``)."""
        cfg = config or GroupConfig()
        st = new_group_state(
            suite,
            group_id=group_id,
            identity=identity,
            rand=rand,
            extensions=extensions,
            config=cfg,
            encryption_priv=encryption_priv,
            leaf_node=leaf_node,
        )
        return cls(suite, st, cfg)

    # -- sending -------------------------------------------------------------------------------

    def _require_active(self) -> None:
        if not self._st.active:
            raise InactiveGroupError("this member is no longer in the group")

    def encrypt_application(
        self, data: bytes, rand: RandomSource, authenticated_data: bytes = b""
    ) -> MLSMessage:
        """§15: application data as a PrivateMessage under this member's application ratchet."""
        self._require_active()
        return application_message(self.suite, self.config, self._st, data, rand, authenticated_data)

    def _propose(
        self, proposal: Proposal, rand: RandomSource, authenticated_data: bytes, now: int | None = None
    ) -> tuple[MLSMessage, bytes]:
        """Sign, protect and cache one proposal of this member (``group_send.proposal_message``:
        one its receivers would reject raises :class:`RejectedProposalError`)."""
        self._require_active()
        return proposal_message(self.suite, self.config, self._st, proposal, rand, authenticated_data, now)

    def propose_add(
        self,
        key_package: KeyPackage,
        rand: RandomSource,
        authenticated_data: bytes = b"",
        *,
        now: int | None = None,
    ) -> MLSMessage:
        """§12.1.1; raises :class:`RejectedProposalError` for a KeyPackage that is invalid for
        this group (§10.1), e.g. of a client already in it (§7.3)."""
        return self._propose(Add(key_package=key_package), rand, authenticated_data, now)[0]

    def propose_remove(self, leaf: int, rand: RandomSource, authenticated_data: bytes = b"") -> MLSMessage:
        """§12.1.3; raises :class:`RejectedProposalError` for a blank leaf or one outside the tree."""
        return self._propose(Remove(removed=leaf), rand, authenticated_data)[0]

    def propose_psk(self, psk_id: PreSharedKeyID, rand: RandomSource) -> MLSMessage:
        return self._propose(PreSharedKey(psk=psk_id), rand, b"")[0]

    def propose_group_context_extensions(
        self, extensions: tuple[Extension, ...], rand: RandomSource
    ) -> MLSMessage:
        return self._propose(GroupContextExtensions(extensions=extensions), rand, b"")[0]

    def propose_reinit(self, reinit: ReInit, rand: RandomSource) -> MLSMessage:
        return self._propose(reinit, rand, b"")[0]

    def propose_update(
        self,
        rand: RandomSource,
        authenticated_data: bytes = b"",
        *,
        now: int | None = None,
        new_identity: MemberIdentity | None = None,
    ) -> MLSMessage:
        """§12.1.2: a fresh leaf key without a path (a 'lazy' update, committed by another member);
        ``new_identity`` (``rotated_identity``): the leaf carries its new signature key too."""
        kp = self.suite.kem_generate_key_pair(rand)
        leaf = sign_leaf(
            self.suite,
            new_identity or self._st.identity,
            encryption_key=kp.pub,
            source=LeafNodeSource.UPDATE,
            group_id=self.group_id,
            leaf_index=self._st.leaf,
        )
        msg, ref = self._propose(Update(leaf_node=leaf), rand, authenticated_data, now)
        self._st.pending_updates[ref] = kp.priv
        if new_identity is not None:
            self._st.pending_identities[new_identity.signature_key] = new_identity
        return msg

    # -- committing ------------------------------------------------------------------------------

    def commit(
        self,
        rand: RandomSource,
        *,
        adds: Sequence[KeyPackage] = (),
        removes: Sequence[int] = (),
        psks: Sequence[PreSharedKeyID] = (),
        extensions: tuple[Extension, ...] | None = None,
        reinit: ReInit | None = None,
        include_cached: bool = True,
        references: Sequence[bytes] | None = None,
        path: bool | None = None,
        authenticated_data: bytes = b"",
        now: int | None = None,
        resumption_psk: PreSharedKeyID | None = None,
        framing: CommitFraming | None = None,
        new_identity: MemberIdentity | None = None,
    ) -> StagedCommit:
        """§12.4.1: build a commit of the given proposals (by value) plus cached ones (by
        reference). ``path=None`` includes an UpdatePath (the RFC's default); ``False``
        omits it where the proposals allow. ``framing``: RFC 9420's by default, or
        ``split_commit.SPLIT_FRAMING`` for a splittable commit. The group does not change
        until ``merge``. ``new_identity`` (``rotated_identity``): the path's leaf carries its new
        signature key, with which the member signs from the new epoch on (§12.1.2, §7.3)."""
        self._require_active()
        st = self._st
        usage = None
        if resumption_psk is not None:
            # only the initial commit of a reinitialised or branched group (§11.2, §11.3)
            if self.epoch != 0:
                raise LocalProtocolError("a reinit/branch PSK belongs in the new group's first commit")
            usage = resumption_psk.usage
            psks = [*psks, resumption_psk]
        committed = proposals_to_commit(
            st,
            adds=adds,
            removes=removes,
            psks=psks,
            extensions=extensions,
            reinit=reinit,
            include_cached=include_cached,
            references=references,
        )
        staged = build_commit(
            self.suite,
            self.config,
            st.public,
            member_committer(self.suite, self.config, st, self.lookup_psk, rand, new_identity),
            committed,
            with_path=True if path is None else path,
            rand=rand,
            authenticated_data=authenticated_data,
            now=now,
            resumption_usage=usage,
            framing=framing,
        )
        self._pending = staged
        return staged

    def merge(self, staged: StagedCommit) -> CommitApplied:
        """Move to the staged epoch (the delivery service accepted the commit)."""
        if (
            staged._state.public.context.epoch != self.epoch + 1
            or staged._state.public.context.group_id != self.group_id
        ):
            raise LocalProtocolError("this staged commit does not follow the current epoch")
        self._advance(staged._state)
        return CommitApplied(
            epoch=staged.epoch,
            committer=Sender.member(self._st.leaf),
            own=True,
            added=staged.added,
            removed=staged.removed,
            updated=staged.updated,
            reinit=self._st.reinit,
            with_path=staged.with_path,
        )

    def discard(self, staged: StagedCommit | None = None) -> None:
        """Forget the pending staged commit (the delivery service rejected it)."""
        if staged is None or self._pending is staged:
            self._pending = None

    def group_info(self, *, with_tree: bool = False) -> MLSMessage:
        """A signed GroupInfo of the current epoch (for external joins, §12.4.3.2)."""
        return group_info_message(self.suite, self.config, self._st, with_tree=with_tree)

    def _resumed_group(
        self,
        rand: RandomSource,
        *,
        usage: ResumptionPSKUsage,
        suite: CipherSuite,
        group_id: bytes,
        extensions: tuple[Extension, ...],
        key_packages: Sequence[KeyPackage],
        config: GroupConfig | None,
        identity: MemberIdentity | None = None,
    ) -> tuple[Group, StagedCommit]:
        cfg, who = resumed_config(config or self.config, self.lookup_psk), identity or self._st.identity
        new = Group.create(
            suite, group_id=group_id, identity=who, rand=rand, extensions=extensions, config=cfg
        )
        psk = resumption_psk_id(suite, usage, self.group_id, self.epoch, rand)
        return new, new.commit(rand, adds=key_packages, resumption_psk=psk)

    def reinit(
        self,
        rand: RandomSource,
        *,
        key_packages: Sequence[KeyPackage],
        suite: CipherSuite | None = None,
        config: GroupConfig | None = None,
        identity: MemberIdentity | None = None,
    ) -> tuple[Group, StagedCommit]:
        """§11.2 step 3: after a commit carrying a ReInit, the new group with the ReInit's
        parameters and its staged first commit adding ``key_packages`` with a ``reinit``
        resumption PSK (checks in ``group_resume``; merge it, send the Welcome).
        ``identity``: the creator's credential and signature key in the new group (default: its
        current one); a new suite whose signature scheme differs needs a key of that scheme."""
        reinit, suite = reinit_target(self._st.reinit, self.suite, suite)
        return self._resumed_group(
            rand, usage=ResumptionPSKUsage.REINIT, suite=suite, group_id=reinit.group_id,
            extensions=reinit.extensions, key_packages=key_packages, config=config, identity=identity,
        )  # fmt: skip

    def branch(
        self,
        rand: RandomSource,
        *,
        group_id: bytes,
        key_packages: Sequence[KeyPackage],
        config: GroupConfig | None = None,
    ) -> tuple[Group, StagedCommit]:
        """§11.3: a subgroup with this group's parameters, linked by a ``branch`` resumption PSK."""
        self._require_active()
        return self._resumed_group(
            rand,
            usage=ResumptionPSKUsage.BRANCH,
            suite=self.suite,
            group_id=group_id,
            extensions=self.context.extensions,
            key_packages=key_packages,
            config=config,
        )

    # -- receiving -------------------------------------------------------------------------------

    def lookup_psk(self, psk_id: PreSharedKeyID) -> bytes | None:
        """This group's resumption PSKs (§8.6), then the configured lookup. A joiner of a resumed
        group passes its old group as ``Group.join(resumed_from=...)`` (§11.2/§11.3 checked)."""
        if psk_id.psktype == PSKType.RESUMPTION and psk_id.psk_group_id == self.group_id:
            return self._st.resumption_psks.get(psk_id.psk_epoch)
        if self.config.psk_lookup is not None:
            return self.config.psk_lookup(psk_id)
        return None

    def process(
        self, message: MLSMessage, *, now: int | None = None, opener: PathSecretOpener | None = None
    ) -> ProcessResult:
        """Validate and apply one message of the current epoch; raises, unchanged, on any failure.
        ``opener``: how a split commit's path ciphertext is opened (default HPKE, ``split_commit``)."""
        self._require_active()
        pending = self._pending
        if pending is not None and message.encoded() == pending.message_bytes:
            # our own commit, as the DS ordered it: we cannot decrypt our own PrivateMessage
            # (the sending key is deleted), and need not: it is the staged commit.
            return self.merge(pending)
        if isinstance(message.body, SCommit | IndividualCommit):  # draft-mularczyk-mls-splitcommit
            split = process_split_commit(
                self.suite, self.config, self._st, self._past, message, now, self.lookup_psk, opener
            )
            return self._applied(*split)
        ac = unprotect_message(self.suite, self.config, self._st, self._past, message)
        content = ac.content
        if content.content_type == ContentType.APPLICATION:
            return ApplicationMessage(
                sender=LeafIndex(content.sender.index),
                data=content.application_data,
                authenticated_data=content.authenticated_data,
                epoch=content.epoch,
            )
        if content.content_type == ContentType.PROPOSAL:
            assert content.proposal is not None
            return receive_proposal(self.suite, self.config.leaf_policy, self._st, ac, content.proposal, now)
        if content.content_type != ContentType.COMMIT:
            raise SplitCommitError("an SHeader arrives inside an SCommit or IndividualCommit only")
        return self._applied(*process_commit(self.suite, self.config, self._st, ac, now, self.lookup_psk))

    def _applied(self, result: CommitApplied, state: MemberState) -> CommitApplied:
        if result.removed_me:
            self._st = state
            self._pending = None
        else:
            self._advance(state)
        return result

    def _advance(self, new_state: MemberState) -> None:
        """Enter the next epoch, keeping the last few epochs' secret trees for late
        application messages (never for handshake messages)."""
        keep = self.config.keep_past_epochs
        if keep > 0:
            self._past[self.epoch] = self._st
            while len(self._past) > keep:
                del self._past[min(self._past)]
        self._st = new_state
        self._pending = None

    # -- joining -----------------------------------------------------------------------------------

    @classmethod
    def join(
        cls,
        suite: CipherSuite,
        welcome: Welcome,
        *,
        key_package: KeyPackage,
        init_priv: bytes,
        encryption_priv: bytes,
        identity: MemberIdentity,
        ratchet_tree: RatchetTree | None = None,
        config: GroupConfig | None = None,
        now: int | None = None,
        resumed_from: Group | None = None,
        current_group_ids: Container[bytes] = (),
    ) -> Group:
        """§12.4.3.1: join from a Welcome; the tree comes from its extension or out of band.

        For a reinitialised or branched group, ``resumed_from`` is this client's old group:
        its resumption PSK is looked up there, and the §11.2/§11.3 conditions are checked.
        ``current_group_ids``: the ids of the client's other groups, which this one's must not
        repeat (§12.4.3.1; only the client knows them)."""
        cfg = config or GroupConfig()
        st = join_state(
            suite,
            welcome,
            key_package=key_package,
            init_priv=init_priv,
            encryption_priv=encryption_priv,
            identity=identity,
            ratchet_tree=ratchet_tree,
            config=cfg,
            now=now,
            resumed_from=resumed_from,
            current_group_ids=current_group_ids,
        )
        return cls(suite, st, cfg)

    @classmethod
    def external_join(
        cls,
        suite: CipherSuite,
        group_info: GroupInfo,
        *,
        identity: MemberIdentity,
        rand: RandomSource,
        ratchet_tree: RatchetTree | None = None,
        resync_remove: int | None = None,
        psks: Sequence[PreSharedKeyID] = (),
        config: GroupConfig | None = None,
        authenticated_data: bytes = b"",
    ) -> tuple[Group, StagedCommit]:
        """§12.4.3.2: join by external commit. Returns the joiner's (pre-join) handle and the
        staged commit; ``group.merge(staged)`` once the delivery service accepts it."""
        cfg = config or GroupConfig()
        pre, staged = external_join_states(
            suite,
            group_info,
            identity=identity,
            rand=rand,
            ratchet_tree=ratchet_tree,
            resync_remove=resync_remove,
            psks=psks,
            config=cfg,
            authenticated_data=authenticated_data,
        )
        group = cls(suite, pre, cfg)
        group._pending = staged
        return group, staged
