"""One light member's state machine (draft-kiefer-mls-light), the light twin of
:class:`~mlssim.mls.group.Group`: join by an AnnotatedWelcome, process AnnotatedCommits and
SenderAuthenticatedMessages, send application messages, and move between the two kinds of member
(§5). A light member cannot commit: :meth:`LightGroup.commit` raises
:class:`~mlssim.mls.light.LightCommitError` (§1, §9).

The same state rules as ``Group``: ``process`` validates completely before changing anything
(a failure leaves the member as it was); after a commit that removes it or carries a ReInit it is
inactive; the last ``keep_past_epochs`` epochs are kept for late application messages.
"""

from __future__ import annotations

from collections.abc import Container
from typing import NoReturn

from .crypto.suite import CipherSuite
from .errors import LocalProtocolError
from .group import Group
from .group_state import (
    ApplicationMessage,
    CommitApplied,
    GroupConfig,
    GroupInfoTreeHashError,
    InactiveGroupError,
    MemberIdentity,
    MemberState,
    ProposalReceived,
    PublicEpoch,
)
from .group_validation import validate_joined_leaves
from .light import LightCommitError, kept_state_bytes
from .light_process import LightState, join_light, process_annotated_commit, receive_light
from .messages.common import GroupContext
from .messages.enums import ContentType, WireFormat
from .messages.framing import FramedContent, MLSMessage, Sender
from .messages.key_package import KeyPackage
from .messages.light import AnnotatedCommit, AnnotatedWelcome, SenderAuthenticatedMessage
from .messages.psk_id import PreSharedKeyID
from .protect import protect_private, sign_content
from .rand import RandomSource
from .ratchet_tree import RatchetTree
from .tree_validation import validate_tree
from .treekem import PathKeys, WelcomePathError
from .treemath import LeafIndex

__all__ = ["LightGroup"]


