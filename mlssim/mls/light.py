"""Light clients, as draft-kiefer-mls-light specifies them (the editor's copy in
``../shared/reference/``; not RFC 9420): membership proofs, the annotations a party holding the
tree produces for light members, the errors naming the draft's rules, and every choice the
draft leaves open. A light member's own processing is in ``light_process``, its façade in
``light_group``.

The draft's rules implemented here and in ``light_process`` (section numbers of the draft):

* §6: a membership proof is the leaf's direct path (leaf to root) with the copath's tree
  hashes; it is *valid relative to a tree hash* if the §7.8 recomputation gives that hash, and
  two proofs *reference the same tree* if their ``n_leaves`` and recomputed roots are equal.
* §7: a SenderAuthenticatedMessage's proof is checked against the tree hash of the epoch the
  message was sent in before its leaf's key verifies anything.
* §8: AnnotatedWelcome processing steps 1 and 2 (same tree; the signer's key and index from the
  sender proof; the GroupInfo's tree hash against the proofs' root; ``my_leaf`` from the joiner
  proof).
* §10: AnnotatedCommit fields and processing steps 1–3 (the path decrypted from the
  annotation, the tree hash taken from ``tree_hash_after`` and authenticated by the key
  schedule, i.e. the confirmation tag).
* §5: upgrading verifies a downloaded tree as RFC 9420 §12.4.3.1 does; downgrading drops it.
* §1, §9: a light client cannot commit (nor join by external commit).

mlssim's choices where the draft is silent (``docs/light-clients.md`` gives the reasons; each
is made in one place, named below):

* **L1 wire.** The draft registers no WireFormat (appendix "Known Issues"): the four structs
  travel as themselves (``messages/light.py``), never inside an MLSMessage; a link counts their
  encoding.
* **L2 who annotates.** The delivery service, which keeps every epoch's tree (as the draft's
  figure 1 shows): :func:`annotate_commit`, :func:`annotate_welcome`,
  :func:`sender_authenticated` are functions of public trees, so a committer could call them
  too. The per-member part of an annotation (``resolution_index``) is the split-commit
  draft's per-member slot (``split_commit.slots``): one mechanism for both drafts.
* **L3 which key opens the ciphertext.** The draft says "the next non-blank node in the
  recipient's direct path under the lowest common ancestor"; when the recipient is an
  unmerged leaf of that node it holds no key for it and uses its leaf key (the resolution lists
  unmerged leaves after the node): :func:`light_process.held_node`.
* **L4 a removed light member** gets the sender's after-proof as its receiver proof (there is
  no proof of a member that is gone) and resolution index 0 when the commit has a path; it runs
  §10 steps 1–2 and the signature check, reads its Remove and goes inactive without the key
  schedule, as an RFC 9420 member does: :func:`annotate_commit`.
* **L5 falling behind.** A light member that misses a commit cannot process later ones (their
  proofs are against a tree hash it does not have); as the draft forbids it an external commit,
  it re-syncs by joining as a full client by external commit and downgrading (§9), or is
  re-added by a full member: :class:`LightBehindError` says so.
* **L6 proposals.** A light member receives proposals as SenderAuthenticatedMessages and
  caches them by ProposalRef (it checks their sender, not their content: §10 omits proposal
  list validation); it sends none, and sends application messages only.
* **L7 more checks than the draft lists**, all O(log N): the committer's new leaf signature
  (RFC 9420 §7.3), the committer's parent-hash chain recomputed from
  ``sender_membership_proof_after`` (§7.9.2 on the one path), its nodes' keys equal to the
  UpdatePath's, the derived keys equal to the UpdatePath's and the receiver proof's (§12.4.2),
  and each after-proof naming the right leaf.
* **L8 Welcome without the tree.** A group with light members sends Welcomes without the
  ``ratchet_tree`` extension (``GroupConfig(ratchet_tree_in_welcome=False)``); full joiners
  fetch the tree from the DS, as RFC 9420 §12.4.3.3 allows.
* **L9 kept state.** What a member must store between messages, encoded as bytes
  (:func:`kept_state_bytes`): GroupContext, interim transcript hash, confirmation tag,
  ``n_leaves``, its leaf index, its private path keys (with their public halves), the epoch
  secrets it still needs, and for a full member the tree.
* **L10 resumption.** A light client does not join a reinitialised or branched group (the
  §11.2/§11.3 checks need the old group's tree state): ``light_process.join_light``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet

from .codec import Writer
from .crypto.suite import CipherSuite
from .errors import LocalProtocolError, RemoteProtocolError
from .group_state import WrongEpochError
from .keyschedule import EpochSecrets
from .messages.common import GroupContext
from .messages.framing import MLSMessage
from .messages.light import AnnotatedCommit, AnnotatedWelcome, MembershipProof, SenderAuthenticatedMessage
from .messages.welcome import Welcome
from .ratchet_tree import TreeView
from .split_commit import slots
from .tree_hashes import leaf_tree_hash, parent_tree_hash
from .treekem import PathKeys
from .treemath import LeafIndex, parent, sibling

__all__ = [
    "LightError",
    "InvalidMembershipProofError",
    "DifferentTreesError",
    "SenderProofError",
    "AnnotationError",
    "LightCommitError",
    "LightBehindError",
    "rule_error",
    "membership_proof",
    "proof_root",
    "check_proof",
    "same_tree",
    "sender_authenticated",
    "annotate_welcome",
    "annotate_commit",
    "annotate_commits",
    "kept_state_bytes",
]


class LightError(RemoteProtocolError):
    """A light-client message breaks a rule of draft-kiefer-mls-light."""

    draft_section = "6"

    def __str__(self) -> str:
        return f"{Exception.__str__(self)} (draft-kiefer-mls-light §{self.draft_section})"


class InvalidMembershipProofError(LightError):
    """§6: the proof is not "valid relative to" the tree hash it must match (the root
    recomputed by RFC 9420 §7.8 differs)."""


class DifferentTreesError(LightError):
    """§6: two proofs that must "reference the same tree" have different ``n_leaves`` or
    roots (§8 step 1, §10 step 2)."""


class SenderProofError(LightError):
    """§7, §8 step 2, §10 step 3: the sender proof is missing, present where it must be absent,
    or names another leaf than the message's sender or signer."""

    draft_section = "7"


