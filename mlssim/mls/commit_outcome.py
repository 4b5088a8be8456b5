"""The public half of processing a commit (RFC 9420 §12.4.2).

Everything here depends only on the old epoch's public state and the commit's bytes:
validate and apply the proposals, validate and merge the UpdatePath's public keys, and
compute the new tree, GroupContext and transcript hashes. Every member that processes
the commit gets the same :class:`~mlssim.mls.group_state.CommitOutcome`, which is why an
``EpochCache`` may compute it once for all of them. What only one member can do —
decrypt its path secret, run its key schedule, check the confirmation tag with it — is
in ``group_process.process_commit``.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import treemath as tm
from .codec import encode
from .crypto.suite import CipherSuite
from .extensions import validate_group_context_extensions
from .group_state import CommitOutcome, CommitterError, MissingPathError, PublicEpoch
from .group_validation import (
    DuplicatePublicKeyError,
    LeafPolicy,
    validate_added_key_package,
    validate_member_leaf,
)
from .messages.common import Extension, GroupContext
from .messages.enums import (
    LeafNodeSource,
    ResumptionPSKUsage,
    SenderType,
)
from .messages.framing import AuthenticatedContent, Sender
from .messages.proposals import (
    GroupContextExtensions,
    Update,
)
from .messages.tree import LeafNode, UpdatePath
from .proposal_list import (
    AppliedProposals,
    CommittedProposal,
    apply_proposals,
    path_required,
    validate_proposal_list,
)
from .ratchet_tree import RatchetTree
from .transcript import confirmed_transcript_hash, interim_transcript_hash
from .treekem import check_update_path_shape
from .treemath import LeafIndex

__all__ = ["commit_outcome", "CommitTree", "commit_tree", "checked_proposals", "next_context"]


def commit_outcome(
    suite: CipherSuite,
    policy: LeafPolicy,
    old_public: PublicEpoch,
    ac: AuthenticatedContent,
    committed: list[CommittedProposal],
) -> CommitOutcome:
    """§12.4.2, the public half: validate and apply the proposals, merge the path's public
    keys, compute the new tree, GroupContext and transcript hash. Identical for every
    member, so an :class:`EpochCache` may hand the result to all of them."""
    content = ac.content
    commit = content.commit
    assert commit is not None
    new = commit_tree(suite, policy, old_public, content.sender, committed, commit.path)
    if commit.path is not None:
        # §7.6 on every node, from public data: each member decrypts one node only, so a
        # ciphertext vector of the wrong length elsewhere would split the group by position.
        check_update_path_shape(new.tree, new.committer_leaf, commit.path, new.added_leaves)
    confirmed = confirmed_transcript_hash(
        suite, old_public.interim_transcript_hash, ac.wire_format, content.encoded(), ac.auth.signature
    )
    tag = ac.auth.confirmation_tag or b""
    return new.outcome(old_public, confirmed, interim_transcript_hash(suite, confirmed, tag), tag)


@dataclass(frozen=True, slots=True)
class CommitTree:
    """A commit's new tree, before the transcript: what an RFC 9420 commit and a split commit
    (``split_process``) have in common."""

    applied: AppliedProposals
    committer_leaf: LeafIndex
    tree: RatchetTree
    added_leaves: frozenset[int]

    def outcome(self, old_public: PublicEpoch, confirmed: bytes, interim: bytes, tag: bytes) -> CommitOutcome:
        """The outcome once the transcript is known: ``confirmed`` and ``interim`` hashes and
        the confirmation ``tag`` the new epoch keeps."""
        old, applied = old_public.context, self.applied
        tree_hash = self.tree.tree_hash()
        provisional = next_context(old, tree_hash, old.confirmed_transcript_hash, applied.extensions)
        new_ctx = next_context(old, tree_hash, confirmed, applied.extensions)
        return CommitOutcome(
            public=PublicEpoch(new_ctx, self.tree, interim, tag),
            committer_leaf=self.committer_leaf,
            provisional_context=encode(provisional),
            added=tuple(applied.added),
            removed=tuple(applied.removed),
            updated=tuple(applied.updated),
            psk_ids=tuple(applied.psk_ids),
            external_init=applied.external_init,
            reinit=applied.reinit,
            confirmed=confirmed,
            added_leaves=self.added_leaves,
        )


def commit_tree(
    suite: CipherSuite,
    policy: LeafPolicy,
    old_public: PublicEpoch,
    sender: Sender,
    committed: list[CommittedProposal],
    path: UpdatePath | None,
) -> CommitTree:
    """§12.4.2 up to the new tree: validate and apply the proposals (and each Update's leaf),
    require a path where the proposals do, check the path's leaf and keys and merge them."""
    external = sender.sender_type == SenderType.NEW_MEMBER_COMMIT
    committer = None if external else LeafIndex(sender.index)
    # time-dependent checks (lifetimes) are per member: see group_process.process_commit
    applied, gone = checked_proposals(suite, policy, old_public, committed, committer=committer, now=None)
    for cp in committed:
        if isinstance(cp.proposal, Update):
            index = LeafIndex(cp.sender.index)
            _check_leaf(
                suite,
                policy,
                old_public,
                applied,
                gone,
                cp.proposal.leaf_node,
                source=LeafNodeSource.UPDATE,
                leaf_index=index,
                replaced=old_public.tree.leaf(index),
            )
    if (path_required(committed) or external) and path is None:
        raise MissingPathError("this commit's proposals require an UpdatePath")
    editor = applied.editor
    if external:
        assert path is not None
        committer_leaf = editor.add_leaf(path.leaf_node)
    else:
        committer_leaf = LeafIndex(sender.index)
    if path is not None:
        _merge_path(suite, policy, old_public, applied, gone, path, committer_leaf, external)
    added_leaves = frozenset(int(leaf) for leaf, _ in applied.added)
    return CommitTree(applied, committer_leaf, editor.freeze(), added_leaves)


def _check_leaf(
    suite: CipherSuite,
    policy: LeafPolicy,
    old_public: PublicEpoch,
    applied: AppliedProposals,
    gone: tuple[LeafNode, ...],
    leaf: LeafNode,
    *,
    source: LeafNodeSource,
    leaf_index: LeafIndex,
    replaced: LeafNode | None,
) -> None:
    """§7.3 on a LeafNode the commit puts at ``leaf_index`` in place of ``replaced`` (an
    Update's, or the path's), against the old tree less the leaves the commit removes."""
    validate_member_leaf(
        suite,
        policy,
        leaf,
        source=source,
        leaf_index=leaf_index,
        replaced=replaced,
        index=old_public.key_index,
        group_id=old_public.context.group_id,
        extensions=applied.extensions,
        now=None,
        removed=gone,
    )


def _merge_path(
    suite: CipherSuite,
    policy: LeafPolicy,
    old_public: PublicEpoch,
    applied: AppliedProposals,
    gone: tuple[LeafNode, ...],
    path: UpdatePath,
    committer_leaf: LeafIndex,
    external: bool,
) -> None:
    """§12.4.2: check the UpdatePath's leaf (source, fresh key, §7.3) and that none of its keys
    is already in the tree, then merge its public keys into ``applied.editor``."""
    leaf = path.leaf_node
    if leaf.leaf_node_source != LeafNodeSource.COMMIT:
        raise CommitterError("the UpdatePath leaf must have source commit (§12.4.2)")
    # The leaf the path's leaf takes the place of: the committer's own, or for an external
    # commit the old version of the joiner it removes (§12.2: "the same criteria as would
    # the LeafNode in an Update for the removed leaf", its credential a valid successor).
    current = (gone[0] if gone else None) if external else old_public.tree.leaf(committer_leaf)
    if current is not None and current.encryption_key == leaf.encryption_key:
        raise CommitterError("the path's leaf reuses the replaced leaf's encryption key (§12.4.2)")
    _check_leaf(
        suite,
        policy,
        old_public,
        applied,
        gone,
        leaf,
        source=LeafNodeSource.COMMIT,
        leaf_index=committer_leaf,
        replaced=current,
    )
    editor = applied.editor
    for key in (leaf.encryption_key, *(n.encryption_key for n in path.nodes)):
        found = editor.find_encryption_key(key)
        if found is not None and not (found == tm.leaf_to_node(committer_leaf) and external):
            raise DuplicatePublicKeyError("an UpdatePath key already appears in the tree (§12.4.2)")
    editor.merge_update_path(committer_leaf, path)


def checked_proposals(
    suite: CipherSuite,
    policy: LeafPolicy,
    old_public: PublicEpoch,
    committed: list[CommittedProposal],
    *,
    committer: LeafIndex | None,
    now: int | None,
    resumption_usage: ResumptionPSKUsage | None = None,
) -> tuple[AppliedProposals, tuple[LeafNode, ...]]:
    """§12.2–§12.3 as committer and receivers both run them: validate the list (``committer``
    None for an external commit), apply it to an editor of the old tree, and validate each
    added KeyPackage (§10.1) against the old tree less the leaves the list removes. Returns
    the applied list and those removed leaves."""
    validate_proposal_list(
        suite,
        old_public.tree,
        committed,
        committer=committer,
        external=committer is None,
        resumption_usage=resumption_usage,
    )
    applied = apply_proposals(old_public.tree, old_public.context.extensions, committed)
    gone = tuple(leaf for leaf in (old_public.tree.leaf(r) for r in applied.removed) if leaf is not None)
    if any(isinstance(cp.proposal, GroupContextExtensions) for cp in committed):
        members_support_extensions(old_public.tree, applied, committed, committer)
    for _, kp in applied.added:
        validate_added_key_package(
            suite,
            policy,
            kp,
            index=old_public.key_index,
            group_id=old_public.context.group_id,
            extensions=applied.extensions,
            now=now,
            removed=gone,
        )
    return applied, gone


def members_support_extensions(
    tree: RatchetTree,
    applied: AppliedProposals,
    committed: list[CommittedProposal],
    committer: LeafIndex | None,
) -> None:
    """§12.1.7: a GroupContextExtensions proposal is valid only if every member the commit keeps
    supports the new extensions and required capabilities. Removed members need not; an updated
    member is judged by its new leaf; the committer by its path leaf and joiners by their
    KeyPackages, each validated against the new extensions where it is checked."""
    removed = set(applied.removed)
    updated = {
        LeafIndex(cp.sender.index): cp.proposal.leaf_node
        for cp in committed
        if isinstance(cp.proposal, Update)
    }
    members = [
        updated.get(i, leaf).capabilities for i, leaf in tree.leaves() if i not in removed and i != committer
    ]
    validate_group_context_extensions(applied.extensions, members)


def next_context(
    old: GroupContext, tree_hash: bytes, confirmed_transcript_hash: bytes, extensions: tuple[Extension, ...]
) -> GroupContext:
    """The GroupContext of the epoch after ``old`` (§8.1): the provisional one an UpdatePath is
    encrypted under carries the old confirmed transcript hash (§12.4.1–§12.4.2)."""
    return GroupContext(
        cipher_suite=old.cipher_suite,
        group_id=old.group_id,
        epoch=old.epoch + 1,
        tree_hash=tree_hash,
        confirmed_transcript_hash=confirmed_transcript_hash,
        extensions=extensions,
    )
