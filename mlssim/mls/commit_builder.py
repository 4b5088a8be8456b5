"""Building a commit (RFC 9420 §12.4.1, and §12.4.3.2 for an external joiner's commit).

A member's ``Group.commit`` and an external join (``group_join.external_join_states``) run the
same sequence, so it is written once here: validate and apply the proposals, refresh the
committer's path into an UpdatePath, sign the commit, run the new epoch's key schedule,
compute the confirmation tag, protect the message, then sign the GroupInfo, seal the Welcome
and build the committer's next-epoch state. What differs between the two is who commits (a
:class:`Committer`): a member's leaf, old init secret and protection, or an external joiner's
fresh leaf, exported init secret and a PublicMessage without membership tag. The receivers'
side of the same commit is ``commit_outcome``, whose checks of the proposal list this shares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from . import treemath as tm
from .codec import encode
from .commit_outcome import checked_proposals, next_context
from .crypto.suite import CipherSuite
from .errors import LocalProtocolError
from .group_state import (
    GroupConfig,
    MemberIdentity,
    MemberState,
    PublicEpoch,
    StagedCommit,
    fresh_leaf,
    keep_psks,
    make_group_info,
    new_secret_tree,
    sign_leaf,
)
from .keyschedule import EpochSecrets, JoinerStage, confirmation_tag
from .messages.common import GroupContext
from .messages.enums import ContentType, LeafNodeSource, ResumptionPSKUsage, WireFormat
from .messages.framing import (
    AuthenticatedContent,
    FramedContent,
    FramedContentAuthData,
    MLSMessage,
    Sender,
    framed_content_tbs,
)
from .messages.proposals import Commit, ProposalOrRef
from .messages.psk_id import PreSharedKeyID
from .messages.tree import LeafNode
from .messages.welcome import GroupInfo, GroupSecrets, PathSecret
from .proposal_list import AppliedProposals, CommittedProposal, path_required
from .psk import psk_secret as compute_psk_secret
from .psk import resolve_psks
from .rand import RandomSource
from .ratchet_tree import RatchetTree
from .transcript import confirmed_transcript_hash, interim_transcript_hash
from .treekem import PathEncryptor, PathKeys, UpdatePathResult, create_update_path
from .treemath import LeafIndex
from .welcome import seal_welcome

__all__ = [
    "Committer",
    "CommitFraming",
    "RFC9420_FRAMING",
    "SignedCommit",
    "build_commit",
    "schedule",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Committer:
    """Who commits, and what of theirs the commit needs."""

    identity: MemberIdentity
    #: the committer's leaf; ``None`` for an external joiner, which takes the leftmost blank leaf
    leaf: LeafIndex | None
    #: kept (pruned to the new tree) by a commit without an UpdatePath
    path_keys: PathKeys | None
    #: the old epoch's init secret, or an external joiner's exported one (§8.3)
    init_secret: bytes
    #: resumption PSKs carried into the new epoch (§8.6)
    resumption_psks: dict[int, bytes]
    psk_lookup: Callable[[PreSharedKeyID], bytes | None]
    wire_format: WireFormat
    #: turns the signed commit into the message sent (PublicMessage or PrivateMessage)
    protect: Callable[[AuthenticatedContent], MLSMessage]
    #: a new signature key for the path's leaf (§12.1.2, §7.3: a member may rotate it); the
    #: commit itself is still signed with the old one, which the receivers know (§6.1)
    next_identity: MemberIdentity | None = None

    @property
    def leaf_identity(self) -> MemberIdentity:
        """Who the committer is in the new epoch: its path leaf, GroupInfo and next state."""
        return self.next_identity or self.identity


@dataclass(frozen=True, slots=True)
class SignedCommit:
    """A signed commit and the new epoch it makes."""

    ac: AuthenticatedContent
    public: PublicEpoch
    secrets: EpochSecrets
    psk_secret: bytes


class CommitFraming(Protocol):
    """How a commit is framed, hashed into the transcript and sent: RFC 9420's
    (:data:`RFC9420_FRAMING`), or an extension's (``split_commit.SPLIT_FRAMING``). The
    proposals, the tree and the path secrets are built the same way for every framing."""

    #: how each path secret is sealed (``None``: RFC 9420's HPKE to every resolution node)
    path_encryptor: PathEncryptor | None

    def path_context(self, old: GroupContext, provisional: GroupContext) -> bytes:
        """The context the path secrets are encrypted to."""
        ...

    def sign_and_schedule(
        self,
        suite: CipherSuite,
        old: PublicEpoch,
        new_tree: RatchetTree,
        applied: AppliedProposals,
        committer: Committer,
        proposals: tuple[ProposalOrRef, ...],
        path: UpdatePathResult | None,
        sender: Sender,
        authenticated_data: bytes,
    ) -> SignedCommit:
        """Sign the content, extend the transcript and run the new epoch's key schedule."""
        ...

    def message(self, protected: MLSMessage, path: UpdatePathResult | None) -> MLSMessage:
        """What the committer sends, from its protected content."""
        ...


