"""Splittable and individual commits, as draft-mularczyk-mls-splitcommit specifies them (the
editor's copy in ``../shared/reference/``; not RFC 9420): the committer's framing, the one
projection of an SCommit for a receiver, and every choice the draft leaves open.

The draft's own rules, where it states them:

* §3: the SHeader carries the proposals, the committer's LeafNode and ``epoch_identifier``,
  exported from the new epoch with the label ``"SplittableCommit"``; it is framed as content
  type ``sheader`` (signed, with no confirmation tag in its FramedContentAuthData); the SCommit
  carries it beside the SUpdatePath (the UpdatePath's nodes), an IndividualCommit beside the one
  ciphertext its receiver decrypts and the path keys it cannot derive (``new_pks``).
* §3, processing: unframe the SHeader, process the commit with its proposals and the path keys,
  and "verify that ``epoch_identifier`` matches the secret exported from the new epoch".
* §4: the confirmed transcript hash's input is "the FramedContent containing the SHeader with
  empty ``epoch_identifier``"; "the confirmation tag is not used".

mlssim's choices where the draft is silent or leaves a TODO (``docs/bandwidth.md`` lists them
with the reasons; the constants and functions below are the only place each is made):

* **S1 exporter.** ``epoch_identifier = MLS-Exporter("SplittableCommit", "", Nh)`` (§8.5):
  the draft names the label only; the empty context and the KDF's hash length are ours.
* **S2 path-secret context.** RFC 9420 encrypts path secrets to the *provisional* GroupContext,
  whose tree hash covers every new path key; a receiver of an IndividualCommit lacks the keys
  it derives only after decrypting, so it could not build that context. The draft says nothing;
  mlssim encrypts path secrets of a splittable commit to the encoded GroupContext of the epoch
  the commit is sent in (the context the SHeader's signature covers). The binding the RFC gets
  from the provisional context comes here from ``epoch_identifier`` (tree hash and commit secret).
* **S3 transcript.** ``confirmed = Hash(interim_before || FramedContent)``, the FramedContent
  encoded exactly as sent but with an empty ``epoch_identifier``: no wire format and no
  signature (the draft's §5.1 lists the signature among what its transcript leaves out).
* **S4 confirmation tag** (the draft's TODO). It is never sent and never checked on receipt:
  ``epoch_identifier`` is the new epoch's confirmation, checked by every receiver. Each member
  still computes ``MAC(confirmation_key, confirmed)`` from its own key schedule and keeps it as
  the epoch's confirmation tag: it enters the interim transcript hash and the GroupInfo exactly
  as in RFC 9420, so joiners by Welcome or external commit need nothing new.
* **S5 ratchet.** A PrivateMessage carrying an SHeader uses the sender's handshake ratchet.
* **S6 who may split.** Only a member's commit is splittable (an external joiner has no tree
  position to encrypt from and sends an RFC 9420 commit). A member the commit removes gets an
  IndividualCommit without a path: it has nothing to decrypt and learns it is removed from the
  header.
* **S7 code points.** ``mls_scommit`` = 0xF003, ``mls_individual_commit`` = 0xF004 (RFC 9420
  §17.2 private use; the draft has no IANA actions); ``sheader`` = 4 as the draft writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace

from .codec import encode
from .commit_builder import CommitFraming, Committer, SignedCommit, schedule
from .commit_outcome import next_context
from .crypto.suite import CipherSuite
from .errors import LocalProtocolError, RemoteProtocolError
from .group_state import PublicEpoch
from .keyschedule import EpochSecrets, confirmation_tag
from .messages.common import GroupContext
from .messages.enums import ContentType, SenderType
from .messages.framing import (
    AuthenticatedContent,
    FramedContent,
    FramedContentAuthData,
    MLSMessage,
    Sender,
    framed_content_tbs,
)
from .messages.proposals import Commit, ProposalOrRef, SHeader
from .messages.split import IndividualCommit, SCommit
from .messages.tree import HPKECiphertext, IndividualUpdatePath, SUpdatePath, UpdatePath
from .proposal_list import AppliedProposals
from .ratchet_tree import RatchetTree, TreeView
from .transcript import interim_transcript_hash
from .treekem import UPDATE_PATH_LABEL, PathEncryptor, UpdatePathResult
from .treemath import LeafIndex, common_ancestor, subtree_leaves

__all__ = [
    "SPLIT_EXPORTER_LABEL",
    "SPLIT_FRAMING",
    "SplitFraming",
    "PathSecretOpener",
    "hpke_open",
    "SplitCommitError",
    "SplitShapeError",
    "EpochIdentifierError",
    "epoch_identifier",
    "path_context",
    "split_confirmed_transcript_hash",
    "local_confirmation_tag",
    "Slot",
    "slot_of",
    "slots",
    "project",
    "project_all",
    "as_commit",
]

#: §3: the exporter label of ``epoch_identifier`` (S1 for the rest)
SPLIT_EXPORTER_LABEL = "SplittableCommit"


class SplitCommitError(RemoteProtocolError):
    """A splittable or individual commit breaks a rule of draft-mularczyk-mls-splitcommit."""

    draft_section = "3"

    def __str__(self) -> str:
        return f"{Exception.__str__(self)} (draft-mularczyk-mls-splitcommit §{self.draft_section})"


class SplitShapeError(SplitCommitError):
    """The path does not fit the header or the tree: a leaf without a path (or the reverse),
    or ``new_pks`` of another length than the keys below the receiver's common ancestor."""


