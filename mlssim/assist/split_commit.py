"""Server-assisted ("split") commits: the committer uploads every ciphertext once, the DS hands
each member only what it needs (after Alwen et al., "Server-Aided Continuous Group Key
Agreement", CCS 2022 — SAIK — and draft-mularczyk-mls-splitcommit). Not RFC 9420: a variant of
its commit for bandwidth studies, built only from RFC 9420 pieces (§5.1 labeled signatures and
RefHash, §7.6 HPKECiphertext, §7.4 path secret derivation).

Format (TLS presentation language, RFC 9420 §2.1; wire formats from the private-use range)::

    // the signed part: the commit's FramedContent with every UpdatePathNode's ciphertext
    // vector replaced by one Merkle root over all of them
    struct {
        LeafNode leaf_node;
        HPKEPublicKey encryption_keys<V>;    // one per filtered direct path node, in order
        opaque ciphertexts_root<V>;          // MerkleRoot(all HPKECiphertexts, UpdatePath order)
    } SplitUpdatePath;

    struct {
        opaque group_id<V>;
        uint64 epoch;
        Sender sender;                       // a member (external commits are not split)
        opaque authenticated_data<V>;
        ProposalOrRef proposals<V>;
        SplitUpdatePath path;                // a commit without a path is not split
    } SplitFramedContent;

    struct {
        ProtocolVersion version = mls10;
        SplitFramedContent content;
        GroupContext context;                // the commit's epoch, as in FramedContentTBS (§6.1)
    } SplitFramedContentTBS;

    signature      = SignWithLabel(committer, "SplitFramedContentTBS", SplitFramedContentTBS)
    membership_tag = MAC(membership_key, SplitFramedContentTBS || opaque signature<V>
                                                              || opaque confirmation_tag<V>)

    // what the committer uploads (and the DS keeps)
    struct {
        HPKECiphertext encrypted_path_secret<V>;
    } EncryptedPathSecrets;

    struct {
        ProtocolVersion version = mls10;
        uint16 wire_format = 0xF001;         // mls_split_commit
        SplitFramedContent content;
        opaque signature<V>;
        MAC confirmation_tag;
        MAC membership_tag;
        EncryptedPathSecrets path_secrets<V>;   // as in the UpdatePath, one per path node
    } SplitCommit;

    // what one member downloads
    struct {
        ProtocolVersion version = mls10;
        uint16 wire_format = 0xF002;         // mls_split_commit_download
        opaque group_id<V>;
        uint64 epoch;
        Sender sender;
        opaque authenticated_data<V>;
        ProposalOrRef proposals<V>;
        LeafNode leaf_node;
        HPKEPublicKey lower_keys<V>;         // keys of the path nodes below the member's LCA
        opaque signature<V>;
        MAC confirmation_tag;
        MAC membership_tag;
        HPKECiphertext ciphertext;           // the one sealed to the member's resolution node
        opaque proof<V>;                     // Merkle audit path, Nh bytes per level, leaf first
    } SplitCommitDownload;

Merkle tree: the shape of RFC 6962 §2.1 over the C ciphertexts of the UpdatePath in wire order
(node by node, each in resolution order), leaf hash ``RefHash("MLS 1.0 split ciphertext",
HPKECiphertext)``, inner hash ``RefHash("MLS 1.0 split node", left || right)``. A ciphertext's
position fixes its path node and resolution node, and C is known from the tree, so a proof for
one position never verifies for another.

What a member derives instead of downloading: the path node keys from its lowest common
ancestor (LCA) with the committer upward (from the decrypted path secret, §7.4), and the
Merkle root (from its ciphertext and the proof). It then rebuilds SplitFramedContentTBS and
verifies the signature: one check covers the proposals, the leaf, every path key (downloaded
or derived) and, through the root, every ciphertext. The keys below the LCA cannot be
derived; they are downloaded (the member needs them anyway: they enter its new tree and
hence the GroupContext's tree hash).

Trust assumptions. The DS must read the handshake structure (sender, proposals, path keys, and
the tree to know each member's resolution node), so split commits travel as public messages;
it learns nothing secret (path secrets stay HPKE-sealed). A malicious DS can withhold a
download or send a stale one (as with any DS); a wrong, altered or misplaced ciphertext or
proof changes the recomputed root and fails the signature; altered keys, leaf or proposals
fail the signature too. Because derived keys enter the signed bytes, a ciphertext that does
not open cannot be blamed on the committer or the DS by this member alone (a member holding
all keys could check the signature first); the DS keeps the signed SplitCommit, so the
committer is accountable for every ciphertext to anyone who holds it.

Not modelled: with the stripped content, the confirmed transcript hash (§8.2) would be taken
over SplitFramedContent (:func:`split_confirmed_transcript_hash`), changing the new epoch's
secrets; mlssim's group layer runs the RFC 9420 key schedule, so :func:`split_upload` carries
the confirmation tag it is given (by default the plain commit's: the same Nh bytes) and
:func:`verify_download` checks everything but that tag.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from ..mls.codec import Reader, Writer, encode, push_struct, varint_size
from ..mls.crypto.suite import CipherSuite, KeyPair
from ..mls.errors import CryptoError, DecodeError, LocalProtocolError, RemoteProtocolError
from ..mls.group_state import StagedCommit
from ..mls.messages.common import GroupContext
from ..mls.messages.enums import ProtocolVersion, SenderType, pull_enum16
from ..mls.messages.framing import AuthenticatedContent, Sender
from ..mls.messages.proposals import ProposalOrRef
from ..mls.messages.tree import HPKECiphertext, LeafNode, pull_hpke_ciphertexts
from ..mls.ratchet_tree import TreeView
from ..mls.transcript import confirmed_transcript_hash
from ..mls.treekem import (
    UPDATE_PATH_LABEL,
    PathDecryption,
    PathKeys,
    PathSecretDecryptionError,
    PathSecretUnavailableError,
    next_path_secret,
    node_key_pair,
)
from ..mls.treemath import LeafIndex, NodeIndex, common_ancestor, level, subtree_leaves

__all__ = [
    "upload_size",
    "SPLIT_COMMIT_WIRE_FORMAT",
    "SPLIT_DOWNLOAD_WIRE_FORMAT",
    "SPLIT_SIGN_LABEL",
    "SplitCommitError",
    "SplitShapeError",
    "MerkleProofError",
    "SplitSignatureError",
    "SplitUpdatePath",
    "SplitFramedContent",
    "SplitCommit",
    "SplitCommitDownload",
    "split_content_tbs",
    "split_confirmed_transcript_hash",
    "merkle_root",
    "merkle_proof_length",
    "merkle_proof",
    "merkle_root_from_proof",
    "split_upload",
    "download_for",
    "verify_download",
    "download_sizes",
]

#: private-use wire formats (RFC 9420 §17.2 reserves 0xF000-0xFFFF)
SPLIT_COMMIT_WIRE_FORMAT = 0xF001
SPLIT_DOWNLOAD_WIRE_FORMAT = 0xF002
SPLIT_SIGN_LABEL = "SplitFramedContentTBS"
_LEAF_LABEL = b"MLS 1.0 split ciphertext"
_NODE_LABEL = b"MLS 1.0 split node"


# ---- errors -------------------------------------------------------------------------------------


class SplitCommitError(RemoteProtocolError):
    """A split commit or download that does not verify (the checks of §12.4.2, split)."""

    rfc_section = "12.4.2"


class SplitShapeError(SplitCommitError):
    """Counts of keys, ciphertexts or proof hashes that do not fit the tree."""


class MerkleProofError(SplitCommitError):
    """A Merkle proof of the wrong length for the member's ciphertext position."""