class AnnotationError(LightError):
    """§10 (or §8): an annotation field that does not fit the commit or the receiver."""

    draft_section = "10"


class LightCommitError(LocalProtocolError):
    """§1, §9: a light client cannot commit: upgrade to a full client first (§5)."""

    def __str__(self) -> str:
        return f"{Exception.__str__(self)} (draft-kiefer-mls-light §1, §9)"


class LightBehindError(WrongEpochError):
    """L5: a commit of a later epoch than the light member's: it missed one. It cannot re-sync
    by an external commit of its own (§9): join as a full client by external commit, then
    downgrade (§5), or be re-added by a full member."""


def rule_error(exc: type[LightError], section: str, message: str) -> LightError:
    """``exc`` for the rule of draft ``section`` (one class may serve several sections)."""
    err = exc(message)
    err.draft_section = section
    return err


# ---- membership proofs (§6) ---------------------------------------------------------------------


def membership_proof(tree: TreeView, leaf: int) -> MembershipProof:
    """§6: the proof of ``leaf`` in ``tree`` (its direct path with the copath's tree hashes):
    O(log N) reads of hashes the tree already holds."""
    n = tree.n_leaves
    x = 2 * leaf
    nodes = [tree.node(x)]
    hashes = []
    for _ in range(n.bit_length() - 1):
        hashes.append(tree.node_tree_hash(sibling(x, n)))
        x = parent(x, n)
        nodes.append(tree.node(x))
    return MembershipProof(
        leaf_index=leaf, n_leaves=n, direct_path_nodes=tuple(nodes), copath_hashes=tuple(hashes)
    )


def proof_root(suite: CipherSuite, proof: MembershipProof) -> bytes:
    """§6: the root tree hash the proof recomputes (RFC 9420 §7.8, bottom up)."""
    i = proof.leaf_index
    h = leaf_tree_hash(suite, i, proof.leaf)
    for level, sib in enumerate(proof.copath_hashes, 1):
        node = proof.parent(level)
        h = (
            parent_tree_hash(suite, node, h, sib)
            if (i >> (level - 1)) & 1 == 0
            else (parent_tree_hash(suite, node, sib, h))
        )
    return h


def check_proof(
    suite: CipherSuite, proof: MembershipProof, tree_hash: bytes, section: str, what: str
) -> None:
    """§6 "valid relative to a given tree hash", for the rule of ``section``."""
    if proof_root(suite, proof) != tree_hash:
        raise rule_error(
            InvalidMembershipProofError, section, f"{what} is not valid relative to {tree_hash.hex()[:16]}"
        )


def same_tree(suite: CipherSuite, a: MembershipProof, b: MembershipProof, section: str, what: str) -> bytes:
    """§6 "reference the same tree": equal ``n_leaves`` and roots; returns the root."""
    root = proof_root(suite, a)
    if a.n_leaves != b.n_leaves or proof_root(suite, b) != root:
        raise rule_error(DifferentTreesError, section, f"{what} do not reference the same tree")
    return root


# ---- annotations: what the DS (L2) prepares per light member ------------------------------------


