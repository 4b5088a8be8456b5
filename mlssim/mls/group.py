"""The sans-IO MLS group state machine (RFC 9420 §11–§12).

One :class:`Group` is one member's view of one group. It never reads a clock or a
socket: callers pass randomness (``rand``) and, where lifetimes matter, ``now``; it
returns messages as :class:`~mlssim.mls.messages.MLSMessage` objects and results as typed
values.

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
* Proposals received in an epoch are cached by ProposalRef and dropped at the next epoch.
* After a commit that removes this member, or that carries a ReInit, the group is
  inactive: it can still read nothing new and sends nothing.
* The public part of an epoch (:class:`PublicEpoch`: GroupContext, ratchet tree,
  interim transcript hash) is immutable and can be shared by every member in that epoch;
  the private part (leaf and path keys, epoch secrets, secret tree) is per member.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import replace

from .codec import decode, encode
from .commit_builder import Committer, build_commit
from .commit_outcome import commit_outcome
from .crypto.suite import CipherSuite
from .errors import LocalProtocolError, RemoteProtocolError
from .extensions import find_extension
from .group_join import external_join_states, join_state
from .group_state import (
    EXTERNAL_INIT_LABEL,
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
    keep_psks,
    make_group_info,
    new_secret_tree,
    sign_leaf,
)
from .group_validation import (
    validate_added_key_package,
    validate_member_leaf,
)
from .keyschedule import EpochSecrets, confirmation_tag, verify_confirmation_tag
from .leaf_nodes import LeafNodeLifetimeError
from .messages.common import Extension, GroupContext
from .messages.credentials import ExternalSenders
from .messages.enums import (
    ContentType,
    ExtensionType,
    LeafNodeSource,
    PSKType,
    ResumptionPSKUsage,
    SenderType,
    WireFormat,
)
from .messages.framing import (
    AuthenticatedContent,
    FramedContent,
    MLSMessage,
    PrivateMessage,
    PublicMessage,
    Sender,
)
from .messages.key_package import KeyPackage
from .messages.proposals import (
    Add,
    Commit,
    GroupContextExtensions,
    PreSharedKey,
    Proposal,
    ReInit,
    Remove,
    Update,
)
from .messages.psk_id import PreSharedKeyID
from .messages.tree import LeafNode, Lifetime
from .messages.welcome import GroupInfo, Welcome
from .proposal_list import (
    EXTERNAL_SENDER_TYPES,
    CommittedProposal,
    InvalidProposalError,
)
from .protect import (
    protect_private,
    protect_public,
    sign_content,
    unprotect_private,
    unprotect_public,
)
from .psk import psk_secret as compute_psk_secret
from .psk import resolve_psks
from .rand import RandomSource
from .ratchet_tree import RatchetTree
from .sharing import EpochCache, tables_of
from .transcript import interim_transcript_hash
from .treekem import PathKeys, decrypt_update_path
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
        """The next epoch's private state of the commit this member has staged, if any: what a
        member holds while its commit travels to the delivery service."""
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
        """§11: a one-member group at epoch 0 with a random init secret, its confirmation tag
        over the empty confirmed transcript hash and the interim transcript hash that follows."""
        if leaf_node is None or encryption_priv is None:
            kp = suite.kem_generate_key_pair(rand)
            encryption_priv = kp.priv
            leaf_node = sign_leaf(
                suite,
                identity,
                encryption_key=kp.pub,
                source=LeafNodeSource.KEY_PACKAGE,
                lifetime=Lifetime(not_before=0, not_after=0xFFFFFFFFFFFFFFFF),
            )
        tree = RatchetTree.from_nodes(suite, [leaf_node])
        ctx = GroupContext(
            cipher_suite=suite.suite_id,
            group_id=group_id,
            epoch=0,
            tree_hash=tree.tree_hash(),
            confirmed_transcript_hash=b"",
            extensions=extensions,
        )
        secrets = EpochSecrets.for_new_group(
            suite, init_secret=rand.random_bytes(suite.info.hash_len), group_context=ctx
        )
        # §11: a confirmation tag over the empty confirmed transcript hash, and the interim
        # transcript hash from it (§8.2), so that epoch 0's GroupInfo can be joined externally
        tag = confirmation_tag(suite, secrets.confirmation_key, b"")
        cfg = config or GroupConfig()
        st = MemberState(
            public=PublicEpoch.make(ctx, tree, interim_transcript_hash(suite, b"", tag), tag),
            leaf=LeafIndex(0),
            identity=identity,
            path_keys=PathKeys.for_leaf(LeafIndex(0), encryption_priv),
            secrets=secrets,
            secret_tree=new_secret_tree(suite, secrets.encryption_secret, tree.n_leaves, cfg),
        )
        st.resumption_psks[0] = secrets.resumption_psk
        return cls(suite, st, cfg)

    # -- sending -------------------------------------------------------------------------------

    def _require_active(self) -> None:
        if not self._st.active:
            raise InactiveGroupError("this member is no longer in the group")

    def _content(self, content_type: ContentType, authenticated_data: bytes, **body: object) -> FramedContent:
        return FramedContent(
            group_id=self.group_id,
            epoch=self.epoch,
            sender=Sender.member(self._st.leaf),
            authenticated_data=authenticated_data,
            content_type=content_type,
            **body,  # type: ignore[arg-type]
        )

    def _protect(self, ac: AuthenticatedContent, rand: RandomSource) -> MLSMessage:
        st = self._st
        if ac.wire_format == WireFormat.PUBLIC_MESSAGE:
            msg: PublicMessage | PrivateMessage = protect_public(
                self.suite, ac, context=st.public.context, membership_key=st.secrets.membership_key
            )
        else:
            msg = protect_private(
                self.suite,
                ac,
                secret_tree=st.secret_tree,
                sender_data_secret=st.secrets.sender_data_secret,
                rand=rand,
                padding=self.config.padding,
            )
        return MLSMessage(body=msg)

    def encrypt_application(
        self, data: bytes, rand: RandomSource, authenticated_data: bytes = b""
    ) -> MLSMessage:
        """§15: application data as a PrivateMessage under this member's application ratchet."""
        self._require_active()
        if self._st.proposals:
            # §12.4: a member that saw proposals must commit before sending application data.
            raise LocalProtocolError("pending proposals must be committed before application data")
        content = self._content(ContentType.APPLICATION, authenticated_data, application_data=data)
        ac = sign_content(
            self.suite,
            wire_format=WireFormat.PRIVATE_MESSAGE,
            content=content,
            signature_priv=self._st.identity.signature_priv,
            context=self.context,
        )
        return self._protect(ac, rand)

    def _propose(
        self, proposal: Proposal, rand: RandomSource, authenticated_data: bytes, now: int | None = None
    ) -> tuple[MLSMessage, bytes]:
        """Sign, protect and cache one proposal of this member. It is first checked as its
        receivers check it (:meth:`_validate_proposal`); one they would reject raises
        :class:`RejectedProposalError` before anything is signed, sent or cached."""
        self._require_active()
        me = Sender.member(self._st.leaf)
        try:
            self._validate_proposal(proposal, me, now)
        except RemoteProtocolError as exc:
            raise RejectedProposalError(f"receivers would reject this proposal: {exc}") from exc
        content = self._content(ContentType.PROPOSAL, authenticated_data, proposal=proposal)
        ac = sign_content(
            self.suite,
            wire_format=self.config.handshake_wire_format,
            content=content,
            signature_priv=self._st.identity.signature_priv,
            context=self.context,
        )
        ref = self.suite.proposal_ref(ac.encoded())
        msg = self._protect(ac, rand)
        self._st.proposals[ref] = CommittedProposal(proposal, content.sender, ref)
        return msg, ref

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
        self, rand: RandomSource, authenticated_data: bytes = b"", *, now: int | None = None
    ) -> MLSMessage:
        """§12.1.2: a fresh leaf key without a path (a 'lazy' update, committed by another member)."""
        kp = self.suite.kem_generate_key_pair(rand)
        leaf = sign_leaf(
            self.suite,
            self._st.identity,
            encryption_key=kp.pub,
            source=LeafNodeSource.UPDATE,
            group_id=self.group_id,
            leaf_index=self._st.leaf,
        )
        msg, ref = self._propose(Update(leaf_node=leaf), rand, authenticated_data, now)
        self._st.pending_updates[ref] = kp.priv
        return msg

    # -- committing ------------------------------------------------------------------------------

    def _default_references(self, by_value: Sequence[Proposal] = ()) -> list[CommittedProposal]:
        """Cached proposals a committer may include (§12.4: SHOULD include all valid ones),
        chosen so that together with ``by_value`` they form a valid list (§12.2).

        Own Updates and Removes of this member cannot be committed by it; of several
        Updates/Removes for one leaf a Remove wins, else the latest Update; a leaf that a
        Remove given by value removes takes no cached Update/Remove. Of several Adds of one
        client (signature key) the first received is chosen, and none if the caller adds
        that client by value; a PreSharedKey or GroupContextExtensions proposal given by
        value, or cached earlier, makes an equal cached one redundant.
        """
        me = self._st.leaf
        removed_by_value = {p.removed for p in by_value if isinstance(p, Remove)}
        added = {p.key_package.leaf_node.signature_key for p in by_value if isinstance(p, Add)}
        psks = {encode(p.psk) for p in by_value if isinstance(p, PreSharedKey)}
        extensions = any(isinstance(p, GroupContextExtensions) for p in by_value)
        chosen: dict[int, CommittedProposal] = {}
        rest: list[CommittedProposal] = []
        for cp in self._st.proposals.values():
            p = cp.proposal
            if isinstance(p, Update):
                if cp.sender.index == me or cp.sender.index in removed_by_value:
                    continue
                prev = chosen.get(cp.sender.index)
                if prev is None or not isinstance(prev.proposal, Remove):
                    chosen[cp.sender.index] = cp
            elif isinstance(p, Remove):
                if p.removed == me or p.removed in removed_by_value:
                    continue
                chosen[p.removed] = cp
            elif isinstance(p, Add):
                key = p.key_package.leaf_node.signature_key
                if key in added:
                    continue
                added.add(key)
                rest.append(cp)
            elif isinstance(p, PreSharedKey):
                psk = encode(p.psk)
                if psk in psks:
                    continue
                psks.add(psk)
                rest.append(cp)
            elif isinstance(p, GroupContextExtensions):
                if extensions:
                    continue
                extensions = True
                rest.append(cp)
            else:
                rest.append(cp)
        return [*chosen.values(), *rest]

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
    ) -> StagedCommit:
        """§12.4.1: build a commit of the given proposals (by value) plus cached ones (by
        reference). ``path=None`` includes an UpdatePath (the RFC's default); ``False``
        omits it where the proposals allow. The group does not change until ``merge``."""
        self._require_active()
        st = self._st
        me = Sender.member(st.leaf)
        usage = None
        if resumption_psk is not None:
            # only the initial commit of a reinitialised or branched group (§11.2, §11.3)
            if self.epoch != 0:
                raise LocalProtocolError("a reinit/branch PSK belongs in the new group's first commit")
            usage = resumption_psk.usage
            psks = [*psks, resumption_psk]
        by_value: list[Proposal] = [Add(key_package=kp) for kp in adds]
        by_value += [Remove(removed=r) for r in removes]
        by_value += [PreSharedKey(psk=p) for p in psks]
        if extensions is not None:
            by_value.append(GroupContextExtensions(extensions=extensions))
        if reinit is not None:
            by_value.append(reinit)
        if references is not None:
            try:
                cached = [st.proposals[r] for r in references]
            except KeyError as exc:
                raise LocalProtocolError("commit names a proposal reference not in the cache") from exc
        else:
            cached = self._default_references(by_value) if include_cached else []
        committed = [CommittedProposal(p, me) for p in by_value] + cached
        committer = Committer(
            identity=st.identity,
            leaf=st.leaf,
            path_keys=st.path_keys,
            init_secret=st.secrets.init_secret,
            resumption_psks=st.resumption_psks,
            psk_lookup=self.lookup_psk,
            wire_format=self.config.handshake_wire_format,
            protect=lambda ac: self._protect(ac, rand),
        )
        staged = build_commit(
            self.suite,
            self.config,
            st.public,
            committer,
            committed,
            with_path=True if path is None else path,
            rand=rand,
            authenticated_data=authenticated_data,
            now=now,
            resumption_usage=usage,
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
        st = self._st
        return MLSMessage(
            body=self._group_info(
                st.public, st.secrets, st.leaf, st.identity.signature_priv, with_tree=with_tree
            )
        )

    def _group_info(
        self,
        public: PublicEpoch,
        secrets: EpochSecrets,
        signer: LeafIndex,
        signature_priv: bytes,
        *,
        with_tree: bool,
    ) -> GroupInfo:
        return make_group_info(
            self.suite,
            public,
            secrets,
            signer,
            signature_priv,
            with_tree=with_tree,
            external_pub=self.config.external_pub_in_group_info,
        )

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
    ) -> tuple[Group, StagedCommit]:
        old_lookup = self.lookup_psk
        base = config or self.config
        outer = base.psk_lookup

        def lookup(psk_id: PreSharedKeyID) -> bytes | None:
            found = old_lookup(psk_id)
            return found if found is not None or outer is None else outer(psk_id)

        cfg = replace(base, psk_lookup=lookup)
        new = Group.create(
            suite, group_id=group_id, identity=self._st.identity, rand=rand, extensions=extensions, config=cfg
        )
        psk = PreSharedKeyID(
            psktype=PSKType.RESUMPTION,
            usage=usage,
            psk_group_id=self.group_id,
            psk_epoch=self.epoch,
            psk_nonce=rand.random_bytes(suite.info.hash_len),
        )
        return new, new.commit(rand, adds=key_packages, resumption_psk=psk)

    def reinit(
        self,
        rand: RandomSource,
        *,
        key_packages: Sequence[KeyPackage],
        suite: CipherSuite | None = None,
        config: GroupConfig | None = None,
    ) -> tuple[Group, StagedCommit]:
        """§11.2 step 3: after a commit carrying a ReInit, create the new group with the
        ReInit's parameters, add ``key_packages`` with a ``reinit`` resumption PSK, and
        return it with its staged first commit (merge it to reach epoch 1; the Welcome goes
        to the members). ``suite`` must be given when the ReInit changes the cipher suite."""
        reinit = self._st.reinit
        if reinit is None:
            raise LocalProtocolError("no committed ReInit in this group")
        if suite is None:
            if reinit.cipher_suite != self.suite.suite_id:
                raise LocalProtocolError("the ReInit changes the cipher suite: pass the new suite")
            suite = self.suite
        if suite.suite_id != reinit.cipher_suite:
            raise LocalProtocolError("suite does not match the ReInit's cipher suite")
        return self._resumed_group(
            rand,
            usage=ResumptionPSKUsage.REINIT,
            suite=suite,
            group_id=reinit.group_id,
            extensions=reinit.extensions,
            key_packages=key_packages,
            config=config,
        )

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
        """This group's resumption PSKs (§8.6), then the configured lookup; for joiners of a
        reinitialised or branched group, pass ``GroupConfig(psk_lookup=old_group.lookup_psk)``."""
        if psk_id.psktype == PSKType.RESUMPTION and psk_id.psk_group_id == self.group_id:
            return self._st.resumption_psks.get(psk_id.psk_epoch)
        if self.config.psk_lookup is not None:
            return self.config.psk_lookup(psk_id)
        return None

    def _signature_key(self, sender: Sender, content: FramedContent) -> bytes:
        st = self._st
        if sender.sender_type == SenderType.MEMBER:
            leaf = (
                st.public.tree.leaf(LeafIndex(sender.index))
                if sender.index < st.public.tree.n_leaves
                else None
            )
            if leaf is None:
                raise UnknownSenderError(f"sender leaf {sender.index} is blank or outside the tree")
            return leaf.signature_key
        if sender.sender_type == SenderType.EXTERNAL:
            data = find_extension(st.public.context.extensions, ExtensionType.EXTERNAL_SENDERS)
            if data is None:
                raise UnknownSenderError("external sender, but the group has no external_senders extension")
            senders = decode(ExternalSenders, data).senders
            if sender.index >= len(senders):
                raise UnknownSenderError(f"external sender index {sender.index} out of range")
            return senders[sender.index].signature_key
        if sender.sender_type == SenderType.NEW_MEMBER_PROPOSAL:
            if content.content_type != ContentType.PROPOSAL or not isinstance(content.proposal, Add):
                raise CommitterError("a new_member_proposal sender may only send an Add")
            return content.proposal.key_package.leaf_node.signature_key
        # new_member_commit: the key of the leaf in the commit's path
        if (
            content.content_type != ContentType.COMMIT
            or content.commit is None
            or content.commit.path is None
        ):
            raise CommitterError("a new_member_commit sender must send a commit with a path")
        return content.commit.path.leaf_node.signature_key

    def process(self, message: MLSMessage, *, now: int | None = None) -> ProcessResult:
        """Validate and apply one message of the current epoch; raises, unchanged, on any failure."""
        self._require_active()
        st = self._st
        pending = self._pending
        if pending is not None and message.encoded() == pending.message_bytes:
            # our own commit, as the DS ordered it: we cannot decrypt our own PrivateMessage
            # (the sending key is deleted), and need not: it is the staged commit.
            return self.merge(pending)
        body = message.body
        if isinstance(body, PublicMessage):
            content = body.content
            self._check_epoch(content.group_id, content.epoch, content.content_type)
            key = self._signature_key(content.sender, content)
            membership_key = (
                st.secrets.membership_key if content.sender.sender_type == SenderType.MEMBER else None
            )
            # Every input of the two checks; the content's kept bytes are one object per decoded
            # message, so the key is hashed once however many members receive it.
            tables_of(self.config.epoch_cache).verified.get_or_compute(
                (
                    st.public.context_bytes,
                    content.encoded(),
                    body.auth.signature,
                    body.auth.confirmation_tag,
                    body.membership_tag,
                    membership_key,
                    key,
                ),
                lambda: (
                    unprotect_public(
                        self.suite,
                        body,
                        context=st.public.context_bytes,
                        membership_key=membership_key,
                        signature_pub=key,
                    )
                    is not None
                ),
            )
            ac = body.authenticated_content()
        elif isinstance(body, PrivateMessage):
            past = self._past.get(body.epoch)
            if (
                past is not None
                and body.group_id == self.group_id
                and body.content_type == ContentType.APPLICATION
            ):
                st = past  # a late application message of an epoch whose secret tree we kept
            else:
                self._check_epoch(body.group_id, body.epoch, body.content_type)
            tree = st.public.tree

            def key_of(leaf: int) -> bytes | None:
                node = tree.leaf(LeafIndex(leaf)) if leaf < tree.n_leaves else None
                return None if node is None else node.signature_key

            ac = unprotect_private(
                self.suite,
                body,
                secret_tree=st.secret_tree,
                sender_data_secret=st.secrets.sender_data_secret,
                context=st.public.context_bytes,
                signature_key_of=key_of,
                shared=self.config.epoch_cache,
            )
        else:
            raise LocalProtocolError(f"{message.wire_format.name} is not processed by a group member")
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
            return self._receive_proposal(ac, content.proposal, now)
        return self._process_commit(ac, now)

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

    def _check_epoch(self, group_id: bytes, epoch: int, content_type: ContentType) -> None:
        if group_id != self.group_id:
            raise WrongGroupError("message for another group")
        if epoch != self.epoch:
            raise WrongEpochError(f"message for epoch {epoch}, group is in epoch {self.epoch}")

    def _validate_proposal(self, proposal: Proposal, sender: Sender, now: int | None) -> None:
        """What a receiver checks of a proposal before caching it, and a proposer before
        sending it (§12.1): an Update's leaf (§7.3), an Add's KeyPackage (§10.1) and a
        Remove's leaf (non-blank, §12.1.3) against this epoch's tree; the rest waits for the
        commit's list (§12.2). The tree is fixed within an epoch, so a cached proposal stays
        valid on its own until the epoch ends."""
        st = self._st
        if isinstance(proposal, Update):
            validate_member_leaf(
                self.suite,
                self.config.leaf_policy,
                proposal.leaf_node,
                source=LeafNodeSource.UPDATE,
                leaf_index=LeafIndex(sender.index),
                replaced=st.public.tree.leaf(LeafIndex(sender.index)),
                index=st.public.key_index,
                group_id=self.group_id,
                extensions=st.public.context.extensions,
                now=now,
            )
        elif isinstance(proposal, Add):
            validate_added_key_package(
                self.suite,
                self.config.leaf_policy,
                proposal.key_package,
                index=st.public.key_index,
                group_id=self.group_id,
                extensions=st.public.context.extensions,
                now=now,
            )
        elif isinstance(proposal, Remove):
            tree = st.public.tree
            if proposal.removed >= tree.n_leaves or tree.leaf(LeafIndex(proposal.removed)) is None:
                raise InvalidProposalError(
                    f"Remove of leaf {proposal.removed}, which is blank or outside the tree"
                )

    def _receive_proposal(
        self, ac: AuthenticatedContent, proposal: Proposal, now: int | None
    ) -> ProposalReceived:
        """§12.1: verify and cache a proposal by its ref."""
        sender = ac.content.sender
        if sender.sender_type == SenderType.EXTERNAL and proposal.proposal_type not in EXTERNAL_SENDER_TYPES:
            raise CommitterError(f"{proposal.proposal_type.name} may not come from an external sender")
        self._validate_proposal(proposal, sender, now)
        ref = self.suite.proposal_ref(ac.encoded())
        self._st.proposals[ref] = CommittedProposal(proposal, sender, ref)
        return ProposalReceived(ref=ref, proposal=proposal, sender=sender)

    def _resolve(self, commit: Commit, sender: Sender) -> list[CommittedProposal]:
        """The committed proposals: inline ones from the committer, referenced ones from the cache."""
        committed: list[CommittedProposal] = []
        for por in commit.proposals:
            if por.proposal is not None:
                committed.append(CommittedProposal(por.proposal, sender))
            else:
                assert por.reference is not None
                cp = self._st.proposals.get(por.reference)
                if cp is None:
                    raise UnknownProposalError("commit references a proposal this member does not hold")
                committed.append(cp)
        return committed

    def _process_commit(self, ac: AuthenticatedContent, now: int | None) -> CommitApplied:
        """§12.4.2: the public outcome (shared through the EpochCache when there is one), then
        what is private to this member; the state changes only at the very end."""
        st = self._st
        content = ac.content
        commit = content.commit
        assert commit is not None
        sender = content.sender
        if sender.sender_type == SenderType.MEMBER and sender.index == st.leaf:
            raise CommitterError("a commit from this member that it did not stage")
        if sender.sender_type not in (SenderType.MEMBER, SenderType.NEW_MEMBER_COMMIT):
            raise CommitterError(f"a {sender.sender_type.name} sender cannot commit")
        committed = self._resolve(commit, sender)
        tables = tables_of(self.config.epoch_cache)
        # The key determines ac's encoding (wire format, the content's kept bytes — one shared
        # object per decoded message, so hashed once — and the auth data) without re-encoding it.
        outcome = tables.outcomes.get_or_compute(
            (
                st.public.context_bytes,
                ac.wire_format,
                ac.content.encoded(),
                ac.auth.signature,
                ac.auth.confirmation_tag,
            ),
            lambda: commit_outcome(self.suite, self.config.leaf_policy, st.public, ac, committed),
        )
        if now is not None and self.config.leaf_policy.enabled:
            for _, kp in outcome.added:
                lt = kp.leaf_node.lifetime
                if lt is not None and not lt.not_before <= now <= lt.not_after:
                    raise LeafNodeLifetimeError("an added KeyPackage is outside its lifetime (§7.3)")

        new_tree = outcome.public.tree
        removed_me = st.leaf in outcome.removed
        new_leaf_priv: bytes | None = None
        for cp in committed:
            if isinstance(cp.proposal, Update) and cp.sender.index == st.leaf:
                if cp.ref is None or cp.ref not in st.pending_updates:
                    raise CommitterError("commit applies an Update for this member that it did not send")
                new_leaf_priv = st.pending_updates[cp.ref]
        result = CommitApplied(
            epoch=outcome.public.context.epoch,
            committer=sender,
            own=False,
            added=tuple(leaf for leaf, _ in outcome.added),
            removed=outcome.removed,
            updated=outcome.updated,
            removed_me=removed_me,
            reinit=outcome.reinit,
            with_path=commit.path is not None,
        )
        if removed_me:
            self._st = replace(st, active=False, proposals={}, pending_updates={})
            self._pending = None
            return result

        path_keys = st.path_keys if new_leaf_priv is None else st.path_keys.with_leaf_key(new_leaf_priv)
        if commit.path is not None:
            dec = decrypt_update_path(
                self.suite,
                new_tree,
                outcome.committer_leaf,
                commit.path,
                receiver=path_keys,
                exclude=outcome.added_leaves,
                context=outcome.provisional_context,
                shared=self.config.epoch_cache,
            )
            commit_secret, path_keys = dec.commit_secret, dec.path_keys
        else:
            commit_secret = bytes(self.suite.info.hash_len)
            path_keys = path_keys.pruned(new_tree)
        psk_secret = compute_psk_secret(self.suite, resolve_psks(outcome.psk_ids, self.lookup_psk))
        if outcome.external_init is not None:
            init_secret = self.suite.hpke_export_receiver(
                st.secrets.external_key_pair().priv,
                outcome.external_init.kem_output,
                b"",
                EXTERNAL_INIT_LABEL,
                self.suite.info.hash_len,
            )
        else:
            init_secret = st.secrets.init_secret
        new_ctx = outcome.public.context
        secrets = tables.schedules.get_or_compute(
            (init_secret, commit_secret, psk_secret, outcome.public.context_bytes),
            lambda: EpochSecrets.from_init(
                self.suite,
                init_secret=init_secret,
                commit_secret=commit_secret,
                psk_secret=psk_secret,
                group_context=outcome.public.context_bytes,  # new_ctx, encoded once
            ),
        )
        verify_confirmation_tag(
            self.suite, secrets.confirmation_key, outcome.confirmed, outcome.public.confirmation_tag
        )
        self._advance(
            MemberState(
                public=outcome.public,
                leaf=st.leaf,
                identity=st.identity,
                path_keys=path_keys,
                secrets=secrets,
                secret_tree=new_secret_tree(
                    self.suite, secrets.encryption_secret, new_tree.n_leaves, self.config
                ),
                resumption_psks=keep_psks(
                    st.resumption_psks, new_ctx.epoch, secrets.resumption_psk, self.config
                ),
                reinit=outcome.reinit,
                active=outcome.reinit is None,
            )
        )
        return result

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
