"""The wire format of split commits: what the committer uploads, what one member downloads, and
the bytes that are signed and MACed.

Kept apart from their use (``split_commit``: building, splitting and verifying; sizes for the
fan-out hook) so that the format can change alone, e.g. to follow
draft-mularczyk-mls-splitcommit. The Merkle tree over the ciphertexts is in ``split_merkle``.

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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..mls.codec import Reader, Writer, encode, push_struct
from ..mls.crypto.suite import CipherSuite
from ..mls.errors import DecodeError, RemoteProtocolError
from ..mls.messages.common import GroupContext
from ..mls.messages.enums import ProtocolVersion, SenderType, pull_enum16
from ..mls.messages.framing import Sender
from ..mls.messages.proposals import ProposalOrRef
from ..mls.messages.tree import HPKECiphertext, LeafNode, pull_hpke_ciphertexts
from ..mls.transcript import confirmed_transcript_hash

__all__ = [
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
]

#: private-use wire formats (RFC 9420 §17.2 reserves 0xF000-0xFFFF)
SPLIT_COMMIT_WIRE_FORMAT = 0xF001
SPLIT_DOWNLOAD_WIRE_FORMAT = 0xF002
SPLIT_SIGN_LABEL = "SplitFramedContentTBS"


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
