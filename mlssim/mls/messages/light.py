"""The wire structs of draft-kiefer-mls-light (Light MLS; not RFC 9420): the membership proof
(§6), the sender-authenticated message (§7), the annotated Welcome (§8) and the annotated
commit (§10), in the TLS presentation syntax the draft writes them in.

None of them is an MLSMessage body: the draft registers no WireFormat for them (appendix
"Known Issues": the annotations are "effectively outside the bounds of MLS"), so they travel
as these structs, beside the MLS messages they carry (choice L1 in ``mls/light.py``). Their
rules (building, checking, processing) are in ``mls/light.py`` and ``mls/light_process.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..codec import Reader, Writer
from .framing import MLSMessage
from .tree import LeafNode, Node, ParentNode, pull_node, push_node
from .welcome import Welcome

__all__ = ["MembershipProof", "SenderAuthenticatedMessage", "AnnotatedWelcome", "AnnotatedCommit"]


def _push_optional_node(w: Writer, node: Node | None) -> None:
    if node is None:
        w.push_uint8(0)
    else:
        w.push_uint8(1)
        push_node(w, node)


def _push_hash(w: Writer, h: bytes) -> None:
    w.push_opaque(h)  # CopathHash: struct { opaque hash_value<V>; }


def _pull_hash(r: Reader) -> bytes:
    return r.pull_opaque()


@dataclass(frozen=True, slots=True, kw_only=True)
class MembershipProof:
    """§6: ``struct { uint32 leaf_index; uint32 n_leaves; optional<Node> direct_path_nodes<V>;
    CopathHash copath_hashes<V>; }``. ``direct_path_nodes`` runs from the leaf (index 0) to the
    root; ``copath_hashes[i]`` is the tree hash of the sibling of ``direct_path_nodes[i]``.
    Validated on construction: the shape the §7.8 recomputation needs."""

    leaf_index: int
    n_leaves: int
    direct_path_nodes: tuple[Node | None, ...]
    copath_hashes: tuple[bytes, ...]

    def __post_init__(self) -> None:
        n = self.n_leaves
        if n < 1 or n & (n - 1):
            raise ValueError(f"n_leaves {n} is not a power of two (RFC 9420 §7.7)")
        if not 0 <= self.leaf_index < n:
            raise ValueError(f"leaf_index {self.leaf_index} outside a tree of {n} leaves")
        depth = n.bit_length() - 1
        if len(self.direct_path_nodes) != depth + 1 or len(self.copath_hashes) != depth:
            raise ValueError(
                f"a proof in a tree of {n} leaves has {depth + 1} nodes and {depth} copath hashes, "
                f"not {len(self.direct_path_nodes)} and {len(self.copath_hashes)}"
            )
        for i, node in enumerate(self.direct_path_nodes):
            if node is not None and isinstance(node, LeafNode) != (i == 0):
                raise ValueError(f"direct_path_nodes[{i}] is a {type(node).__name__}")

    @property
    def leaf(self) -> LeafNode | None:
        node = self.direct_path_nodes[0]
        assert node is None or isinstance(node, LeafNode)
        return node

    def parent(self, level: int) -> ParentNode | None:
        """The direct-path node ``level`` steps above the leaf (1 .. depth)."""
        node = self.direct_path_nodes[level]
        assert node is None or isinstance(node, ParentNode)
        return node

    def push(self, w: Writer) -> None:
        w.push_uint32(self.leaf_index)
        w.push_uint32(self.n_leaves)
        w.push_vector(self.direct_path_nodes, _push_optional_node)
        w.push_vector(self.copath_hashes, _push_hash)

    @classmethod
    def pull(cls, r: Reader) -> MembershipProof:
        return cls(
            leaf_index=r.pull_uint32(),
            n_leaves=r.pull_uint32(),
            direct_path_nodes=tuple(r.pull_vector(lambda s: s.pull_optional(pull_node))),
            copath_hashes=tuple(r.pull_vector(_pull_hash)),
        )


def _push_proof(w: Writer, p: MembershipProof) -> None:
    p.push(w)


@dataclass(frozen=True, slots=True, kw_only=True)
class SenderAuthenticatedMessage:
    """§7: ``struct { T message; MembershipProof sender_membership_proof; }`` with ``T`` an
    MLSMessage (a PublicMessage or PrivateMessage; the Welcome case is :class:`AnnotatedWelcome`)."""

    message: MLSMessage
    sender_membership_proof: MembershipProof

    def push(self, w: Writer) -> None:
        self.message.push(w)
        self.sender_membership_proof.push(w)

    @classmethod
    def pull(cls, r: Reader) -> SenderAuthenticatedMessage:
        return cls(message=MLSMessage.pull(r), sender_membership_proof=MembershipProof.pull(r))


@dataclass(frozen=True, slots=True, kw_only=True)
class AnnotatedWelcome:
    """§8: ``struct { SenderAuthenticatedMessage<Welcome> welcome; MembershipProof
    joiner_membership_proof; }``, flattened: a struct inside a struct encodes as its fields, so
    the bytes are the draft's."""

    welcome: Welcome
    sender_membership_proof: MembershipProof
    joiner_membership_proof: MembershipProof

    def push(self, w: Writer) -> None:
        self.welcome.push(w)
        self.sender_membership_proof.push(w)
        self.joiner_membership_proof.push(w)

    @classmethod
    def pull(cls, r: Reader) -> AnnotatedWelcome:
        return cls(
            welcome=Welcome.pull(r),
            sender_membership_proof=MembershipProof.pull(r),
            joiner_membership_proof=MembershipProof.pull(r),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AnnotatedCommit:
    """§10: ``struct { MLSMessage commit; optional<MembershipProof> sender_membership_proof;
    opaque tree_hash_after<V>; optional<uint32> resolution_index; MembershipProof
    sender_membership_proof_after; MembershipProof receiver_membership_proof_after; }``."""

    commit: MLSMessage
    sender_membership_proof: MembershipProof | None
    tree_hash_after: bytes
    resolution_index: int | None
    sender_membership_proof_after: MembershipProof
    receiver_membership_proof_after: MembershipProof

    def push(self, w: Writer) -> None:
        self.commit.push(w)
        w.push_optional(self.sender_membership_proof, _push_proof)
        w.push_opaque(self.tree_hash_after)
        w.push_optional(self.resolution_index, Writer.push_uint32)
        self.sender_membership_proof_after.push(w)
        self.receiver_membership_proof_after.push(w)

    @classmethod
    def pull(cls, r: Reader) -> AnnotatedCommit:
        return cls(
            commit=MLSMessage.pull(r),
            sender_membership_proof=r.pull_optional(MembershipProof.pull),
            tree_hash_after=r.pull_opaque(),
            resolution_index=r.pull_optional(Reader.pull_uint32),
            sender_membership_proof_after=MembershipProof.pull(r),
            receiver_membership_proof_after=MembershipProof.pull(r),
        )
