"""Receiving a splittable or individual commit (draft-mularczyk-mls-splitcommit §3, "A receiver
group member processes an IndividualCommit"), as one member, with the choices of
``split_commit`` (S2–S6).

The order differs from RFC 9420 §12.4.2 in one place, forced by the draft: a receiver of an
IndividualCommit holds only the path keys below its common ancestor with the committer, so it
decrypts its path secret (to the commit epoch's context, S2) and derives the keys from that
ancestor up *before* it can merge the path and compute the new tree hash. Everything else is
the RFC's sequence through the same code (``commit_outcome.commit_tree``): proposals, the
path leaf's checks, the parent hash, the tree hash; then the draft's transcript hash and the
``epoch_identifier`` check in place of the confirmation tag. A receiver of a whole SCommit runs
the same steps on its own projection, after the §7.6 shape check of every node and with the
derived keys compared to the SCommit's (§7.5), as an RFC 9420 receiver would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from .commit_outcome import checked_proposals, commit_tree
from .crypto.suite import CipherSuite, KeyPair
from .errors import CryptoError, LocalProtocolError
from .group_process import check_added_lifetimes, own_update_key, unprotect_message
from .group_proposals import resolve_committed
from .group_state import (
    CommitApplied,
    CommitterError,
    GroupConfig,
    MemberState,
    PublicEpoch,
    keep_psks,
    new_secret_tree,
    next_identity,
)
from .keyschedule import EpochSecrets
from .messages.enums import ContentType, SenderType
from .messages.framing import MLSMessage, PrivateMessage, PublicMessage
from .messages.key_package import KeyPackage
from .messages.proposals import Commit, SHeader
from .messages.psk_id import PreSharedKeyID
from .messages.split import IndividualCommit, SCommit
from .messages.tree import IndividualUpdatePath, UpdatePath, UpdatePathNode
from .proposal_list import CommittedProposal
from .psk import psk_secret as compute_psk_secret
from .psk import resolve_psks
from .ratchet_tree import RatchetTree
from .sharing import NOT_SHARED, tables_of
from .split_commit import (
    EpochIdentifierError,
    PathSecretOpener,
    Slot,
    SplitCommitError,
    SplitShapeError,
    epoch_identifier,
    hpke_open,
    local_confirmation_tag,
    path_context,
    project,
    slot_of,
    split_confirmed_transcript_hash,
)
from .transcript import interim_transcript_hash
from .treekem import (
    PathKeyMismatchError,
    PathKeys,
    PathSecretDecryptionError,
    check_update_path_shape,
    held_key,
    path_chain,
)
from .treemath import LeafIndex, NodeIndex

__all__ = ["process_split_commit"]


@dataclass(frozen=True, slots=True)
class _PrePath:
    """The commit's tree with its proposals applied and no path yet (the same for every member)."""

    tree: RatchetTree
    added: tuple[LeafIndex, ...]
    added_key_packages: tuple[tuple[LeafIndex, KeyPackage], ...]
    removed: tuple[LeafIndex, ...]
    updated: tuple[LeafIndex, ...]
    added_leaves: frozenset[int]


def _pre_path(
    suite: CipherSuite, cfg: GroupConfig, old: PublicEpoch, sender: int, committed: list[CommittedProposal]
) -> _PrePath:
    applied, _ = checked_proposals(
        suite, cfg.leaf_policy, old, committed, committer=LeafIndex(sender), now=None
    )
    added = tuple(leaf for leaf, _ in applied.added)
    return _PrePath(
        applied.editor.freeze(),
        added,
        tuple(applied.added),
        tuple(applied.removed),
        tuple(applied.updated),
        frozenset(int(x) for x in added),
    )


