"""Server-assisted ("split") commits: the committer uploads every ciphertext once, the DS hands
each member only what it needs (after Alwen et al., "Server-Aided Continuous Group Key
Agreement", CCS 2022 — SAIK — and draft-mularczyk-mls-splitcommit). Not RFC 9420: a variant of
its commit for bandwidth studies, built only from RFC 9420 pieces (§5.1 labeled signatures and
RefHash, §7.6 HPKECiphertext, §7.4 path secret derivation).

The wire format (structs, signed bytes) is in ``split_format`` and the Merkle tree over the
ciphertexts in ``split_merkle``; this module is their use: the committer's upload, the DS's
per-member downloads, a member's checks, and exact sizes for the simulator's fan-out hook.
Every name is re-exported here.

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
from dataclasses import dataclass

from ..mls.codec import Writer, encode, varint_size
from ..mls.crypto.suite import CipherSuite, KeyPair
from ..mls.errors import CryptoError, LocalProtocolError
from ..mls.group_state import StagedCommit
from ..mls.messages.common import GroupContext
from ..mls.messages.enums import SenderType
from ..mls.messages.framing import AuthenticatedContent
from ..mls.messages.tree import HPKECiphertext
from ..mls.ratchet_tree import TreeView
from ..mls.split_commit import slots as draft_slots
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
from .split_format import (
    SPLIT_COMMIT_WIRE_FORMAT,
    SPLIT_DOWNLOAD_WIRE_FORMAT,
    SPLIT_SIGN_LABEL,
    MerkleProofError,
    SplitCommit,
    SplitCommitDownload,
    SplitCommitError,
    SplitFramedContent,
    SplitShapeError,
    SplitSignatureError,
    SplitUpdatePath,
    _membership_input,
    _push_framing,
    _push_header,
    split_confirmed_transcript_hash,
    split_content_tbs,
)
from .split_merkle import merkle_proof, merkle_proof_length, merkle_root, merkle_root_from_proof

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
    """Every recipient's slot in one pass, O(N) over all resolutions: the draft's per-node slots
    (``mls.split_commit.slots``) placed in the one list of all ciphertexts the Merkle tree covers."""
    sizes = [len(tree.resolution(s, exclude)) for _, s in tree.filtered_direct_path_with_copath(sender)]
    offsets = [sum(sizes[:k]) for k in range(len(sizes))]
    total = sum(sizes)
    placed = draft_slots(tree, sender, exclude)
    return {leaf: _Slot(sl.k, offsets[sl.k] + sl.position, total) for leaf, sl in placed.items()}, total


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
    path, slot, r, priv = _held_key(download, tree, receiver, exclude)
    k = slot.k
    root = merkle_root_from_proof(suite, download.ciphertext, slot.position, slot.total, download.proof)

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


def _held_key(
    download: SplitCommitDownload, tree: TreeView, receiver: PathKeys, exclude: AbstractSet[int]
) -> tuple[list[tuple[NodeIndex, NodeIndex]], _Slot, NodeIndex, bytes]:
    """:func:`verify_download`'s checks before any cryptography, and where the member's
    ciphertext is: the committer's filtered path (with copath children), the member's slot on
    it, and the first node of its resolution whose private key the member holds, with that key."""
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
    return path, _Slot(k, position, total), r, priv


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
