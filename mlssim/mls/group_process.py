"""Receiving a message as one member (RFC 9420 §6, §12.4.2).

What ``Group.process`` does, as functions of the member's state: check the message's group
and epoch, find the sender's signature key (§6.1), verify a PublicMessage or decrypt a
PrivateMessage (a late application message may use a kept past epoch), and process a commit:
its public half (``commit_outcome``, shared through the EpochCache), then what only this member
can do — its own Update's key, its path secret, the key schedule and the confirmation tag.
Nothing here changes the member's state except the secret tree's ratchets of a message that
decrypts and verifies and the proposal cache; the next epoch's state is returned.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from .codec import decode
from .commit_outcome import commit_outcome
from .crypto.suite import CipherSuite
from .errors import LocalProtocolError
from .extensions import find_extension
from .group_proposals import resolve_committed
from .group_state import (
    EXTERNAL_INIT_LABEL,
    CommitApplied,
    CommitOutcome,
    CommitterError,
    GroupConfig,
    MemberState,
    PublicEpoch,
    UnknownSenderError,
    WrongEpochError,
    WrongGroupError,
    keep_psks,
    new_secret_tree,
    next_identity,
)
from .keyschedule import EpochSecrets, verify_confirmation_tag
from .leaf_nodes import LeafNodeLifetimeError
from .messages.credentials import ExternalSenders
from .messages.enums import ContentType, ExtensionType, SenderType
from .messages.framing import (
    AuthenticatedContent,
    FramedContent,
    MLSMessage,
    PrivateMessage,
    PublicMessage,
    Sender,
)
from .messages.key_package import KeyPackage
from .messages.proposals import Add, Update
from .messages.psk_id import PreSharedKeyID
from .proposal_list import CommittedProposal
from .protect import unprotect_private, unprotect_public, verify_content
from .psk import psk_secret as compute_psk_secret
from .psk import resolve_psks
from .sharing import tables_of
from .treekem import decrypt_update_path
from .treemath import LeafIndex

__all__ = [
    "check_epoch",
    "signature_key",
    "verify_public_signature",
    "unprotect_message",
    "process_commit",
    "check_added_lifetimes",
    "own_update_key",
]


def check_epoch(st: MemberState, group_id: bytes, epoch: int) -> None:
    """A handshake message must be for this group and its current epoch."""
    ctx = st.public.context
    if group_id != ctx.group_id:
        raise WrongGroupError("message for another group")
    if epoch != ctx.epoch:
        raise WrongEpochError(f"message for epoch {epoch}, group is in epoch {ctx.epoch}")


def signature_key(st: MemberState, sender: Sender, content: FramedContent) -> bytes:
    """§6.1: the key that signs ``content`` from ``sender`` in this epoch."""
    return _sender_key(st.public, sender, content)


def verify_public_signature(suite: CipherSuite, public: PublicEpoch, message: MLSMessage) -> None:
    """§6.2, what anyone holding a group's public state (its ordering DS) can check of a
    PublicMessage: the group and epoch, the sender's signature key in the tree (§6.1) and the
    signature. Not the membership tag: it needs the epoch's membership key. Raises what a
    member would for the same failures."""
    body = message.body
    if not isinstance(body, PublicMessage):
        raise LocalProtocolError("only a PublicMessage's signature can be checked without the epoch's keys")
    content = body.content
    ctx = public.context
    if content.group_id != ctx.group_id:
        raise WrongGroupError("message for another group")
    if content.epoch != ctx.epoch:
        raise WrongEpochError(f"message for epoch {content.epoch}, group is in epoch {ctx.epoch}")
    verify_content(
        suite,
        body.authenticated_content(),
        signature_pub=_sender_key(public, content.sender, content),
        context=public.context_bytes,
    )


def _sender_key(public: PublicEpoch, sender: Sender, content: FramedContent) -> bytes:
    if sender.sender_type == SenderType.MEMBER:
        tree = public.tree
        leaf = tree.leaf(LeafIndex(sender.index)) if sender.index < tree.n_leaves else None
        if leaf is None:
            raise UnknownSenderError(f"sender leaf {sender.index} is blank or outside the tree")
        return leaf.signature_key
    if sender.sender_type == SenderType.EXTERNAL:
        data = find_extension(public.context.extensions, ExtensionType.EXTERNAL_SENDERS)
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
    if content.content_type != ContentType.COMMIT or content.commit is None or content.commit.path is None:
        raise CommitterError("a new_member_commit sender must send a commit with a path")
    return content.commit.path.leaf_node.signature_key


def unprotect_message(
    suite: CipherSuite,
    cfg: GroupConfig,
    st: MemberState,
    past: Mapping[int, MemberState],
    message: MLSMessage,
) -> AuthenticatedContent:
    """§6.2–§6.3: the verified content of ``message``. A PublicMessage's membership tag and
    signature are checked; a PrivateMessage is decrypted under the current epoch's secret tree,
    or, for a late application message, under a ``past`` epoch's."""
    body = message.body
    if isinstance(body, PublicMessage):
        return _verified_public(suite, cfg, st, body)
    if isinstance(body, PrivateMessage):
        kept = past.get(body.epoch)
        if (
            kept is not None
            and body.group_id == st.public.context.group_id
            and body.content_type == ContentType.APPLICATION
        ):
            st = kept  # a late application message of an epoch whose secret tree we kept
        else:
            check_epoch(st, body.group_id, body.epoch)
        tree = st.public.tree

        def key_of(leaf: int) -> bytes | None:
            node = tree.leaf(LeafIndex(leaf)) if leaf < tree.n_leaves else None
            return None if node is None else node.signature_key

        return unprotect_private(
            suite,
            body,
            secret_tree=st.secret_tree,
            sender_data_secret=st.secrets.sender_data_secret,
            context=st.public.context_bytes,
            signature_key_of=key_of,
            shared=cfg.epoch_cache,
        )
    raise LocalProtocolError(f"{message.wire_format.name} is not processed by a group member")