class EpochIdentifierError(SplitCommitError):
    """§3 processing step 3: ``epoch_identifier`` differs from the one this member's new epoch
    exports (a wrong key, ciphertext, proposal or leaf anywhere in what the member used)."""


# ---- the choices (module docstring) -------------------------------------------------------------


def epoch_identifier(suite: CipherSuite, secrets: EpochSecrets) -> bytes:
    """S1: ``MLS-Exporter("SplittableCommit", "", Nh)`` of the new epoch."""
    return secrets.exporter(SPLIT_EXPORTER_LABEL, b"", suite.info.hash_len)


def path_context(old: GroupContext | bytes) -> bytes:
    """S2: what a splittable commit's path secrets are encrypted to: the commit epoch's
    encoded GroupContext."""
    return old if isinstance(old, bytes) else encode(old)


def split_confirmed_transcript_hash(
    suite: CipherSuite, interim_before: bytes, content: FramedContent
) -> bytes:
    """§4 with S3: ``Hash(interim_before || FramedContent)``, the SHeader's ``epoch_identifier``
    emptied."""
    header = content.sheader
    if content.content_type != ContentType.SHEADER or header is None:
        raise LocalProtocolError("the split transcript hash is taken over an SHeader")
    if header.epoch_identifier:
        content = replace(content, sheader=replace(header, epoch_identifier=b""))
    return suite.hash(interim_before + content.encoded())


def local_confirmation_tag(suite: CipherSuite, secrets: EpochSecrets, confirmed: bytes) -> bytes:
    """S4: the tag every member computes for itself (never sent, never checked on receipt)."""
    return confirmation_tag(suite, secrets.confirmation_key, confirmed)


#: opens a receiver's path ciphertext: ``(suite, its node's private key, context, ciphertext)``
#: -> the path secret; the default is RFC 9420's DecryptWithLabel (:func:`hpke_open`)
PathSecretOpener = Callable[[CipherSuite, bytes, bytes, HPKECiphertext], bytes]


def hpke_open(suite: CipherSuite, priv: bytes, context: bytes, ct: HPKECiphertext) -> bytes:
    """§7.6: DecryptWithLabel(priv, "UpdatePathNode", context, kem_output, ciphertext)."""
    return suite.decrypt_with_label(priv, UPDATE_PATH_LABEL, context, ct.kem_output, ct.ciphertext)


# ---- the committer ------------------------------------------------------------------------------


class SplitFraming:
    """:class:`~mlssim.mls.commit_builder.CommitFraming` of a splittable commit (§3 steps 1–5).
    ``path_encryptor`` seals each path secret (default: RFC 9420's HPKE to every resolution
    node); a server-aided reading that re-encrypts at the DS passes its own (``assist/``)."""

    def __init__(self, path_encryptor: PathEncryptor | None = None) -> None:
        self.path_encryptor = path_encryptor

    def path_context(self, old: GroupContext, provisional: GroupContext) -> bytes:
        return path_context(old)

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
        if sender.sender_type != SenderType.MEMBER:
            raise LocalProtocolError("only a member's commit is splittable (S6): send an RFC 9420 commit")
        old_ctx = old.context
        header = SHeader(proposals=proposals, leaf_node=None if path is None else path.update_path.leaf_node)
        unsigned = FramedContent(
            group_id=old_ctx.group_id,
            epoch=old_ctx.epoch,
            sender=sender,
            authenticated_data=authenticated_data,
            content_type=ContentType.SHEADER,
            sheader=header,
        )
        confirmed = split_confirmed_transcript_hash(suite, old.interim_transcript_hash, unsigned)
        new_ctx = next_context(old_ctx, new_tree.tree_hash(), confirmed, applied.extensions)
        secrets, psk_secret = schedule(suite, committer, applied, path, new_ctx)
        content = replace(
            unsigned, sheader=replace(header, epoch_identifier=epoch_identifier(suite, secrets))
        )
        tbs = framed_content_tbs(committer.wire_format, content, old_ctx)
        signature = suite.sign_with_label(committer.identity.signature_priv, "FramedContentTBS", tbs)
        ac = AuthenticatedContent(
            wire_format=committer.wire_format,
            content=content,
            auth=FramedContentAuthData(signature=signature),
        )
        tag = local_confirmation_tag(suite, secrets, confirmed)
        public = PublicEpoch.make(new_ctx, new_tree, interim_transcript_hash(suite, confirmed, tag), tag)
        return SignedCommit(ac, public, secrets, psk_secret)

    def message(self, protected: MLSMessage, path: UpdatePathResult | None) -> MLSMessage:
        spath = None if path is None else SUpdatePath(nodes=path.update_path.nodes)
        return MLSMessage(body=SCommit(sheader=protected, path=spath))