def build_commit(
    suite: CipherSuite,
    cfg: GroupConfig,
    old: PublicEpoch,
    committer: Committer,
    committed: list[CommittedProposal],
    *,
    with_path: bool,
    rand: RandomSource,
    authenticated_data: bytes = b"",
    now: int | None = None,
    resumption_usage: ResumptionPSKUsage | None = None,
    framing: CommitFraming | None = None,
) -> StagedCommit:
    """§12.4.1: a commit of ``committed`` against ``old``, staged (the committer's state does
    not change until it merges). Raises what a receiver would for an invalid proposal list,
    and :class:`LocalProtocolError` for a list that needs an UpdatePath without ``with_path``.
    ``framing`` defaults to RFC 9420's."""
    framing = framing or RFC9420_FRAMING
    applied, _ = checked_proposals(
        suite,
        cfg.leaf_policy,
        old,
        committed,
        committer=committer.leaf,
        now=now,
        resumption_usage=resumption_usage,
    )
    if path_required(committed) and not with_path:
        raise LocalProtocolError("these proposals require an UpdatePath (§12.4)")
    if committer.next_identity is not None and not with_path:
        raise LocalProtocolError("a new signature key travels in the UpdatePath's leaf (§12.4.1)")
    leaf = committer.leaf
    if leaf is None:  # a placeholder holds the joiner's leaf until the path's leaf replaces it
        leaf = applied.editor.add_leaf(fresh_leaf(suite, committer.identity, rand)[1])
    path = (
        _update_path(suite, applied, old.context, leaf, committer.leaf_identity, rand, framing)
        if with_path
        else None
    )
    new_tree = applied.editor.freeze()
    proposals = tuple(
        ProposalOrRef(reference=cp.ref) if cp.ref is not None else ProposalOrRef(proposal=cp.proposal)
        for cp in committed
    )
    sender = Sender.member(leaf) if committer.leaf is not None else Sender.new_member_commit()
    signed = framing.sign_and_schedule(
        suite, old, new_tree, applied, committer, proposals, path, sender, authenticated_data
    )
    message = framing.message(committer.protect(signed.ac), path)
    group_info = _group_info(suite, cfg, signed, leaf, committer, with_tree=False)
    welcome = _welcome(suite, cfg, signed, applied, leaf, committer, path, group_info, rand)
    if path is not None:
        path_keys = path.path_keys
    else:
        assert committer.path_keys is not None
        path_keys = committer.path_keys.pruned(new_tree)
    epoch = signed.public.context.epoch
    new_state = MemberState(
        public=signed.public,
        leaf=leaf,
        identity=committer.leaf_identity,
        path_keys=path_keys,
        secrets=signed.secrets,
        secret_tree=new_secret_tree(suite, signed.secrets.encryption_secret, new_tree.n_leaves, cfg),
        resumption_psks=keep_psks(committer.resumption_psks, epoch, signed.secrets.resumption_psk, cfg),
        reinit=applied.reinit,
        active=applied.reinit is None,
    )
    return StagedCommit(
        message=message,
        welcome=welcome,
        group_info=MLSMessage(body=group_info),
        epoch=epoch,
        added=tuple(new for new, _ in applied.added) if committer.leaf is not None else (leaf,),
        removed=tuple(applied.removed),
        updated=tuple(applied.updated),
        with_path=with_path,
        authenticated_content=signed.ac,
        _state=new_state,
    )


def _update_path(
    suite: CipherSuite,
    applied: AppliedProposals,
    old: GroupContext,
    leaf: LeafIndex,
    identity: MemberIdentity,
    rand: RandomSource,
    framing: CommitFraming,
) -> UpdatePathResult:
    """§12.4.1: the committer's fresh path in ``applied.editor``, encrypted (for all but the
    added leaves) to the framing's context: RFC 9420's is the provisional GroupContext (new
    tree hash, old confirmed transcript hash)."""
    extensions = applied.extensions

    def context_for(tree_hash: bytes) -> bytes:
        return framing.path_context(
            old, next_context(old, tree_hash, old.confirmed_transcript_hash, extensions)
        )

    def make_leaf(encryption_key: bytes, parent_hash: bytes) -> LeafNode:
        return sign_leaf(
            suite,
            identity,
            encryption_key=encryption_key,
            source=LeafNodeSource.COMMIT,
            parent_hash=parent_hash,
            group_id=old.group_id,
            leaf_index=leaf,
        )

    return create_update_path(
        suite,
        applied.editor,
        leaf,
        make_leaf=make_leaf,
        exclude=frozenset(int(new) for new, _ in applied.added),
        context_for=context_for,
        rand=rand,
        encrypt=framing.path_encryptor,
    )