def _verified_public(
    suite: CipherSuite, cfg: GroupConfig, st: MemberState, body: PublicMessage
) -> AuthenticatedContent:
    content = body.content
    check_epoch(st, content.group_id, content.epoch)
    key = signature_key(st, content.sender, content)
    membership_key = st.secrets.membership_key if content.sender.sender_type == SenderType.MEMBER else None

    # The epoch's encoded GroupContext, the FramedContent bytes, the signature, the confirmation
    # tag, the membership tag, then the receiver's inputs to the two checks (its membership key,
    # or None for a non-member sender, and the sender's signature key). The content's kept bytes
    # are one object per decoded message, so the key is hashed once however many members get it.
    tables_of(cfg.epoch_cache).verified.get_or_compute(
        (
            st.public.context_bytes,
            content.encoded(),
            body.auth.signature,
            body.auth.confirmation_tag,
            body.membership_tag,
            membership_key,
            key,
        ),
        _verify_public,
        suite,
        body,
        st.public.context_bytes,
        membership_key,
        key,
    )
    return body.authenticated_content()


def _verify_public(
    suite: CipherSuite, body: PublicMessage, context: bytes, membership_key: bytes | None, key: bytes
) -> bool:
    """§6.2: the membership tag (a member's message) and the signature verify."""
    unprotect_public(suite, body, context=context, membership_key=membership_key, signature_pub=key)
    return True


def process_commit(
    suite: CipherSuite,
    cfg: GroupConfig,
    st: MemberState,
    ac: AuthenticatedContent,
    now: int | None,
    lookup_psk: Callable[[PreSharedKeyID], bytes | None],
) -> tuple[CommitApplied, MemberState]:
    """§12.4.2: the public outcome (shared through the EpochCache when there is one), then
    what is private to this member. Returns the result and the member's next state: the next
    epoch's, or, if the commit removes it, its current one made inactive. ``st`` is unchanged."""
    commit = ac.content.commit
    assert commit is not None
    sender = ac.content.sender
    if sender.sender_type == SenderType.MEMBER and sender.index == st.leaf:
        raise CommitterError("a commit from this member that it did not stage")
    if sender.sender_type not in (SenderType.MEMBER, SenderType.NEW_MEMBER_COMMIT):
        raise CommitterError(f"a {sender.sender_type.name} sender cannot commit")
    committed = resolve_committed(st, commit, sender)
    # The key determines ac's encoding (wire format, the content's kept bytes — one shared
    # object per decoded message, so hashed once — and the auth data) without re-encoding it.
    outcome = tables_of(cfg.epoch_cache).outcomes.get_or_compute(
        (
            st.public.context_bytes,
            ac.wire_format,
            ac.content.encoded(),
            ac.auth.signature,
            ac.auth.confirmation_tag,
        ),
        commit_outcome,
        suite,
        cfg.leaf_policy,
        st.public,
        ac,
        committed,
    )
    check_added_lifetimes(cfg, outcome.added, now)
    new_leaf_priv = own_update_key(st, committed)
    removed_me = st.leaf in outcome.removed
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
        return result, replace(st, active=False, proposals={}, pending_updates={})
    return result, _next_epoch_state(suite, cfg, st, ac, outcome, new_leaf_priv, lookup_psk)


