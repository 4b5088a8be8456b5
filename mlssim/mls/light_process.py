"""A light member's processing (draft-kiefer-mls-light §7, §8, §10), as functions of its state
:class:`LightState`: joining by an AnnotatedWelcome, processing an AnnotatedCommit, unprotecting
a SenderAuthenticatedMessage. The choices L1–L10 are ``light``'s.

The order is RFC 9420 §12.4.2's with the draft's replacements: the proofs first (§10 steps 1
and 2), then the message's signature under the sender proof's key; the proposals are not
validated and only PreSharedKey, GroupContextExtensions, ExternalInit and ReInit change the
light state; no tree is built; the path secret is decrypted at the index the annotation gives
and derived up the receiver's after-proof; the new GroupContext takes ``tree_hash_after``, which
the confirmation tag then authenticates. Nothing here changes ``st`` except the secret tree's
ratchets of a message that verifies and the proposal cache; the next state is returned.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field, replace

from .codec import encode
from .commit_outcome import next_context
from .crypto.suite import CipherSuite, KeyPair
from .errors import CryptoError, LocalProtocolError
from .group_state import (
    EXTERNAL_INIT_LABEL,
    ApplicationMessage,
    CommitApplied,
    CommitterError,
    DuplicateGroupIdError,
    GroupConfig,
    MemberIdentity,
    ProposalReceived,
    UnknownProposalError,
    WrongEpochError,
    WrongGroupError,
    keep_psks,
    new_secret_tree,
)
from .keyschedule import EpochSecrets, verify_confirmation_tag
from .leaf_nodes import LeafNodeSourceError, verify_leaf_node_signature
from .light import (
    AnnotationError,
    InvalidMembershipProofError,
    LightBehindError,
    SenderProofError,
    check_proof,
    rule_error,
    same_tree,
)
from .messages.common import GroupContext
from .messages.enums import ContentType, LeafNodeSource, PSKType, ResumptionPSKUsage, SenderType
from .messages.framing import AuthenticatedContent, PrivateMessage, PublicMessage
from .messages.key_package import KeyPackage
from .messages.light import AnnotatedCommit, AnnotatedWelcome, MembershipProof, SenderAuthenticatedMessage
from .messages.proposals import (
    Commit,
    ExternalInit,
    GroupContextExtensions,
    PreSharedKey,
    ReInit,
    Remove,
    Update,
)
from .messages.psk_id import PreSharedKeyID
from .messages.tree import LeafNode
from .proposal_list import CommittedProposal
from .protect import unprotect_private, unprotect_public
from .psk import chained_lookup, resolve_psks
from .psk import psk_secret as compute_psk_secret
from .ratchet_tree import ParentHashMismatchError, UpdatePathShapeError, parent_hash_of
from .secret_tree import SecretTree
from .transcript import confirmed_transcript_hash, interim_transcript_hash
from .treekem import (
    UPDATE_PATH_LABEL,
    PathKeyMismatchError,
    PathKeys,
    PathSecretDecryptionError,
    PathSecretUnavailableError,
    WelcomePathError,
    next_path_secret,
    node_key_pair,
    path_chain,
)
from .treemath import LeafIndex, NodeIndex, common_ancestor, level
from .welcome import open_welcome, verify_group_info

__all__ = [
    "LightState",
    "ancestor",
    "held_node",
    "join_light",
    "process_annotated_commit",
    "unprotect_light",
    "receive_light",
]


@dataclass(slots=True)
class LightState:
    """Everything a light member knows in one epoch: no tree, only its size (for the secret
    tree), and its private keys on its own direct path (draft §2 "Light client")."""

    context: GroupContext
    interim_transcript_hash: bytes
    confirmation_tag: bytes
    n_leaves: int
    leaf: LeafIndex
    identity: MemberIdentity
    path_keys: PathKeys
    secrets: EpochSecrets
    secret_tree: SecretTree
    proposals: dict[bytes, CommittedProposal] = field(default_factory=dict)
    resumption_psks: dict[int, bytes] = field(default_factory=dict)
    active: bool = True
    reinit: ReInit | None = None


def ancestor(leaf: int, k: int) -> NodeIndex:
    """The node ``k`` levels above ``leaf`` (``k = 0``: the leaf's node)."""
    return NodeIndex(((leaf >> k) << (k + 1)) | ((1 << k) - 1))


def held_node(keys: PathKeys, proof: MembershipProof, below: int) -> tuple[NodeIndex, bytes]:
    """L3: the node of the receiver's direct path whose key opens the ciphertext sent to the
    copath child under level ``below``: the first non-blank node going down from there, or the
    leaf when the receiver is one of that node's unmerged leaves. Its private key must belong to
    the public key the after-proof shows."""
    me = keys.leaf
    for k in range(below - 1, -1, -1):
        node = proof.direct_path_nodes[k]
        if node is None:
            continue
        if k > 0 and me not in node.unmerged_leaves:  # type: ignore[union-attr]
            kp = keys.nodes.get(ancestor(me, k))
            if kp is None or kp.pub != node.encryption_key:
                raise PathSecretUnavailableError(f"leaf {me} holds no key for node {ancestor(me, k)}")
            return ancestor(me, k), kp.priv
        break
    leaf = proof.leaf
    if leaf is None or leaf.encryption_key != keys.leaf_pub:
        raise AnnotationError("receiver_membership_proof_after does not hold this member's leaf")
    return ancestor(me, 0), keys.leaf_priv


# ---- joining (§8) --------------------------------------------------------------------------------


def join_light(
    suite: CipherSuite,
    cfg: GroupConfig,
    aw: AnnotatedWelcome,
    *,
    key_package: KeyPackage,
    init_priv: bytes,
    encryption_priv: bytes,
    identity: MemberIdentity,
    current_group_ids: Container[bytes] = (),
) -> LightState:
    """§8: join from an AnnotatedWelcome, with RFC 9420 §12.4.3.1's steps as the draft modifies
    them (no tree: its integrity check becomes the proofs' root against the GroupInfo)."""
    sp, jp = aw.sender_membership_proof, aw.joiner_membership_proof
    root = same_tree(suite, sp, jp, "8", "§8 step 1: sender_membership_proof and joiner_membership_proof")
    opened = open_welcome(
        suite,
        aw.welcome,
        key_package=key_package,
        init_priv=init_priv,
        psk_lookup=chained_lookup(None, cfg.psk_lookup),
    )
    gi = opened.group_info
    ctx = gi.group_context
    if ctx.cipher_suite != key_package.cipher_suite:
        raise CommitterError("GroupInfo cipher suite differs from the KeyPackage's")
    if ctx.group_id in current_group_ids:
        raise DuplicateGroupIdError(f"already participating in a group with group_id {ctx.group_id!r}")
    if any(
        p.psktype == PSKType.RESUMPTION and p.usage in (ResumptionPSKUsage.REINIT, ResumptionPSKUsage.BRANCH)
        for p in opened.group_secrets.psks
    ):
        raise LocalProtocolError("a light client does not join a reinitialised or branched group (L10)")
    signer = sp.leaf
    if gi.signer != sp.leaf_index or signer is None:
        raise rule_error(
            SenderProofError, "8", "§8 step 2: the GroupInfo signer MUST equal the sender proof's leaf_index"
        )
    verify_leaf_node_signature(suite, signer, group_id=ctx.group_id, leaf_index=sp.leaf_index)
    verify_group_info(suite, gi, signer.signature_key)
    if ctx.tree_hash != root:
        raise rule_error(
            InvalidMembershipProofError,
            "8",
            "§8 step 2: the GroupInfo's tree_hash differs from the root the membership proofs produce",
        )
    me = LeafIndex(jp.leaf_index)
    if jp.leaf != key_package.leaf_node:
        raise rule_error(
            AnnotationError, "8", "§8 step 2: joiner_membership_proof's leaf is not this KeyPackage's"
        )
    leaf_pub = suite.kem_public_key(encryption_priv)
    if leaf_pub != key_package.leaf_node.encryption_key:
        raise WelcomePathError("my private key does not belong to my leaf's encryption key")
    keys = PathKeys.for_leaf(me, encryption_priv, leaf_pub)
    path_secret = opened.group_secrets.path_secret
    if path_secret is not None:
        if gi.signer == me:
            raise WelcomePathError("a path secret without a committer other than me")
        top = jp.n_leaves.bit_length() - 1
        h = level(common_ancestor(2 * me, 2 * gi.signer))
        if h > top or jp.parent(h) is None:
            raise WelcomePathError("the common ancestor with the committer is blank in the joiner proof")
        new: dict[NodeIndex, KeyPair] = {}
        secret = path_secret.path_secret
        for k in range(h, top + 1):
            node = jp.parent(k)
            if node is None:
                continue
            kp = node_key_pair(suite, secret)
            if kp.pub != node.encryption_key:
                raise WelcomePathError(f"key derived for node {ancestor(me, k)} is not the joiner proof's")
            new[ancestor(me, k)] = kp
            secret = next_path_secret(suite, secret)
        keys = keys.with_nodes(new)
    secrets = opened.joiner.epoch_secrets(ctx)
    verify_confirmation_tag(
        suite, secrets.confirmation_key, ctx.confirmed_transcript_hash, gi.confirmation_tag
    )
    st = LightState(
        context=ctx,
        interim_transcript_hash=interim_transcript_hash(
            suite, ctx.confirmed_transcript_hash, gi.confirmation_tag
        ),
        confirmation_tag=gi.confirmation_tag,
        n_leaves=jp.n_leaves,
        leaf=me,
        identity=identity,
        path_keys=keys,
        secrets=secrets,
        secret_tree=new_secret_tree(suite, secrets.encryption_secret, jp.n_leaves, cfg),
    )
    st.resumption_psks[ctx.epoch] = secrets.resumption_psk
    return st


# ---- sender-authenticated messages (§7, §11) -----------------------------------------------------


def _check_epoch(st: LightState, group_id: bytes, epoch: int) -> None:
    if group_id != st.context.group_id:
        raise WrongGroupError("message for another group")
    if epoch > st.context.epoch:
        raise LightBehindError(f"message for epoch {epoch}, this light member is in epoch {st.context.epoch}")
    if epoch != st.context.epoch:
        raise WrongEpochError(f"message for epoch {epoch}, group is in epoch {st.context.epoch}")


def _sender_key(proof: MembershipProof | None, leaf: int, section: str) -> bytes:
    """The sender's signature key from its proof (§7), which must name the sender's leaf."""
    if proof is None:
        raise rule_error(SenderProofError, section, "a member's message needs its sender_membership_proof")
    if proof.leaf_index != leaf or proof.leaf is None:
        raise rule_error(
            SenderProofError,
            section,
            f"the sender is leaf {leaf}, its membership proof names {proof.leaf_index}",
        )
    return proof.leaf.signature_key


def _unprotect(
    suite: CipherSuite,
    cfg: GroupConfig,
    st: LightState,
    body: PublicMessage | PrivateMessage,
    proof: MembershipProof | None,
    section: str,
) -> AuthenticatedContent:
    """RFC 9420 §6.2–§6.3 with the signature key of a member sender taken from ``proof`` (the
    caller checked the proof against this epoch's tree hash)."""
    if isinstance(body, PublicMessage):
        content = body.content
        sender = content.sender
        if sender.sender_type == SenderType.MEMBER:
            key = _sender_key(proof, sender.index, section)
            membership_key: bytes | None = st.secrets.membership_key
        elif sender.sender_type == SenderType.NEW_MEMBER_COMMIT and content.commit is not None:
            if proof is not None:
                raise rule_error(
                    SenderProofError, "10", "a new member's commit MUST come without sender_membership_proof"
                )
            if content.commit.path is None:
                raise CommitterError("a new_member_commit sender must send a commit with a path")
            key, membership_key = content.commit.path.leaf_node.signature_key, None
        else:
            raise CommitterError(f"a light member accepts no {sender.sender_type.name} sender (L6)")
        return unprotect_public(
            suite, body, context=encode(st.context), membership_key=membership_key, signature_pub=key
        )
    return unprotect_private(
        suite,
        body,
        secret_tree=st.secret_tree,
        sender_data_secret=st.secrets.sender_data_secret,
        context=encode(st.context),
        signature_key_of=lambda leaf: _sender_key(proof, leaf, section),
    )


def unprotect_light(
    suite: CipherSuite,
    cfg: GroupConfig,
    st: LightState,
    past: Mapping[int, LightState],
    sam: SenderAuthenticatedMessage,
) -> AuthenticatedContent:
    """§7: check the sender proof against the tree hash of the message's epoch, then verify or
    decrypt with the key it holds (a late application message may use a kept past epoch)."""
    body = sam.message.body
    if isinstance(body, PublicMessage):
        group_id, epoch, ct = body.content.group_id, body.content.epoch, body.content.content_type
    elif isinstance(body, PrivateMessage):
        group_id, epoch, ct = body.group_id, body.epoch, body.content_type
    else:
        raise LocalProtocolError(f"{sam.message.wire_format.name} is not sender-authenticated for a member")
    kept = past.get(epoch)
    if kept is not None and group_id == st.context.group_id and ct == ContentType.APPLICATION:
        st = kept
    else:
        _check_epoch(st, group_id, epoch)
    check_proof(suite, sam.sender_membership_proof, st.context.tree_hash, "7", "§7: sender_membership_proof")
    return _unprotect(suite, cfg, st, body, sam.sender_membership_proof, "7")


def receive_light(
    suite: CipherSuite,
    cfg: GroupConfig,
    st: LightState,
    past: Mapping[int, LightState],
    sam: SenderAuthenticatedMessage,
) -> ApplicationMessage | ProposalReceived:
    """§11 and L6: an application message, or a proposal cached by its ProposalRef."""
    ac = unprotect_light(suite, cfg, st, past, sam)
    content = ac.content
    if content.content_type == ContentType.APPLICATION:
        return ApplicationMessage(
            sender=LeafIndex(content.sender.index),
            data=content.application_data,
            authenticated_data=content.authenticated_data,
            epoch=content.epoch,
        )
    if content.content_type == ContentType.PROPOSAL and content.proposal is not None:
        ref = suite.proposal_ref(ac.encoded())
        st.proposals[ref] = CommittedProposal(content.proposal, content.sender, ref)
        return ProposalReceived(ref=ref, proposal=content.proposal, sender=content.sender)
    raise rule_error(AnnotationError, "10", "a commit reaches a light member as an AnnotatedCommit")


# ---- annotated commits (§10) ---------------------------------------------------------------------


def _committed(st: LightState, commit: Commit, ac: AuthenticatedContent) -> list[CommittedProposal]:
    out: list[CommittedProposal] = []
    for por in commit.proposals:
        if por.proposal is not None:
            out.append(CommittedProposal(por.proposal, ac.content.sender))
        else:
            assert por.reference is not None
            cp = st.proposals.get(por.reference)
            if cp is None:
                raise UnknownProposalError("commit references a proposal this member does not hold")
            out.append(cp)
    return out


def process_annotated_commit(
    suite: CipherSuite,
    cfg: GroupConfig,
    st: LightState,
    ann: AnnotatedCommit,
    now: int | None,
    lookup_psk: Callable[[PreSharedKeyID], bytes | None],
) -> tuple[CommitApplied, LightState]:
    """§10: steps 1–3. Returns the result and the next state (the current one made inactive if
    the commit removes this member); ``st`` is unchanged, and any failure raises."""
    body = ann.commit.body
    if not isinstance(body, PublicMessage | PrivateMessage):
        raise rule_error(AnnotationError, "10", "the commit field holds a PublicMessage or PrivateMessage")
    if isinstance(body, PublicMessage):
        _check_epoch(st, body.content.group_id, body.content.epoch)
    else:
        _check_epoch(st, body.group_id, body.epoch)
    if ann.sender_membership_proof is not None:  # step 1
        check_proof(
            suite,
            ann.sender_membership_proof,
            st.context.tree_hash,
            "10",
            "§10 step 1: sender_membership_proof",
        )
    s_after, r_after = ann.sender_membership_proof_after, ann.receiver_membership_proof_after
    root = same_tree(suite, s_after, r_after, "10", "§10 step 2: the two after-proofs")  # step 2
    check_proof(
        suite, s_after, ann.tree_hash_after, "10", f"§10 step 2: after-proofs (root {root.hex()[:16]})"
    )
    ac = _unprotect(suite, cfg, st, body, ann.sender_membership_proof, "10")  # step 3
    content, commit = ac.content, ac.content.commit
    if content.content_type != ContentType.COMMIT or commit is None:
        raise rule_error(AnnotationError, "10", "an AnnotatedCommit carries a commit")
    sender = content.sender
    if sender.sender_type == SenderType.MEMBER:
        if sender.index == st.leaf:
            raise CommitterError("a light member never commits (§1): this commit is not its own")
        if s_after.leaf_index != sender.index:
            raise rule_error(
                SenderProofError, "10", "sender_membership_proof_after names another leaf than the sender"
            )
    committer = LeafIndex(s_after.leaf_index)
    committed = _committed(st, commit, ac)
    removed = tuple(LeafIndex(cp.proposal.removed) for cp in committed if isinstance(cp.proposal, Remove))
    if any(isinstance(cp.proposal, Update) and cp.sender.index == st.leaf for cp in committed):
        raise CommitterError("commit applies an Update for this member that it did not send (L6)")
    if (commit.path is None) != (ann.resolution_index is None):
        raise rule_error(AnnotationError, "10", "resolution_index MUST be included iff the Commit has a path")
    result = CommitApplied(
        epoch=st.context.epoch + 1,
        committer=sender,
        own=False,
        added=(),  # L9: a light member does not learn the new leaves' indices
        removed=removed,
        updated=tuple(LeafIndex(cp.sender.index) for cp in committed if isinstance(cp.proposal, Update)),
        removed_me=st.leaf in removed,
        with_path=commit.path is not None,
    )
    if result.removed_me:  # L4
        return result, replace(st, active=False, proposals={})
    if r_after.leaf_index != st.leaf:
        raise rule_error(
            AnnotationError, "10", "receiver_membership_proof_after names another leaf than this member"
        )
    extensions = st.context.extensions
    psk_ids: list[PreSharedKeyID] = []
    external_init: ExternalInit | None = None
    reinit: ReInit | None = None
    for cp in committed:  # §10 step 3: only the proposals that do not modify the tree
        p = cp.proposal
        if isinstance(p, GroupContextExtensions):
            extensions = p.extensions
        elif isinstance(p, PreSharedKey):
            psk_ids.append(p.psk)
        elif isinstance(p, ExternalInit):
            external_init = p
        elif isinstance(p, ReInit):
            reinit = p
    old = st.context
    commit_secret = bytes(suite.info.hash_len)
    keys = _kept_keys(st.path_keys, r_after)
    if commit.path is not None:
        assert ann.resolution_index is not None
        provisional = next_context(old, ann.tree_hash_after, old.confirmed_transcript_hash, extensions)
        new, commit_secret = _path(
            suite, st, commit.path.leaf_node, commit, ann, committer, encode(provisional)
        )
        keys = keys.with_nodes(new)
    confirmed = confirmed_transcript_hash(
        suite, st.interim_transcript_hash, ac.wire_format, content.encoded(), ac.auth.signature
    )
    new_ctx = next_context(old, ann.tree_hash_after, confirmed, extensions)
    if external_init is not None:
        init_secret = suite.hpke_export_receiver(
            st.secrets.external_key_pair().priv,
            external_init.kem_output,
            b"",
            EXTERNAL_INIT_LABEL,
            suite.info.hash_len,
        )
    else:
        init_secret = st.secrets.init_secret
    secrets = EpochSecrets.from_init(
        suite,
        init_secret=init_secret,
        commit_secret=commit_secret,
        psk_secret=compute_psk_secret(suite, resolve_psks(tuple(psk_ids), lookup_psk)),
        group_context=new_ctx,
    )
    # tree_hash_after is in new_ctx: a wrong one fails here (draft §10: "authenticated by the
    # confirmation_tag")
    tag = ac.auth.confirmation_tag or b""
    verify_confirmation_tag(suite, secrets.confirmation_key, confirmed, tag)
    nxt = LightState(
        context=new_ctx,
        interim_transcript_hash=interim_transcript_hash(suite, confirmed, tag),
        confirmation_tag=tag,
        n_leaves=r_after.n_leaves,
        leaf=st.leaf,
        identity=st.identity,
        path_keys=keys,
        secrets=secrets,
        secret_tree=new_secret_tree(suite, secrets.encryption_secret, r_after.n_leaves, cfg),
        resumption_psks=keep_psks(st.resumption_psks, new_ctx.epoch, secrets.resumption_psk, cfg),
        active=reinit is None,
        reinit=reinit,
    )
    return replace(result, reinit=reinit), nxt


def _kept_keys(keys: PathKeys, proof: MembershipProof) -> PathKeys:
    """The node keys the after-tree still holds (RFC 9420 §7.5's deletion), by the proof."""
    top = proof.n_leaves.bit_length() - 1
    keep: dict[NodeIndex, KeyPair] = {}
    for x, kp in keys.nodes.items():
        k = level(x)
        node = proof.parent(k) if 0 < k <= top else None
        if node is not None and ancestor(keys.leaf, k) == x and node.encryption_key == kp.pub:
            keep[x] = kp
    return PathKeys(keys.leaf, keys.leaf_priv, keys.leaf_pub, keep)


def _path(
    suite: CipherSuite,
    st: LightState,
    leaf_node: LeafNode,
    commit: Commit,
    ann: AnnotatedCommit,
    committer: LeafIndex,
    provisional: bytes,
) -> tuple[dict[NodeIndex, KeyPair], bytes]:
    """§10 step 3's path steps with L7's checks: the committer's new leaf and path from its
    after-proof, the ciphertext at (LCA's index among its non-blank nodes, resolution_index),
    the key of L3, then derivation up the receiver's after-proof. Returns the new node keys and
    the commit secret."""
    assert commit.path is not None and ann.resolution_index is not None
    s_after, r_after = ann.sender_membership_proof_after, ann.receiver_membership_proof_after
    if leaf_node.leaf_node_source != LeafNodeSource.COMMIT:
        raise LeafNodeSourceError("an UpdatePath's leaf has source commit (RFC 9420 §7.3)")
    verify_leaf_node_signature(suite, leaf_node, group_id=st.context.group_id, leaf_index=committer)
    if s_after.leaf != leaf_node:
        raise rule_error(
            AnnotationError, "10", "sender_membership_proof_after does not hold the commit's new leaf"
        )
    top = s_after.n_leaves.bit_length() - 1
    filtered = [k for k in range(1, top + 1) if s_after.parent(k) is not None]
    nodes = commit.path.nodes
    if len(filtered) != len(nodes):
        raise UpdatePathShapeError(
            f"UpdatePath has {len(nodes)} nodes, the committer's after-proof {len(filtered)} non-blank ones"
        )
    ph = b""
    for k, upn in reversed(list(zip(filtered, nodes, strict=True))):  # §7.9.2 on the committer's path
        pn = s_after.parent(k)
        assert pn is not None
        if pn.encryption_key != upn.encryption_key or pn.unmerged_leaves:
            raise rule_error(
                AnnotationError, "10", f"sender_membership_proof_after's node {k} is not the UpdatePath's"
            )
        if pn.parent_hash != ph:
            raise ParentHashMismatchError(f"parent hash of the committer's node at level {k} (§7.9.2)")
        ph = parent_hash_of(suite, pn.encryption_key, ph, s_after.copath_hashes[k - 1])
    if leaf_node.parent_hash != ph:
        raise ParentHashMismatchError(
            "the committer's new leaf has a parent_hash its path does not give (§7.9.2)"
        )
    h = level(common_ancestor(2 * st.leaf, 2 * committer))
    if h not in filtered:
        raise rule_error(
            AnnotationError,
            "10",
            "the lowest common ancestor is not a non-blank node of the committer's path",
        )
    idx = filtered.index(h)  # update_path_index
    cts = nodes[idx].encrypted_path_secret
    if ann.resolution_index >= len(cts):
        raise rule_error(
            AnnotationError, "10", f"resolution_index {ann.resolution_index} of {len(cts)} ciphertexts"
        )
    ct = cts[ann.resolution_index]
    x, priv = held_node(st.path_keys, r_after, h)
    try:
        first = suite.decrypt_with_label(priv, UPDATE_PATH_LABEL, provisional, ct.kem_output, ct.ciphertext)
    except CryptoError as exc:
        raise PathSecretDecryptionError(
            f"path secret at level {h} does not open with node {x}'s key: {exc}"
        ) from exc
    pairs, commit_secret = path_chain(suite, first, len(filtered) - idx)
    new: dict[NodeIndex, KeyPair] = {}
    for j, kp in enumerate(pairs, idx):
        mine = r_after.parent(filtered[j])
        if kp.pub != nodes[j].encryption_key or mine is None or mine.encryption_key != kp.pub:
            raise PathKeyMismatchError(f"key derived for level {filtered[j]} differs from the UpdatePath's")
        new[ancestor(st.leaf, filtered[j])] = kp
    return new, commit_secret