class _RFC9420Framing:
    """RFC 9420 §12.4.1: a Commit content, its transcript hash and confirmation tag."""

    path_encryptor: PathEncryptor | None = None

    def path_context(self, old: GroupContext, provisional: GroupContext) -> bytes:
        return encode(provisional)

    def sign_and_schedule(
        self,
        suite: CipherSuite,
        old: PublicEpoch,
        new_tree: RatchetTree,
        applied: AppliedProposals,
        committer: Committer,
        proposals: tuple[ProposalOrRef, ...],
        path: UpdatePathResult | None,
        sender: Sender,
        authenticated_data: bytes,
    ) -> SignedCommit:
        """§12.4.1 from the signature on: sign the commit, extend the transcript, run the new
        epoch's key schedule (§8) and add the confirmation tag (§8.1)."""
        old_ctx = old.context
        commit = Commit(proposals=proposals, path=None if path is None else path.update_path)
        content = FramedContent(
            group_id=old_ctx.group_id,
            epoch=old_ctx.epoch,
            sender=sender,
            authenticated_data=authenticated_data,
            content_type=ContentType.COMMIT,
            commit=commit,
        )
        wire_format = committer.wire_format
        tbs = framed_content_tbs(wire_format, content, old_ctx)
        signature = suite.sign_with_label(committer.identity.signature_priv, "FramedContentTBS", tbs)
        confirmed = confirmed_transcript_hash(
            suite, old.interim_transcript_hash, wire_format, content.encoded(), signature
        )
        new_ctx = next_context(old_ctx, new_tree.tree_hash(), confirmed, applied.extensions)
        secrets, psk_secret = schedule(suite, committer, applied, path, new_ctx)
        tag = confirmation_tag(suite, secrets.confirmation_key, confirmed)
        ac = AuthenticatedContent(
            wire_format=wire_format,
            content=content,
            auth=FramedContentAuthData(signature=signature, confirmation_tag=tag),
        )
        public = PublicEpoch.make(new_ctx, new_tree, interim_transcript_hash(suite, confirmed, tag), tag)
        return SignedCommit(ac, public, secrets, psk_secret)

    def message(self, protected: MLSMessage, path: UpdatePathResult | None) -> MLSMessage:
        return protected


#: RFC 9420's commit framing, the default of :func:`build_commit`
RFC9420_FRAMING: CommitFraming = _RFC9420Framing()


def schedule(
    suite: CipherSuite,
    committer: Committer,
    applied: AppliedProposals,
    path: UpdatePathResult | None,
    new_ctx: GroupContext,
) -> tuple[EpochSecrets, bytes]:
    """§8: the new epoch's secrets from the committer's init secret, the path's commit secret
    and the PSKs; returns them and the PSK secret (the Welcome's joiners need it)."""
    psk_secret = compute_psk_secret(suite, resolve_psks(applied.psk_ids, committer.psk_lookup))
    secrets = EpochSecrets.from_init(
        suite,
        init_secret=committer.init_secret,
        commit_secret=path.commit_secret if path is not None else bytes(suite.info.hash_len),
        psk_secret=psk_secret,
        group_context=new_ctx,
    )
    return secrets, psk_secret


def _group_info(
    suite: CipherSuite,
    cfg: GroupConfig,
    signed: SignedCommit,
    leaf: LeafIndex,
    committer: Committer,
    *,
    with_tree: bool,
) -> GroupInfo:
    return make_group_info(
        suite,
        signed.public,
        signed.secrets,
        leaf,
        committer.leaf_identity.signature_priv,  # verified against the new tree's leaf
        with_tree=with_tree,
        external_pub=cfg.external_pub_in_group_info,
    )


def _welcome(
    suite: CipherSuite,
    cfg: GroupConfig,
    signed: SignedCommit,
    applied: AppliedProposals,
    leaf: LeafIndex,
    committer: Committer,
    path: UpdatePathResult | None,
    group_info: GroupInfo,
    rand: RandomSource,
) -> MLSMessage | None:
    """§12.4.3.1: the Welcome of the commit's new members, if any: each gets the joiner secret,
    the path secret of its lowest common ancestor with the committer, and the PSK ids."""
    if not applied.added:
        return None
    gi = (
        _group_info(suite, cfg, signed, leaf, committer, with_tree=True)
        if cfg.ratchet_tree_in_welcome
        else group_info
    )
    joiner_secret = signed.secrets.joiner_secret
    path_secrets = {int(k): v for k, v in path.path_secrets.items()} if path is not None else {}
    recipients = []
    my_node = tm.leaf_to_node(leaf)
    for new, kp in applied.added:
        ps = None
        if path is not None:
            lca = tm.common_ancestor(my_node, tm.leaf_to_node(new))
            ps = PathSecret(path_secret=path_secrets[lca])
        recipients.append(
            (kp, GroupSecrets(joiner_secret=joiner_secret, path_secret=ps, psks=tuple(applied.psk_ids)))
        )
    joiner = JoinerStage.start(suite, joiner_secret=joiner_secret, psk_secret=signed.psk_secret)
    return MLSMessage(
        body=seal_welcome(suite, joiner=joiner, group_info=gi, recipients=recipients, rand=rand)
    )