class SplitSignatureError(SplitCommitError):
    """The signature (or membership tag) over the rebuilt SplitFramedContentTBS does not verify."""


# ---- wire structs -------------------------------------------------------------------------------


def _push_key(w: Writer, key: bytes) -> None:
    w.push_opaque(key)


def _pull_key(r: Reader) -> bytes:
    return r.pull_opaque()


def _pull_wire_format(r: Reader, expected: int) -> None:
    pull_enum16(r, ProtocolVersion)
    wf = r.pull_uint16()
    if wf != expected:
        raise DecodeError(f"wire format {wf:#06x}, expected {expected:#06x}")


def _push_header(w: Writer, wire_format: int) -> None:
    w.push_uint16(ProtocolVersion.MLS10)
    w.push_uint16(wire_format)


@dataclass(frozen=True, slots=True, kw_only=True)
class SplitUpdatePath:
    """An UpdatePath with its ciphertexts replaced by their Merkle root."""

    leaf_node: LeafNode
    encryption_keys: tuple[bytes, ...]
    ciphertexts_root: bytes

    def push(self, w: Writer) -> None:
        self.leaf_node.push(w)
        w.push_vector(self.encryption_keys, _push_key)
        w.push_opaque(self.ciphertexts_root)

    @classmethod
    def pull(cls, r: Reader) -> SplitUpdatePath:
        return cls(
            leaf_node=LeafNode.pull(r),
            encryption_keys=tuple(r.pull_vector(_pull_key)),
            ciphertexts_root=r.pull_opaque(),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SplitFramedContent:
    """The signed part of a split commit (a commit's FramedContent, stripped)."""

    group_id: bytes
    epoch: int
    sender: Sender
    authenticated_data: bytes = b""
    proposals: tuple[ProposalOrRef, ...] = ()
    path: SplitUpdatePath

    def __post_init__(self) -> None:
        if self.sender.sender_type != SenderType.MEMBER:
            raise ValueError("only a member's commit is split")

    def push(self, w: Writer) -> None:
        _push_framing(w, self.group_id, self.epoch, self.sender, self.authenticated_data, self.proposals)
        self.path.push(w)

    @classmethod
    def pull(cls, r: Reader) -> SplitFramedContent:
        group_id, epoch, sender, ad, proposals = _pull_framing(r)
        return cls(
            group_id=group_id,
            epoch=epoch,
            sender=sender,
            authenticated_data=ad,
            proposals=proposals,
            path=SplitUpdatePath.pull(r),
        )


def _push_framing(
    w: Writer, group_id: bytes, epoch: int, sender: Sender, ad: bytes, proposals: Sequence[ProposalOrRef]
) -> None:
    w.push_opaque(group_id)
    w.push_uint64(epoch)
    sender.push(w)
    w.push_opaque(ad)
    w.push_vector(proposals, push_struct)


def _pull_framing(r: Reader) -> tuple[bytes, int, Sender, bytes, tuple[ProposalOrRef, ...]]:
    return (
        r.pull_opaque(),
        r.pull_uint64(),
        Sender.pull(r),
        r.pull_opaque(),
        tuple(r.pull_vector(ProposalOrRef.pull)),
    )


def _push_ciphertexts(w: Writer, cts: Sequence[HPKECiphertext]) -> None:
    w.push_vector(cts, push_struct)


@dataclass(frozen=True, slots=True, kw_only=True)
class SplitCommit:
    """What the committer uploads and the DS keeps: the signed stripped content, its tags, and
    every ciphertext (``path_secrets[i]`` belongs to ``content.path.encryption_keys[i]``)."""

    content: SplitFramedContent
    signature: bytes
    confirmation_tag: bytes
    membership_tag: bytes
    path_secrets: tuple[Sequence[HPKECiphertext], ...]
    #: Merkle subtree hashes keyed by (start, size), filled on first use (not a field)
    _merkle: dict[tuple[int, int], bytes] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.path_secrets) != len(self.content.path.encryption_keys):
            raise ValueError("one EncryptedPathSecrets per path node")

    @property
    def ciphertexts(self) -> list[HPKECiphertext]:
        """All ciphertexts in UpdatePath order: the Merkle tree's leaves."""
        return [ct for cts in self.path_secrets for ct in cts]

    def push(self, w: Writer) -> None:
        _push_header(w, SPLIT_COMMIT_WIRE_FORMAT)
        self.content.push(w)
        w.push_opaque(self.signature)
        w.push_opaque(self.confirmation_tag)
        w.push_opaque(self.membership_tag)
        w.push_vector(self.path_secrets, _push_ciphertexts)

    @classmethod
    def pull(cls, r: Reader) -> SplitCommit:
        _pull_wire_format(r, SPLIT_COMMIT_WIRE_FORMAT)
        return cls(
            content=SplitFramedContent.pull(r),
            signature=r.pull_opaque(),
            confirmation_tag=r.pull_opaque(),
            membership_tag=r.pull_opaque(),
            path_secrets=tuple(r.pull_vector(pull_hpke_ciphertexts)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SplitCommitDownload:
    """What one member downloads: the stripped content minus what it derives, plus its one
    ciphertext and that ciphertext's Merkle proof."""

    group_id: bytes
    epoch: int
    sender: Sender
    authenticated_data: bytes = b""
    proposals: tuple[ProposalOrRef, ...] = ()
    leaf_node: LeafNode
    lower_keys: tuple[bytes, ...] = ()
    signature: bytes
    confirmation_tag: bytes
    membership_tag: bytes
    ciphertext: HPKECiphertext
    proof: bytes = b""

    def push(self, w: Writer) -> None:
        _push_header(w, SPLIT_DOWNLOAD_WIRE_FORMAT)
        _push_framing(w, self.group_id, self.epoch, self.sender, self.authenticated_data, self.proposals)
        self.leaf_node.push(w)
        w.push_vector(self.lower_keys, _push_key)
        w.push_opaque(self.signature)
        w.push_opaque(self.confirmation_tag)
        w.push_opaque(self.membership_tag)
        self.ciphertext.push(w)
        w.push_opaque(self.proof)

    @classmethod
    def pull(cls, r: Reader) -> SplitCommitDownload:
        _pull_wire_format(r, SPLIT_DOWNLOAD_WIRE_FORMAT)
        group_id, epoch, sender, ad, proposals = _pull_framing(r)
        return cls(
            group_id=group_id,
            epoch=epoch,
            sender=sender,
            authenticated_data=ad,
            proposals=proposals,
            leaf_node=LeafNode.pull(r),
            lower_keys=tuple(r.pull_vector(_pull_key)),
            signature=r.pull_opaque(),
            confirmation_tag=r.pull_opaque(),
            membership_tag=r.pull_opaque(),
            ciphertext=HPKECiphertext.pull(r),
            proof=r.pull_opaque(),
        )


# ---- signed bytes -------------------------------------------------------------------------------


def split_content_tbs(content: SplitFramedContent | bytes, group_context: GroupContext | bytes) -> bytes:
    """The SplitFramedContentTBS bytes (``content`` as the struct or its encoding)."""
    w = Writer()
    w.push_uint16(ProtocolVersion.MLS10)
    w.push_bytes(content if isinstance(content, bytes) else encode(content))
    w.push_bytes(group_context if isinstance(group_context, bytes) else encode(group_context))
    return w.data()


def _membership_input(tbs: bytes, signature: bytes, confirmation_tag: bytes) -> bytes:
    w = Writer()
    w.push_bytes(tbs)
    w.push_opaque(signature)
    w.push_opaque(confirmation_tag)
    return w.data()


def split_confirmed_transcript_hash(
    suite: CipherSuite, interim_before: bytes, content: SplitFramedContent, signature: bytes
) -> bytes:
    """§8.2 for a split commit: ConfirmedTranscriptHashInput with the split wire format and the
    SplitFramedContent (what every member can rebuild) in place of the FramedContent."""
    return confirmed_transcript_hash(
        suite, interim_before, SPLIT_COMMIT_WIRE_FORMAT, encode(content), signature
    )


# ---- Merkle tree (RFC 6962 §2.1 shape) ----------------------------------------------------------


def _split_point(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _leaf_hash(suite: CipherSuite, ct: HPKECiphertext) -> bytes:
    return suite.ref_hash(_LEAF_LABEL, encode(ct))


def _inner_hash(suite: CipherSuite, left: bytes, right: bytes) -> bytes:
    return suite.ref_hash(_NODE_LABEL, left + right)


def _subtree(
    suite: CipherSuite,
    leaves: Sequence[HPKECiphertext],
    start: int,
    size: int,
    memo: dict[tuple[int, int], bytes],
) -> bytes:
    key = (start, size)
    h = memo.get(key)
    if h is None:
        if size == 1:
            h = _leaf_hash(suite, leaves[start])
        else:
            k = _split_point(size)
            h = _inner_hash(
                suite,
                _subtree(suite, leaves, start, k, memo),
                _subtree(suite, leaves, start + k, size - k, memo),
            )
        memo[key] = h
    return h


def merkle_root(suite: CipherSuite, leaves: Sequence[HPKECiphertext]) -> bytes:
    """MerkleRoot over ``leaves``; over none (a path whose every resolution holds only new
    members) ``RefHash("MLS 1.0 split node", "")``."""
    if not leaves:
        return suite.ref_hash(_NODE_LABEL, b"")
    return _subtree(suite, leaves, 0, len(leaves), {})


def _sides(m: int, n: int) -> list[bool]:
    """Top-down: is the position in the left subtree at each level?"""
    out: list[bool] = []
    while n > 1:
        k = _split_point(n)
        if m < k:
            out.append(True)
            n = k
        else:
            out.append(False)
            m -= k
            n -= k
    return out


def merkle_proof_length(position: int, n: int) -> int:
    """Hashes in the audit path of leaf ``position`` of ``n`` (at most ceil(log2 n))."""
    length = 0
    while n > 1:
        k = _split_point(n)
        if position < k:
            # a left subtree of k = 2^j leaves: j more levels
            return length + 1 + (k.bit_length() - 1)
        position -= k
        n -= k
        length += 1
    return length


def merkle_proof(
    suite: CipherSuite,
    leaves: Sequence[HPKECiphertext],
    m: int,
    memo: dict[tuple[int, int], bytes] | None = None,
) -> bytes:
    """The audit path of leaf ``m``: sibling subtree hashes from the leaf up, concatenated.
    ``memo`` keeps subtree hashes between calls (O(C) once, then O(log C) per proof)."""
    memo = {} if memo is None else memo
    out: list[bytes] = []
    start, n = 0, len(leaves)
    while n > 1:
        k = _split_point(n)
        if m < k:
            out.append(_subtree(suite, leaves, start + k, n - k, memo))
            n = k
        else:
            out.append(_subtree(suite, leaves, start, k, memo))
            start, m, n = start + k, m - k, n - k
    return b"".join(reversed(out))


def merkle_root_from_proof(suite: CipherSuite, ct: HPKECiphertext, m: int, n: int, proof: bytes) -> bytes:
    nh = suite.info.hash_len
    sides = _sides(m, n)
    if len(proof) != nh * len(sides):
        raise MerkleProofError(
            f"proof of {len(proof)} bytes for position {m} of {n}: expected {len(sides)} hashes of {nh} bytes"
        )
    h = _leaf_hash(suite, ct)
    for i, left in enumerate(reversed(sides)):
        sib = proof[i * nh : (i + 1) * nh]
        h = _inner_hash(suite, h, sib) if left else _inner_hash(suite, sib, h)
    return h


# ---- the committer: upload ----------------------------------------------------------------------


def _strip(
    suite: CipherSuite, ac: AuthenticatedContent
) -> tuple[SplitFramedContent, tuple[Sequence[HPKECiphertext], ...]]:
    content = ac.content
    commit = content.commit
    if commit is None or commit.path is None:
        raise LocalProtocolError("only a commit with an UpdatePath is split (without one, send it plain)")
    if content.sender.sender_type != SenderType.MEMBER:
        raise LocalProtocolError("only a member's commit is split (an external commit is sent plain)")
    path = commit.path
    per_node = tuple(n.encrypted_path_secret for n in path.nodes)
    leaves = [ct for cts in per_node for ct in cts]
    stripped = SplitFramedContent(
        group_id=content.group_id,
        epoch=content.epoch,
        sender=content.sender,
        authenticated_data=content.authenticated_data,
        proposals=commit.proposals,
        path=SplitUpdatePath(
            leaf_node=path.leaf_node,
            encryption_keys=tuple(n.encryption_key for n in path.nodes),
            ciphertexts_root=merkle_root(suite, leaves),
        ),
    )
    return stripped, per_node


def _authenticated(commit: StagedCommit | AuthenticatedContent) -> AuthenticatedContent:
    return commit.authenticated_content if isinstance(commit, StagedCommit) else commit


def split_upload(
    suite: CipherSuite,
    commit: StagedCommit | AuthenticatedContent,
    *,
    signature_priv: bytes,
    group_context: GroupContext | bytes,
    membership_key: bytes,
    confirmation_tag: bytes | None = None,
) -> SplitCommit:
    """The committer's upload for a commit with a path: strip the ciphertexts into their
    Merkle root, sign the stripped content over the commit epoch's ``group_context``, MAC it
    with the epoch's ``membership_key``. ``confirmation_tag`` defaults to the plain commit's
    (see the module docstring)."""
    ac = _authenticated(commit)
    stripped, per_node = _strip(suite, ac)
    tbs = split_content_tbs(stripped, group_context)
    signature = suite.sign_with_label(signature_priv, SPLIT_SIGN_LABEL, tbs)
    tag = confirmation_tag if confirmation_tag is not None else ac.auth.confirmation_tag
    assert tag is not None
    mtag = suite.mac(membership_key, _membership_input(tbs, signature, tag))
    return SplitCommit(
        content=stripped,
        signature=signature,
        confirmation_tag=tag,
        membership_tag=mtag,
        path_secrets=per_node,
    )


# ---- the DS: who gets which ciphertext ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Slot:
    k: int  # index of the path node whose copath child holds the member (its LCA)
    position: int  # the member's ciphertext among all of them
    total: int  # all ciphertexts


def _check_member(tree: TreeView, sender: int, member: int, exclude: AbstractSet[int]) -> None:
    if member == sender:
        raise LocalProtocolError("the committer downloads nothing for its own commit")
    if member in exclude:
        raise LocalProtocolError(f"leaf {member} is added by this commit: it joins by Welcome")
    if tree.leaf(member) is None:
        raise LocalProtocolError(f"leaf {member} is blank")


def _resolution_node(tree: TreeView, s: int, member: int) -> int:
    """The node of ``s``'s resolution whose key ``member`` holds (§4.2 tree invariant): the
    highest non-blank node above it at or below ``s``, unless it is unmerged there."""
    x, leaf_x = s, 2 * member
    while True:
        node = tree.node(x)
        if node is not None:
            if x & 1 and member in node.unmerged_leaves:  # type: ignore[union-attr]
                return leaf_x
            return x
        if x == leaf_x:
            raise LocalProtocolError(f"leaf {member} is blank")
        half = 1 << (level(x) - 1)
        x = x - half if leaf_x < x else x + half


def _slot(tree: TreeView, sender: int, member: int, exclude: AbstractSet[int]) -> _Slot:
    _check_member(tree, sender, member, exclude)
    path = tree.filtered_direct_path_with_copath(sender)
    lca = common_ancestor(2 * sender, 2 * member)
    ks = [k for k, (p, _) in enumerate(path) if p == lca]
    if not ks:
        raise PathSecretUnavailableError(f"leaf {member}'s LCA with {sender} is not on its filtered path")
    k = ks[0]
    sizes = [len(tree.resolution(s, exclude)) for _, s in path]
    s = path[k][1]
    r = _resolution_node(tree, s, member)
    res = tree.resolution(s, exclude)
    return _Slot(k, sum(sizes[:k]) + res.index(NodeIndex(r)), sum(sizes))


def _slots(tree: TreeView, sender: int, exclude: AbstractSet[int]) -> tuple[dict[LeafIndex, _Slot], int]:
    """Every recipient's slot in one pass: O(N) over all resolutions."""
    path = tree.filtered_direct_path_with_copath(sender)
    resolutions = [tree.resolution(s, exclude) for _, s in path]
    total = sum(len(r) for r in resolutions)
    out: dict[LeafIndex, _Slot] = {}
    offset = 0
    for k, res in enumerate(resolutions):
        for j, r in enumerate(res):
            slot = _Slot(k, offset + j, total)
            if r & 1 == 0:
                out[LeafIndex(r >> 1)] = slot
                continue
            node = tree.node(r)
            assert node is not None
            unmerged = set(node.unmerged_leaves)  # type: ignore[union-attr]
            lo, hi = subtree_leaves(r)
            for i in range(lo, hi):
                if i not in unmerged and i not in exclude and tree.leaf(i) is not None:
                    out[LeafIndex(i)] = slot
        offset += len(res)
    return out, total


def download_for(
    split: SplitCommit, member: int, tree: TreeView, *, exclude: AbstractSet[int] = frozenset()
) -> SplitCommitDownload:
    """The DS's per-member download. ``tree`` is the tree with the commit's proposals applied
    (the new epoch's tree will do: the path's own nodes are not read); ``exclude`` the leaves
    the commit adds. Cost: O(N) resolution walk, O(log C) proof after the first call."""
    c = split.content
    sender = c.sender.index
    slot = _slot(tree, sender, member, exclude)
    leaves = split.ciphertexts
    if len(leaves) != slot.total:
        raise SplitShapeError(f"{len(leaves)} ciphertexts uploaded, the tree's resolutions hold {slot.total}")
    return SplitCommitDownload(
        group_id=c.group_id,
        epoch=c.epoch,
        sender=c.sender,
        authenticated_data=c.authenticated_data,
        proposals=c.proposals,
        leaf_node=c.path.leaf_node,
        lower_keys=c.path.encryption_keys[: slot.k],
        signature=split.signature,
        confirmation_tag=split.confirmation_tag,
        membership_tag=split.membership_tag,
        ciphertext=leaves[slot.position],
        proof=merkle_proof(tree.suite, leaves, slot.position, split._merkle),
    )


# ---- the member: verify -------------------------------------------------------------------------


def verify_download(
    suite: CipherSuite,
    download: SplitCommitDownload,
    *,
    tree: TreeView,
    receiver: PathKeys,
    signature_key: bytes,
    group_context: GroupContext | bytes,
    provisional_context: bytes,
    membership_key: bytes | None = None,
    exclude: AbstractSet[int] = frozenset(),
) -> PathDecryption:
    """A member's checks of its download: find its resolution node (first one it holds a key
    for, as :func:`~mlssim.mls.treekem.decrypt_update_path`), open the ciphertext with
    DecryptWithLabel(…, "UpdatePathNode", ``provisional_context``), derive the path keys from
    its LCA up, recompute the Merkle root from the ciphertext and proof, rebuild
    SplitFramedContentTBS over ``group_context`` (the commit's epoch) and verify the signature
    with ``signature_key`` (the committer's, from the current tree) and, if given, the
    membership tag. Returns what decrypting the plain UpdatePath returns."""
    me = receiver.leaf
    sender = download.sender.index
    if download.sender.sender_type != SenderType.MEMBER:
        raise SplitShapeError("only a member's commit is split")
    if me == sender or me in exclude:
        raise LocalProtocolError(f"leaf {me} does not process this commit from a download")
    path = tree.filtered_direct_path_with_copath(sender)
    k = next((k for k, (_, s) in enumerate(path) if _under(s, me)), None)
    if k is None:
        raise PathSecretUnavailableError(
            f"leaf {me} is under no copath child of leaf {sender}'s filtered path"
        )
    if len(download.lower_keys) != k:
        raise SplitShapeError(f"{len(download.lower_keys)} keys below the LCA, expected {k}")
    resolutions = [tree.resolution(s, exclude) for _, s in path]
    held = next(
        (
            (pos, r, priv)
            for pos, r in enumerate(resolutions[k])
            if (priv := receiver.usable_key(tree, r)) is not None
        ),
        None,
    )
    if held is None:
        raise PathSecretUnavailableError(f"leaf {me} holds no key in the resolution of node {path[k][1]}")
    pos, r, priv = held
    position = sum(len(res) for res in resolutions[:k]) + pos
    total = sum(len(res) for res in resolutions)
    root = merkle_root_from_proof(suite, download.ciphertext, position, total, download.proof)

    ct = download.ciphertext
    try:
        secret = suite.decrypt_with_label(
            priv, UPDATE_PATH_LABEL, provisional_context, ct.kem_output, ct.ciphertext
        )
    except CryptoError as exc:
        raise PathSecretDecryptionError(
            f"path secret for node {path[k][0]} does not open with node {r}'s key"
        ) from exc
    first = secret
    derived: dict[NodeIndex, KeyPair] = {}
    for j in range(k, len(path)):
        derived[path[j][0]] = node_key_pair(suite, secret)
        secret = next_path_secret(suite, secret)

    content = SplitFramedContent(
        group_id=download.group_id,
        epoch=download.epoch,
        sender=download.sender,
        authenticated_data=download.authenticated_data,
        proposals=download.proposals,
        path=SplitUpdatePath(
            leaf_node=download.leaf_node,
            encryption_keys=(*download.lower_keys, *(derived[p].pub for p, _ in path[k:])),
            ciphertexts_root=root,
        ),
    )
    tbs = split_content_tbs(content, group_context)
    if not suite.verify_with_label(signature_key, SPLIT_SIGN_LABEL, tbs, download.signature):
        raise SplitSignatureError("signature over the rebuilt SplitFramedContentTBS does not verify")
    if membership_key is not None:
        expect = suite.mac(
            membership_key, _membership_input(tbs, download.signature, download.confirmation_tag)
        )
        if expect != download.membership_tag:
            raise SplitSignatureError("membership tag does not verify")
    return PathDecryption(
        commit_secret=secret,
        path_keys=receiver.pruned(tree).with_nodes(derived),
        node=path[k][0],
        path_secret=first,
    )


def _under(x: int, leaf: int) -> bool:
    lo, hi = subtree_leaves(x)
    return lo <= leaf < hi


# ---- sizes for the fan-out hook -----------------------------------------------------------------


def _opaque_len(n: int) -> int:
    return varint_size(n) + n


def _vector_len(items: Iterable[int]) -> int:
    body = sum(items)
    return varint_size(body) + body


def download_sizes(
    suite: CipherSuite,
    commit: SplitCommit | StagedCommit,
    tree: TreeView | None = None,
    *,
    exclude: AbstractSet[int] | None = None,
) -> dict[LeafIndex, int]:
    """Exact encoded size of every member's download, in O(N + C) (no proof is built).

    From a :class:`SplitCommit`, the sizes of :func:`download_for`. From a StagedCommit (what
    the simulator's fan-out hook holds), the same without re-signing: the signature and tags
    are as long as the plain commit's (exact for EdDSA suites and the model family; an ECDSA
    signature may differ by a byte or two). A StagedCommit without a path, or an external
    commit, is not split: every member downloads the plain commit. ``tree`` defaults to the
    staged commit's new tree and ``exclude`` to the leaves it adds. Members the commit removes
    are not in the result (the fan-out hook gives them the plain commit or a notice)."""
    nh = suite.info.hash_len
    if isinstance(commit, StagedCommit):
        tree = commit.ratchet_tree if tree is None else tree
        exclude = frozenset(int(a) for a in commit.added) if exclude is None else exclude
        ac = commit.authenticated_content
        c0 = ac.content
        member_sender = c0.sender.sender_type == SenderType.MEMBER
        if c0.commit is None or c0.commit.path is None or not member_sender:
            plain = len(commit.message_bytes)
            sender = c0.sender.index if c0.sender.sender_type == SenderType.MEMBER else -1
            return {i: plain for i, _ in tree.leaves() if i != sender and i not in exclude}
        content, per_node = _strip(suite, ac)
        sig_len, tag_len, mtag_len = len(ac.auth.signature), len(ac.auth.confirmation_tag or b""), nh
    else:
        if tree is None:
            raise LocalProtocolError("download_sizes of a SplitCommit needs the tree")
        exclude = frozenset() if exclude is None else exclude
        content, per_node = commit.content, commit.path_secrets
        sig_len, tag_len, mtag_len = (
            len(commit.signature),
            len(commit.confirmation_tag),
            len(commit.membership_tag),
        )

    w = Writer()
    _push_header(w, SPLIT_DOWNLOAD_WIRE_FORMAT)
    _push_framing(
        w, content.group_id, content.epoch, content.sender, content.authenticated_data, content.proposals
    )
    content.path.leaf_node.push(w)
    fixed = len(w) + _opaque_len(sig_len) + _opaque_len(tag_len) + _opaque_len(mtag_len)
    key_lens = [_opaque_len(len(key)) for key in content.path.encryption_keys]
    ct_lens = [
        _opaque_len(len(ct.kem_output)) + _opaque_len(len(ct.ciphertext)) for cts in per_node for ct in cts
    ]

    slots, total = _slots(tree, content.sender.index, exclude)
    if total != len(ct_lens):
        raise SplitShapeError(f"{len(ct_lens)} ciphertexts, the tree's resolutions hold {total}")
    keys_at = [_vector_len(key_lens[:k]) for k in range(len(key_lens) + 1)]
    return {
        leaf: fixed
        + keys_at[s.k]
        + ct_lens[s.position]
        + _opaque_len(nh * merkle_proof_length(s.position, total))
        for leaf, s in slots.items()
    }


def upload_size(suite: CipherSuite, commit: StagedCommit) -> int:
    """Exact encoded size of the committer's :class:`SplitCommit` for ``commit``, without
    re-signing (the signature and tags are as long as the plain commit's; see
    :func:`download_sizes`). A commit that is not split uploads the plain commit."""
    ac = commit.authenticated_content
    c0 = ac.content
    if c0.commit is None or c0.commit.path is None or c0.sender.sender_type != SenderType.MEMBER:
        return len(commit.message_bytes)
    stripped, per_node = _strip(suite, ac)
    tag = ac.auth.confirmation_tag
    assert tag is not None
    split = SplitCommit(
        content=stripped,
        signature=ac.auth.signature,
        confirmation_tag=tag,
        membership_tag=bytes(suite.info.hash_len),
        path_secrets=per_node,
    )
    return len(encode(split))