def sender_authenticated(tree: TreeView, message: MLSMessage, sender: int) -> SenderAuthenticatedMessage:
    """§7, §11: ``message`` (of the epoch whose tree is ``tree``) with its sender's proof. The DS
    must know the sender's leaf: for a PrivateMessage that is metadata it learns (§13.1)."""
    return SenderAuthenticatedMessage(message=message, sender_membership_proof=membership_proof(tree, sender))


def annotate_welcome(tree: TreeView, welcome: Welcome, signer: int, joiner: int) -> AnnotatedWelcome:
    """§8: ``welcome`` with proofs of its signer and of ``joiner`` in the new epoch's ``tree``."""
    return AnnotatedWelcome(
        welcome=welcome,
        sender_membership_proof=membership_proof(tree, signer),
        joiner_membership_proof=membership_proof(tree, joiner),
    )


def annotate_commit(
    before: TreeView | None,
    after: TreeView,
    commit: MLSMessage,
    *,
    sender_before: int | None,
    sender_after: int,
    receiver: int,
    resolution_index: int | None,
    removed: bool = False,
) -> AnnotatedCommit:
    """§10: one receiver's AnnotatedCommit. ``sender_before`` is ``None`` for a new member's
    commit (and ``before`` may then be ``None``); ``resolution_index`` is its position in its
    copath child's resolution (``None`` iff the commit has no path). L4: a ``removed`` receiver
    gets the sender's after-proof and index 0."""
    sender_proof = None
    if sender_before is not None:
        assert before is not None
        sender_proof = membership_proof(before, sender_before)
    after_proof = membership_proof(after, sender_after)
    return AnnotatedCommit(
        commit=commit,
        sender_membership_proof=sender_proof,
        tree_hash_after=after.tree_hash(),
        resolution_index=(0 if resolution_index is not None else None) if removed else resolution_index,
        sender_membership_proof_after=after_proof,
        receiver_membership_proof_after=after_proof if removed else membership_proof(after, receiver),
    )


def annotate_commits(
    before: TreeView | None,
    after: TreeView,
    commit: MLSMessage,
    *,
    sender_before: int | None,
    sender_after: int,
    receivers: Iterable[int],
    added: AbstractSet[int],
    removed: AbstractSet[int],
    with_path: bool,
) -> Mapping[LeafIndex, AnnotatedCommit]:
    """Every light receiver's AnnotatedCommit. ``resolution_index`` is the receiver's slot
    position from ``split_commit.slots`` (L2: the DS work of the split-commit projection, one
    O(N) pass; the proofs are O(log N) each). ``added`` leaves join by Welcome."""
    positions = slots(after, sender_after, added) if with_path else {}
    out: dict[LeafIndex, AnnotatedCommit] = {}
    for r in receivers:
        gone = r in removed
        slot = positions.get(LeafIndex(r))
        if with_path and slot is None and not gone:
            raise LocalProtocolError(f"leaf {r} has no slot in the commit's path")
        out[LeafIndex(r)] = annotate_commit(
            before,
            after,
            commit,
            sender_before=sender_before,
            sender_after=sender_after,
            receiver=r,
            resolution_index=(0 if gone else slot.position if slot is not None else None)
            if with_path
            else None,
            removed=gone,
        )
    return out


# ---- kept state (L9) ----------------------------------------------------------------------------


def kept_state_bytes(
    context: GroupContext,
    interim_transcript_hash: bytes,
    confirmation_tag: bytes,
    n_leaves: int,
    path_keys: PathKeys,
    secrets: EpochSecrets,
    tree: TreeView | None = None,
) -> bytes:
    """L9: the encoding of what a member must keep between messages; ``tree`` for a full member.
    The secret tree counts as its root (``encryption_secret``): the ratchets it derives grow with
    the senders heard, not with N, and are the same for both kinds of member."""
    w = Writer()
    context.push(w)
    w.push_opaque(interim_transcript_hash)
    w.push_opaque(confirmation_tag)
    w.push_uint32(n_leaves)
    w.push_uint32(path_keys.leaf)
    w.push_opaque(path_keys.leaf_priv)
    w.push_opaque(path_keys.leaf_pub or b"")
    inner = Writer()
    for x, kp in sorted(path_keys.nodes.items()):
        inner.push_uint32(x)
        inner.push_opaque(kp.priv)
        inner.push_opaque(kp.pub)
    w.push_opaque(inner.data())
    for s in (
        secrets.sender_data_secret,
        secrets.encryption_secret,
        secrets.exporter_secret,
        secrets.external_secret,
        secrets.membership_key,
        secrets.resumption_psk,
        secrets.epoch_authenticator,
        secrets.init_secret,
    ):
        w.push_opaque(s)
    if tree is not None:
        w.push_opaque(tree.encode())
    return w.data()