def process_split_commit(
    suite: CipherSuite,
    cfg: GroupConfig,
    st: MemberState,
    past: Mapping[int, MemberState],
    message: MLSMessage,
    now: int | None,
    lookup_psk: Callable[[PreSharedKeyID], bytes | None],
    opener: PathSecretOpener | None = None,
) -> tuple[CommitApplied, MemberState]:
    """§3: unframe the header, process the commit with its proposals and the path keys, check
    ``epoch_identifier``; ``opener`` opens this member's path ciphertext (default: HPKE).
    Returns the result and the member's next state (its current one made inactive if the commit
    removes it); ``st`` is unchanged, and any failure raises."""
    body = message.body
    if not isinstance(body, SCommit | IndividualCommit):
        raise LocalProtocolError(f"{message.wire_format.name} is not a split commit")
    if not isinstance(body.sheader.body, PublicMessage | PrivateMessage):
        raise SplitCommitError("the SHeader travels as a PublicMessage or PrivateMessage")
    ac = unprotect_message(suite, cfg, st, past, body.sheader)
    content = ac.content
    header = content.sheader
    if content.content_type != ContentType.SHEADER or header is None:
        raise SplitCommitError(f"a split commit's header has content type {content.content_type.name}")
    sender = content.sender
    if sender.sender_type != SenderType.MEMBER:
        raise CommitterError("only a member sends a splittable commit (S6)")
    if sender.index == st.leaf:
        raise CommitterError("a commit from this member that it did not stage")
    committed = resolve_committed(st, Commit(proposals=header.proposals), sender)
    tables = tables_of(cfg.epoch_cache)
    ctx = st.public.context_bytes
    pre = tables.outcomes.get_or_compute(
        ("split-pre", ctx, content.encoded()), _pre_path, suite, cfg, st.public, sender.index, committed
    )
    result = CommitApplied(
        epoch=st.public.context.epoch + 1,
        committer=sender,
        own=False,
        added=pre.added,
        removed=pre.removed,
        updated=pre.updated,
        removed_me=st.leaf in pre.removed,
        with_path=header.leaf_node is not None,
    )
    check_added_lifetimes(cfg, pre.added_key_packages, now)
    new_leaf_priv = own_update_key(st, committed)
    has_path = body.path is not None
    if result.removed_me:
        # S6: a removed member's IndividualCommit has no path; an SCommit may carry one
        if (header.leaf_node is None and has_path) or (
            isinstance(body, SCommit) and has_path != result.with_path
        ):
            raise SplitShapeError("the path does not match the header's leaf")
        return result, replace(st, active=False, proposals={}, pending_updates={})
    if has_path != result.with_path:
        raise SplitShapeError("a split commit has a path iff its header has a leaf")
    path_keys = st.path_keys if new_leaf_priv is None else st.path_keys.with_leaf_key(new_leaf_priv)
    commit_secret = bytes(suite.info.hash_len)
    update_path: UpdatePath | None = None
    new_nodes: dict[NodeIndex, KeyPair] = {}
    if header.leaf_node is not None:
        update_path, new_nodes, commit_secret = _path(
            suite, cfg, st, body, header, pre, sender.index, path_keys, ctx, opener
        )
    keys = () if update_path is None else tuple(n.encryption_key for n in update_path.nodes)
    new = tables.outcomes.get_or_compute(
        ("split", ctx, content.encoded(), keys),
        commit_tree,
        suite,
        cfg.leaf_policy,
        st.public,
        sender,
        committed,
        update_path,
    )
    confirmed = split_confirmed_transcript_hash(suite, st.public.interim_transcript_hash, content)
    public = new.outcome(st.public, confirmed, b"", b"").public
    new_ctx = public.context_bytes
    psk_secret = compute_psk_secret(suite, resolve_psks(tuple(new.applied.psk_ids), lookup_psk))
    init_secret = st.secrets.init_secret
    secrets = tables.schedules.get_or_compute(
        (init_secret, commit_secret, psk_secret, new_ctx),
        lambda: EpochSecrets.from_init(
            suite,
            init_secret=init_secret,
            commit_secret=commit_secret,
            psk_secret=psk_secret,
            group_context=new_ctx,
        ),
    )
    if epoch_identifier(suite, secrets) != header.epoch_identifier:
        raise EpochIdentifierError("epoch_identifier differs from the one the new epoch exports")
    tag = local_confirmation_tag(suite, secrets, confirmed)
    outcome = new.outcome(st.public, confirmed, interim_transcript_hash(suite, confirmed, tag), tag)
    tree = outcome.public.tree
    reinit = new.applied.reinit
    next_state = MemberState(
        public=outcome.public,
        leaf=st.leaf,
        identity=next_identity(st, tree),
        path_keys=path_keys.pruned(tree).with_nodes(new_nodes),
        secrets=secrets,
        secret_tree=new_secret_tree(suite, secrets.encryption_secret, tree.n_leaves, cfg),
        resumption_psks=keep_psks(
            st.resumption_psks, outcome.public.context.epoch, secrets.resumption_psk, cfg
        ),
        reinit=reinit,
        active=reinit is None,
    )
    return replace(result, reinit=reinit), next_state