#: the framing ``Group.commit(..., framing=SPLIT_FRAMING)`` takes for a splittable commit
SPLIT_FRAMING: CommitFraming = SplitFraming()


def as_commit(header: SHeader, path: SUpdatePath | None) -> Commit:
    """The RFC 9420 Commit an SCommit stands for (the header's proposals and leaf with the
    SUpdatePath's nodes): what an observer holding the whole SCommit reads, e.g. the adversary."""
    if (path is None) != (header.leaf_node is None):
        raise SplitShapeError("a split commit has a path iff its header has a leaf")
    full = (
        None
        if path is None or header.leaf_node is None
        else UpdatePath(leaf_node=header.leaf_node, nodes=path.nodes)
    )
    return Commit(proposals=header.proposals, path=full)


# ---- splitting: who gets which ciphertext and keys -----------------------------------------------


@dataclass(frozen=True, slots=True)
class Slot:
    """Where one receiver sits in a commit's path: ``k`` is the index (in the committer's
    filtered direct path) of its common ancestor with the committer, so it derives the keys
    from ``k`` up and gets the ``k`` below; ``position`` is its ciphertext's index at node
    ``k`` (the first node of the copath child's resolution whose key it holds)."""

    k: int
    position: int


def slot_of(tree: TreeView, sender: int, member: int) -> int:
    """``k`` of ``member``: the index of its common ancestor with ``sender`` in the sender's
    filtered direct path. ``tree`` is the commit's tree before or after the path."""
    path = tree.filtered_direct_path_with_copath(sender)
    lca = common_ancestor(2 * sender, 2 * member)
    for k, (p, _) in enumerate(path):
        if p == lca:
            return k
    raise SplitShapeError(f"leaf {member} is under no copath child of leaf {sender}'s filtered path")


def slots(tree: TreeView, sender: int, exclude: AbstractSet[int]) -> dict[LeafIndex, Slot]:
    """Every receiver's slot in one O(N) pass over the copath resolutions (the DS's work per
    commit); ``exclude`` are the leaves the commit adds (they join by Welcome)."""
    out: dict[LeafIndex, Slot] = {}
    for k, (_, s) in enumerate(tree.filtered_direct_path_with_copath(sender)):
        for j, r in enumerate(tree.resolution(s, exclude)):
            if r & 1 == 0:
                out[LeafIndex(r >> 1)] = Slot(k, j)
                continue
            node = tree.node(r)
            assert node is not None
            unmerged = set(node.unmerged_leaves)  # type: ignore[union-attr]
            lo, hi = subtree_leaves(r)
            for i in range(lo, hi):
                if i not in unmerged and i not in exclude and tree.leaf(i) is not None:
                    out.setdefault(LeafIndex(i), Slot(k, j))
    return out


def _individual(sheader: MLSMessage, path: SUpdatePath | None, slot: Slot | None) -> IndividualCommit:
    if path is None or slot is None:
        return IndividualCommit(sheader=sheader)
    node = path.nodes[slot.k]
    if slot.position >= len(node.encrypted_path_secret):
        raise SplitShapeError(f"path node {slot.k} has no ciphertext {slot.position}")
    return IndividualCommit(
        sheader=sheader,
        path=IndividualUpdatePath(
            encrypted_path_secret=node.encrypted_path_secret[slot.position],
            new_pks=tuple(n.encryption_key for n in path.nodes[: slot.k]),
        ),
    )


def project(scommit: SCommit, member_slot: Slot | None) -> IndividualCommit:
    """§3 "a projection of SCommit for a given receiver": the header, the ciphertext at the
    receiver's slot and the keys below it; no path for a member without a slot (S6: removed)."""
    return _individual(scommit.sheader, scommit.path, member_slot)


def project_all(
    scommit: SCommit, tree: TreeView, sender: int, exclude: AbstractSet[int]
) -> Mapping[LeafIndex, IndividualCommit]:
    """The projection for every receiver in ``tree`` (the commit's tree, before or after the
    path): what a DS that tracks the tree sends each member."""
    if scommit.path is None:
        bare = IndividualCommit(sheader=scommit.sheader)
        return {i: bare for i, _ in tree.leaves() if i != sender and i not in exclude}
    return {i: _individual(scommit.sheader, scommit.path, s) for i, s in slots(tree, sender, exclude).items()}