def check_added_lifetimes(
    cfg: GroupConfig, added: Sequence[tuple[LeafIndex, KeyPackage]], now: int | None
) -> None:
    """§7.3: each added KeyPackage's leaf within its lifetime at ``now`` (a per-member check:
    the shared outcome is computed without a time)."""
    if now is not None and cfg.leaf_policy.enabled:
        for _, kp in added:
            lt = kp.leaf_node.lifetime
            if lt is not None and not lt.not_before <= now <= lt.not_after:
                raise LeafNodeLifetimeError("an added KeyPackage is outside its lifetime (§7.3)")


def own_update_key(st: MemberState, committed: list[CommittedProposal]) -> bytes | None:
    """The private key of this member's own Update the commit applies, if any (§12.4.2)."""
    new_leaf_priv: bytes | None = None
    for cp in committed:
        if isinstance(cp.proposal, Update) and cp.sender.index == st.leaf:
            if cp.ref is None or cp.ref not in st.pending_updates:
                raise CommitterError("commit applies an Update for this member that it did not send")
            new_leaf_priv = st.pending_updates[cp.ref]
    return new_leaf_priv


def _next_epoch_state(
    suite: CipherSuite,
    cfg: GroupConfig,
    st: MemberState,
    ac: AuthenticatedContent,
    outcome: CommitOutcome,
    new_leaf_priv: bytes | None,
    lookup_psk: Callable[[PreSharedKeyID], bytes | None],
) -> MemberState:
    """§12.4.2, the private half: this member's path secret (or none), the PSK and init
    secrets, the key schedule (shared with the members whose every input is the same) and
    the confirmation tag with it; then the member's state in the new epoch."""
    commit = ac.content.commit
    assert commit is not None
    new_tree = outcome.public.tree
    path_keys = st.path_keys if new_leaf_priv is None else st.path_keys.with_leaf_key(new_leaf_priv)
    if commit.path is not None:
        dec = decrypt_update_path(
            suite,
            new_tree,
            outcome.committer_leaf,
            commit.path,
            receiver=path_keys,
            exclude=outcome.added_leaves,
            context=outcome.provisional_context,
            shared=cfg.epoch_cache,
        )
        commit_secret, path_keys = dec.commit_secret, dec.path_keys
    else:
        commit_secret = bytes(suite.info.hash_len)
        path_keys = path_keys.pruned(new_tree)
    psk_secret = compute_psk_secret(suite, resolve_psks(outcome.psk_ids, lookup_psk))
    if outcome.external_init is not None:
        init_secret = suite.hpke_export_receiver(
            st.secrets.external_key_pair().priv,
            outcome.external_init.kem_output,
            b"",
            EXTERNAL_INIT_LABEL,
            suite.info.hash_len,
        )
    else:
        init_secret = st.secrets.init_secret
    secrets = tables_of(cfg.epoch_cache).schedules.get_or_compute(
        (init_secret, commit_secret, psk_secret, outcome.public.context_bytes),
        lambda: EpochSecrets.from_init(
            suite,
            init_secret=init_secret,
            commit_secret=commit_secret,
            psk_secret=psk_secret,
            group_context=outcome.public.context_bytes,  # the new GroupContext, encoded once
        ),
    )
    verify_confirmation_tag(
        suite, secrets.confirmation_key, outcome.confirmed, outcome.public.confirmation_tag
    )
    return MemberState(
        public=outcome.public,
        leaf=st.leaf,
        identity=next_identity(st, new_tree),
        path_keys=path_keys,
        secrets=secrets,
        secret_tree=new_secret_tree(suite, secrets.encryption_secret, new_tree.n_leaves, cfg),
        resumption_psks=keep_psks(
            st.resumption_psks, outcome.public.context.epoch, secrets.resumption_psk, cfg
        ),
        reinit=outcome.reinit,
        active=outcome.reinit is None,
    )