class LightGroup:
    """One light member of one group: no ratchet tree, O(log N) state (L9)."""

    __slots__ = ("_past", "_st", "config", "suite")

    def __init__(self, suite: CipherSuite, state: LightState, config: GroupConfig) -> None:
        self.suite = suite
        self.config = config
        self._st = state
        self._past: dict[int, LightState] = {}

    # -- views ---------------------------------------------------------------------------------

    @property
    def group_id(self) -> bytes:
        return self._st.context.group_id

    @property
    def epoch(self) -> int:
        return self._st.context.epoch

    @property
    def context(self) -> GroupContext:
        return self._st.context

    @property
    def tree_hash(self) -> bytes:
        return self._st.context.tree_hash

    @property
    def leaf_index(self) -> LeafIndex:
        return self._st.leaf

    @property
    def n_leaves(self) -> int:
        return self._st.n_leaves

    @property
    def active(self) -> bool:
        return self._st.active

    @property
    def epoch_authenticator(self) -> bytes:
        return self._st.secrets.epoch_authenticator

    @property
    def path_keys(self) -> PathKeys:
        return self._st.path_keys

    def export_secret(self, label: bytes | str, context: bytes, length: int) -> bytes:
        """RFC 9420 §8.5 MLS-Exporter."""
        return self._st.secrets.exporter(label, context, length)

    def kept_state(self) -> bytes:
        """L9: the encoding of what this member keeps (``light.kept_state_bytes``)."""
        st = self._st
        return kept_state_bytes(
            st.context, st.interim_transcript_hash, st.confirmation_tag, st.n_leaves, st.path_keys, st.secrets
        )

    def lookup_psk(self, psk_id: PreSharedKeyID) -> bytes | None:
        """This group's resumption PSKs, then the configured lookup (as ``Group.lookup_psk``)."""
        if psk_id.psk_group_id == self.group_id and psk_id.psk_epoch in self._st.resumption_psks:
            return self._st.resumption_psks[psk_id.psk_epoch]
        return None if self.config.psk_lookup is None else self.config.psk_lookup(psk_id)

    # -- joining and changing kind (§8, §5) ------------------------------------------------------

    @classmethod
    def join(
        cls,
        suite: CipherSuite,
        welcome: AnnotatedWelcome,
        *,
        key_package: KeyPackage,
        init_priv: bytes,
        encryption_priv: bytes,
        identity: MemberIdentity,
        config: GroupConfig | None = None,
        current_group_ids: Container[bytes] = (),
    ) -> LightGroup:
        """§8: join from an AnnotatedWelcome (``light_process.join_light``)."""
        cfg = config or GroupConfig()
        st = join_light(
            suite,
            cfg,
            welcome,
            key_package=key_package,
            init_priv=init_priv,
            encryption_priv=encryption_priv,
            identity=identity,
            current_group_ids=current_group_ids,
        )
        return cls(suite, st, cfg)

    @classmethod
    def downgrade(cls, group: Group) -> LightGroup:
        """§5: a full member deletes its tree. Its secret tree (with the ratchets it has used)
        and its cached proposals carry over; nothing of the tree is kept but its size."""
        if group.staged_state is not None:
            raise LightCommitError("discard or merge the staged commit before downgrading")
        if not group.active:
            raise InactiveGroupError("this member is no longer in the group")
        st: MemberState = group._st
        keys = st.path_keys.pruned(st.public.tree)
        leaf_pub = keys.leaf_pub or group.suite.kem_public_key(keys.leaf_priv)
        light = LightState(
            context=st.public.context,
            interim_transcript_hash=st.public.interim_transcript_hash,
            confirmation_tag=st.public.confirmation_tag,
            n_leaves=st.public.tree.n_leaves,
            leaf=st.leaf,
            identity=st.identity,
            path_keys=PathKeys(keys.leaf, keys.leaf_priv, leaf_pub, keys.nodes),
            secrets=st.secrets,
            secret_tree=st.secret_tree,
            proposals=dict(st.proposals),
            resumption_psks=dict(st.resumption_psks),
        )
        return cls(group.suite, light, group.config)

    def upgrade(self, tree: RatchetTree, *, now: int | None = None) -> Group:
        """§5: become a full member with ``tree`` (downloaded), verified first as RFC 9420
        §12.4.3.1 verifies a joiner's tree; then this member's leaf and keys must be the tree's.
        This handle stays as it was; use the returned ``Group`` from now on."""
        self._require_active()
        st = self._st
        ctx = st.context
        validate_tree(tree, ctx.group_id)
        validate_joined_leaves(
            self.suite,
            self.config.leaf_policy,
            tree,
            group_id=ctx.group_id,
            extensions=ctx.extensions,
            now=now,
            signatures_verified=True,
        )
        if tree.tree_hash() != ctx.tree_hash:
            raise GroupInfoTreeHashError("the downloaded tree does not hash to the group's tree_hash (§5)")
        leaf = tree.leaf(st.leaf) if st.leaf < tree.n_leaves else None
        if leaf is None or leaf.encryption_key != st.path_keys.leaf_pub or st.path_keys.mismatches(tree):
            raise WelcomePathError("this member's leaf or path keys are not the downloaded tree's")
        full = MemberState(
            public=PublicEpoch.make(ctx, tree, st.interim_transcript_hash, st.confirmation_tag),
            leaf=st.leaf,
            identity=st.identity,
            path_keys=st.path_keys,
            secrets=st.secrets,
            secret_tree=st.secret_tree,
            proposals=dict(st.proposals),
            resumption_psks=dict(st.resumption_psks),
        )
        return Group(self.suite, full, self.config)

    # -- sending --------------------------------------------------------------------------------

    def _require_active(self) -> None:
        if not self._st.active:
            raise InactiveGroupError("this member is no longer in the group")

    def commit(self, *_args: object, **_kwargs: object) -> NoReturn:
        """§1, §9: a light client cannot commit; :meth:`upgrade` first."""
        raise LightCommitError("a light client cannot commit: upgrade to a full client first (§5)")

    def encrypt_application(
        self, data: bytes, rand: RandomSource, authenticated_data: bytes = b""
    ) -> MLSMessage:
        """RFC 9420 §15: application data as a PrivateMessage (the DS adds this member's proof
        for light receivers, L2)."""
        self._require_active()
        st = self._st
        if st.proposals:
            raise LocalProtocolError(
                "pending proposals must be committed before application data (RFC 9420 §12.4)"
            )
        content = FramedContent(
            group_id=st.context.group_id,
            epoch=st.context.epoch,
            sender=Sender.member(st.leaf),
            authenticated_data=authenticated_data,
            content_type=ContentType.APPLICATION,
            application_data=data,
        )
        ac = sign_content(
            self.suite,
            wire_format=WireFormat.PRIVATE_MESSAGE,
            content=content,
            signature_priv=st.identity.signature_priv,
            context=st.context,
        )
        msg = protect_private(
            self.suite,
            ac,
            secret_tree=st.secret_tree,
            sender_data_secret=st.secrets.sender_data_secret,
            rand=rand,
            padding=self.config.padding,
        )
        return MLSMessage(body=msg)

    # -- receiving ------------------------------------------------------------------------------

    def process(
        self, message: AnnotatedCommit | SenderAuthenticatedMessage, *, now: int | None = None
    ) -> CommitApplied | ApplicationMessage | ProposalReceived:
        """Validate and apply one annotated message; raises, unchanged, on any failure."""
        self._require_active()
        if isinstance(message, SenderAuthenticatedMessage):
            return receive_light(self.suite, self.config, self._st, self._past, message)
        result, state = process_annotated_commit(
            self.suite, self.config, self._st, message, now, self.lookup_psk
        )
        if result.removed_me:
            self._st = state
        else:
            keep = self.config.keep_past_epochs
            if keep > 0:
                self._past[self.epoch] = self._st
                while len(self._past) > keep:
                    del self._past[min(self._past)]
            self._st = state
        return result