def _path(
    suite: CipherSuite,
    cfg: GroupConfig,
    st: MemberState,
    body: SCommit | IndividualCommit,
    header: SHeader,
    pre: _PrePath,
    sender: int,
    path_keys: PathKeys,
    ctx: bytes,
    opener: PathSecretOpener | None,
) -> tuple[UpdatePath, dict[NodeIndex, KeyPair], bytes]:
    """This member's path secret and the path's public keys: decrypt its ciphertext (S2), derive
    from its common ancestor up, and take the keys below from the message. Returns the path as
    an UpdatePath without ciphertexts (what the tree merges), the member's new node keys and the
    commit secret."""
    assert header.leaf_node is not None and body.path is not None
    tree = pre.tree
    k = slot_of(tree, sender, st.leaf)
    filtered = tree.filtered_direct_path_with_copath(sender)
    p, s = filtered[k]
    _, positions = tree.resolution_positions(s, pre.added_leaves)
    position, r, priv = held_key(tree, path_keys, positions, s)
    if isinstance(body, SCommit):
        full = UpdatePath(leaf_node=header.leaf_node, nodes=body.path.nodes)
        check_update_path_shape(tree, LeafIndex(sender), full, pre.added_leaves)  # §7.6, every node
        individual = project(body, Slot(k, position)).path
        assert individual is not None
    else:
        individual = body.path
    assert isinstance(individual, IndividualUpdatePath)
    if len(individual.new_pks) != k:
        raise SplitShapeError(f"{len(individual.new_pks)} keys below the common ancestor, the tree has {k}")
    ct = individual.encrypted_path_secret
    tables = tables_of(cfg.epoch_cache)
    # a custom opener's result is this member's alone (it may use keys outside the tree)
    opens = tables.path_opens if r & 1 and opener is None else NOT_SHARED
    context = path_context(ctx)
    try:
        first = opens.get_or_compute(
            (priv, context, ct.kem_output, ct.ciphertext), opener or hpke_open, suite, priv, context, ct
        )
    except CryptoError as exc:
        raise PathSecretDecryptionError(
            f"path secret for node {p} does not open with node {r}'s key: {exc}"
        ) from exc
    steps = len(filtered) - k
    pairs, commit_secret = tables.path_chains.get_or_compute((first, steps), path_chain, suite, first, steps)
    derived = tuple(kp.pub for kp in pairs)
    if isinstance(body, SCommit):
        for j, pub in enumerate(derived, k):
            if pub != body.path.nodes[j].encryption_key:
                raise PathKeyMismatchError(
                    f"key derived for node {filtered[j][0]} differs from the SCommit's"
                )
    nodes = tuple(UpdatePathNode(encryption_key=key) for key in (*individual.new_pks, *derived))
    new_nodes = {filtered[j][0]: kp for j, kp in enumerate(pairs, k)}
    return UpdatePath(leaf_node=header.leaf_node, nodes=nodes), new_nodes, commit_secret
