"""Ratchet-tree wire structs (RFC 9420 §7.1, §7.2, §7.6, §12.4.3.3).

``Node`` is the union ``LeafNode | ParentNode`` rather than a wrapper, so that a tree of
50,000 leaves holds one object per node; :func:`push_node`/:func:`pull_node` add the
``NodeType`` tag. The ratchet tree is a ``list[Node | None]`` in array order (Appendix C).
"""

from __future__ import annotations

import struct as _struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

from ..codec import Reader, Writer, cached_encoding, varint_size
from ..errors import DecodeError
from .common import Extension, pull_extensions, push_extensions
from .credentials import Credential
from .enums import LeafNodeSource, NodeType, pull_enum8

__all__ = [
    "Capabilities",
    "RequiredCapabilities",
    "Lifetime",
    "LeafNode",
    "leaf_node_tbs",
    "ParentNode",
    "Node",
    "push_node",
    "pull_node",
    "push_ratchet_tree",
    "pull_ratchet_tree",
    "encode_ratchet_tree",
    "decode_ratchet_tree",
    "ratchet_tree_bytes",
    "HPKECiphertext",
    "HPKECiphertextBlock",
    "pull_hpke_ciphertexts",
    "UpdatePathNode",
    "UpdatePath",
    "SUpdatePath",
    "IndividualUpdatePath",
    "push_uint16_vector",
    "pull_uint16_vector",
    "push_uint32_vector",
    "pull_uint32_vector",
]


# Integer vectors are packed and unpacked in one call each: no per-item Python loop.


def push_uint16_vector(w: Writer, items: Sequence[int]) -> None:
    """``uint16 items<V>``."""
    w.push_opaque(_struct.pack(f">{len(items)}H", *items))


def pull_uint16_vector(r: Reader) -> tuple[int, ...]:
    data = r.pull_opaque()
    if len(data) % 2:
        raise DecodeError(f"uint16 vector of odd length {len(data)}")
    return _struct.unpack(f">{len(data) // 2}H", data)


def push_uint32_vector(w: Writer, items: Sequence[int]) -> None:
    """``uint32 items<V>``."""
    w.push_opaque(_struct.pack(f">{len(items)}I", *items))


def pull_uint32_vector(r: Reader) -> tuple[int, ...]:
    data = r.pull_opaque()
    if len(data) % 4:
        raise DecodeError(f"uint32 vector of length {len(data)}, not a multiple of 4")
    return _struct.unpack(f">{len(data) // 4}I", data)


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    """§7.2 Capabilities: what a client supports.

    Values stay plain ``uint16`` because unknown and GREASE values (§13.5) are legal here.
    """

    versions: tuple[int, ...] = ()
    cipher_suites: tuple[int, ...] = ()
    extensions: tuple[int, ...] = ()
    proposals: tuple[int, ...] = ()
    credentials: tuple[int, ...] = ()

    def push(self, w: Writer) -> None:
        push_uint16_vector(w, self.versions)
        push_uint16_vector(w, self.cipher_suites)
        push_uint16_vector(w, self.extensions)
        push_uint16_vector(w, self.proposals)
        push_uint16_vector(w, self.credentials)

    @classmethod
    def pull(cls, r: Reader) -> Capabilities:
        return cls(
            versions=pull_uint16_vector(r),
            cipher_suites=pull_uint16_vector(r),
            extensions=pull_uint16_vector(r),
            proposals=pull_uint16_vector(r),
            credentials=pull_uint16_vector(r),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RequiredCapabilities:
    """§11.1 RequiredCapabilities: the required_capabilities group context extension data.

    Kept beside :class:`Capabilities`, the leaf-side list it is checked against.
    """

    extension_types: tuple[int, ...] = ()
    proposal_types: tuple[int, ...] = ()
    credential_types: tuple[int, ...] = ()

    def push(self, w: Writer) -> None:
        push_uint16_vector(w, self.extension_types)
        push_uint16_vector(w, self.proposal_types)
        push_uint16_vector(w, self.credential_types)

    @classmethod
    def pull(cls, r: Reader) -> RequiredCapabilities:
        return cls(
            extension_types=pull_uint16_vector(r),
            proposal_types=pull_uint16_vector(r),
            credential_types=pull_uint16_vector(r),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Lifetime:
    """§7.2 Lifetime of a key-package leaf, in seconds since the epoch."""

    not_before: int
    not_after: int

    def push(self, w: Writer) -> None:
        w.push_uint64(self.not_before)
        w.push_uint64(self.not_after)

    @classmethod
    def pull(cls, r: Reader) -> Lifetime:
        return cls(not_before=r.pull_uint64(), not_after=r.pull_uint64())


@dataclass(frozen=True, slots=True, kw_only=True)
class LeafNode:
    """§7.2 LeafNode.

    ``lifetime`` is present iff the source is ``key_package``; ``parent_hash`` may be
    non-empty only if the source is ``commit``.
    """

    encryption_key: bytes
    signature_key: bytes
    credential: Credential
    capabilities: Capabilities
    leaf_node_source: LeafNodeSource
    lifetime: Lifetime | None = None  # key_package
    parent_hash: bytes = b""  # commit
    extensions: tuple[Extension, ...] = ()
    signature: bytes = b""
    #: the encoding, kept from decoding or the first :meth:`encoded` (tree hashes, LeafNodeTBS
    #: and the ratchet_tree extension all need it); not a field of the struct, as
    #: ``FramedContent._wire``. :meth:`push` always re-encodes.
    _wire: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (self.lifetime is not None) != (self.leaf_node_source == LeafNodeSource.KEY_PACKAGE):
            raise ValueError("a LeafNode has a lifetime iff its source is key_package")
        if self.parent_hash and self.leaf_node_source != LeafNodeSource.COMMIT:
            raise ValueError("only a commit-sourced LeafNode has a parent_hash")

    def _push_tbs_body(self, w: Writer) -> None:
        w.push_opaque(self.encryption_key)
        w.push_opaque(self.signature_key)
        self.credential.push(w)
        self.capabilities.push(w)
        w.push_uint8(self.leaf_node_source)
        if self.leaf_node_source == LeafNodeSource.KEY_PACKAGE:
            assert self.lifetime is not None
            self.lifetime.push(w)
        elif self.leaf_node_source == LeafNodeSource.COMMIT:
            w.push_opaque(self.parent_hash)
        push_extensions(w, self.extensions)

    def push(self, w: Writer) -> None:
        self._push_tbs_body(w)
        w.push_opaque(self.signature)

    def encoded(self) -> bytes:
        """The §7.2 LeafNode bytes: those it was decoded from, else encoded once."""
        return cached_encoding(self)

    def tbs_body(self) -> bytes:
        """The encoding without the trailing ``signature`` (the start of LeafNodeTBS)."""
        wire = self.encoded()
        n = len(self.signature)
        return wire[: len(wire) - n - varint_size(n)]

    @classmethod
    def pull(cls, r: Reader) -> LeafNode:
        start = r.pos
        encryption_key = r.pull_opaque()
        signature_key = r.pull_opaque()
        credential = Credential.pull(r)
        capabilities = Capabilities.pull(r)
        source = pull_enum8(r, LeafNodeSource)
        lifetime = Lifetime.pull(r) if source == LeafNodeSource.KEY_PACKAGE else None
        parent_hash = r.pull_opaque() if source == LeafNodeSource.COMMIT else b""
        leaf = cls(
            encryption_key=encryption_key,
            signature_key=signature_key,
            credential=credential,
            capabilities=capabilities,
            leaf_node_source=source,
            lifetime=lifetime,
            parent_hash=parent_hash,
            extensions=pull_extensions(r),
            signature=r.pull_opaque(),
        )
        object.__setattr__(leaf, "_wire", r.since(start))
        return leaf


def leaf_node_tbs(leaf: LeafNode, group_id: bytes | None = None, leaf_index: int | None = None) -> bytes:
    """The §7.2 LeafNodeTBS bytes that ``leaf.signature`` signs (label "LeafNodeTBS").

    A key-package leaf is signed without group context; an update or commit leaf also
    binds ``group_id`` and ``leaf_index``, which must then be given.
    """
    w = Writer()
    w.push_bytes(leaf.tbs_body())
    if leaf.leaf_node_source == LeafNodeSource.KEY_PACKAGE:
        if group_id is not None or leaf_index is not None:
            raise ValueError("a key_package LeafNodeTBS has no group_id or leaf_index")
    else:
        if group_id is None or leaf_index is None:
            raise ValueError(f"a {leaf.leaf_node_source.name} LeafNodeTBS needs group_id and leaf_index")
        w.push_opaque(group_id)
        w.push_uint32(leaf_index)
    return w.data()


@dataclass(frozen=True, slots=True, kw_only=True)
class ParentNode:
    """§7.1 ParentNode: a path key, its parent hash, and leaves added since it was set."""

    encryption_key: bytes
    parent_hash: bytes = b""
    unmerged_leaves: tuple[int, ...] = ()

    def push(self, w: Writer) -> None:
        w.push_opaque(self.encryption_key)
        w.push_opaque(self.parent_hash)
        push_uint32_vector(w, self.unmerged_leaves)

    @classmethod
    def pull(cls, r: Reader) -> ParentNode:
        return cls(
            encryption_key=r.pull_opaque(),
            parent_hash=r.pull_opaque(),
            unmerged_leaves=pull_uint32_vector(r),
        )


Node = LeafNode | ParentNode
"""§12.4.3.3 Node: the select on ``NodeType``, told apart by class."""


def push_node(w: Writer, node: Node) -> None:
    """``Node`` with its ``NodeType`` tag (§12.4.3.3)."""
    if isinstance(node, LeafNode):
        w.push_uint8(NodeType.LEAF)
    else:
        w.push_uint8(NodeType.PARENT)
    node.push(w)


def pull_node(r: Reader) -> Node:
    if pull_enum8(r, NodeType) == NodeType.LEAF:
        return LeafNode.pull(r)
    return ParentNode.pull(r)


def _push_optional_node(w: Writer, node: Node | None) -> None:
    if node is None:
        w.push_uint8(0)
    else:
        w.push_uint8(1)
        push_node(w, node)


def _pull_optional_node(r: Reader) -> Node | None:
    return r.pull_optional(pull_node)


def push_ratchet_tree(w: Writer, nodes: Sequence[Node | None]) -> None:
    """``optional<Node> ratchet_tree<V>`` (§12.4.3.3) in array order.

    Trailing blanks are dropped, as the sender MUST; an all-blank tree cannot be sent.
    """
    end = len(nodes)
    while end and nodes[end - 1] is None:
        end -= 1
    if end == 0:
        raise ValueError("a ratchet tree needs at least one non-blank node")
    w.push_vector(nodes[:end], _push_optional_node)


def pull_ratchet_tree(r: Reader) -> list[Node | None]:
    """Decode a ratchet tree exactly as sent (not extended to a full tree).

    Rejects what §12.4.3.3 forbids structurally: an empty tree, a blank last node, a
    leaf at an odd (parent) position or a parent at an even (leaf) position.
    """
    nodes = r.pull_vector(_pull_optional_node)
    if not nodes or nodes[-1] is None:
        raise DecodeError("the last node of a ratchet tree must not be blank (§12.4.3.3)")
    for i in range(0, len(nodes), 2):
        if isinstance(nodes[i], ParentNode):
            raise DecodeError(f"parent node at leaf position {i} of the ratchet tree")
    for i in range(1, len(nodes), 2):
        if isinstance(nodes[i], LeafNode):
            raise DecodeError(f"leaf node at parent position {i} of the ratchet tree")
    return nodes


def encode_ratchet_tree(nodes: Sequence[Node | None]) -> bytes:
    w = Writer()
    push_ratchet_tree(w, nodes)
    return w.data()


def ratchet_tree_bytes(nodes: Sequence[Node | None]) -> bytes:
    """The bytes of :func:`encode_ratchet_tree`, each leaf from its kept encoding
    (:meth:`LeafNode.encoded`): a tree's leaves are encoded once, not once per Welcome."""
    end = len(nodes)
    while end and nodes[end - 1] is None:
        end -= 1
    if end == 0:
        raise ValueError("a ratchet tree needs at least one non-blank node")
    inner = Writer()
    for node in nodes[:end]:
        if node is None:
            inner.push_uint8(0)
        elif isinstance(node, LeafNode):
            inner.push_uint8(1)
            inner.push_uint8(NodeType.LEAF)
            inner.push_bytes(node.encoded())
        else:
            inner.push_uint8(1)
            inner.push_uint8(NodeType.PARENT)
            node.push(inner)
    w = Writer()
    w.push_opaque(inner.data())
    return w.data()


def decode_ratchet_tree(data: bytes) -> list[Node | None]:
    """Decode exactly one ratchet tree; only :class:`DecodeError` escapes."""
    r = Reader(bytes(data))
    try:
        nodes = pull_ratchet_tree(r)
    except ValueError as exc:
        raise DecodeError(f"invalid ratchet tree: {exc}") from exc
    r.expect_end()
    return nodes


@dataclass(frozen=True, slots=True, kw_only=True)
class HPKECiphertext:
    """§7.6 HPKECiphertext: an HPKE encapsulation and the sealed data."""

    kem_output: bytes
    ciphertext: bytes

    def push(self, w: Writer) -> None:
        w.push_opaque(self.kem_output)
        w.push_opaque(self.ciphertext)

    @classmethod
    def pull(cls, r: Reader) -> HPKECiphertext:
        return cls(kem_output=r.pull_opaque(), ciphertext=r.pull_opaque())


def _hpke_ciphertext(kem_output: bytes, ciphertext: bytes) -> HPKECiphertext:
    return HPKECiphertext(kem_output=kem_output, ciphertext=ciphertext)


def _push_hpke_ciphertext(w: Writer, c: HPKECiphertext) -> None:
    c.push(w)


class HPKECiphertextBlock(Sequence[HPKECiphertext]):
    """A decoded ``HPKECiphertext encrypted_path_secret<V>`` whose items all have the same
    encoded header and lengths (every ciphertext of one UpdatePath does: one suite), kept as
    the validated block and cut into :class:`HPKECiphertext` items only when one is read.

    A commit to N members can carry N-1 ciphertexts in one node, of which a receiver opens
    one (§7.6, §12.4.2); building N-1 objects would cost more than all of its cryptography.
    Behaves as the tuple of its items: ``len``, indexing, slicing (a tuple), iteration,
    ``==`` with tuples and other blocks, ``hash``.
    """

    __slots__ = ("_block", "_k_at", "_k_len", "_c_at", "_c_len", "_stride", "_n")

    def __init__(self, block: bytes, k_at: int, k_len: int, c_at: int, c_len: int, stride: int) -> None:
        """Internal: use :func:`pull_hpke_ciphertexts`, which validates ``block``."""
        self._block = block
        self._k_at, self._k_len = k_at, k_len
        self._c_at, self._c_len = c_at, c_len
        self._stride = stride
        self._n = len(block) // stride

    def __len__(self) -> int:
        return self._n

    def _item(self, i: int) -> HPKECiphertext:
        off = i * self._stride
        k, c = off + self._k_at, off + self._c_at
        b = self._block
        return HPKECiphertext(kem_output=b[k : k + self._k_len], ciphertext=b[c : c + self._c_len])

    @overload
    def __getitem__(self, i: int) -> HPKECiphertext: ...

    @overload
    def __getitem__(self, i: slice) -> tuple[HPKECiphertext, ...]: ...

    def __getitem__(self, i: int | slice) -> HPKECiphertext | tuple[HPKECiphertext, ...]:
        if isinstance(i, slice):
            return tuple(self._item(j) for j in range(*i.indices(self._n)))
        n = self._n
        if not -n <= i < n:
            raise IndexError("HPKECiphertextBlock index out of range")
        return self._item(i + n if i < 0 else i)

    def __iter__(self) -> Iterator[HPKECiphertext]:
        return (self._item(j) for j in range(self._n))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HPKECiphertextBlock):
            return self._n == other._n and tuple(self) == tuple(other)
        if isinstance(other, tuple):
            return tuple(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"HPKECiphertextBlock({self._n} ciphertexts)"


#: blocks with fewer items, or fewer bytes, are decoded into a plain tuple (an HPKECiphertext
#: is at least 80 bytes in every RFC 9420 suite)
_LAZY_MIN_ITEMS = 16
_LAZY_MIN_BYTES = 1024


def pull_hpke_ciphertexts(r: Reader) -> Sequence[HPKECiphertext]:
    """``HPKECiphertext items<V>``, with the checks of pulling them one by one: a tuple, or
    for many items of one shape an :class:`HPKECiphertextBlock` validated at C speed (the
    first item is parsed in full, then every item's headers are compared with its headers
    by strided slices, and the block must be a whole number of items)."""
    sub = r.sub()
    if sub.remaining() >= _LAZY_MIN_BYTES:
        block = sub.rest()
        head = Reader(block)
        try:
            k_len = head.pull_varint()
            k_at = head.pos
            head.pull_bytes(k_len)
            c_hdr = head.pos
            c_len = head.pull_varint()
            c_at = head.pos
            head.pull_bytes(c_len)
        except DecodeError:
            pass  # the general parser below reports it
        else:
            stride = head.pos
            n, rest = divmod(len(block), stride)
            headers = (*range(k_at), *range(c_hdr, c_at))
            if (
                rest == 0
                and n >= _LAZY_MIN_ITEMS
                and all(block[j::stride] == block[j : j + 1] * n for j in headers)
            ):
                return HPKECiphertextBlock(block, k_at, k_len, c_at, c_len, stride)
    return tuple(sub.pull_pairs_to_end(_hpke_ciphertext))


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdatePathNode:
    """§7.6 UpdatePathNode: a new path key and the path secret sealed to each resolution node."""

    encryption_key: bytes
    #: a tuple, or an :class:`HPKECiphertextBlock` when decoded from many ciphertexts
    encrypted_path_secret: Sequence[HPKECiphertext] = ()

    def push(self, w: Writer) -> None:
        w.push_opaque(self.encryption_key)
        w.push_vector(self.encrypted_path_secret, _push_hpke_ciphertext)

    @classmethod
    def pull(cls, r: Reader) -> UpdatePathNode:
        encryption_key = r.pull_opaque()
        return cls(encryption_key=encryption_key, encrypted_path_secret=pull_hpke_ciphertexts(r))


def _push_update_path_node(w: Writer, n: UpdatePathNode) -> None:
    n.push(w)


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdatePath:
    """§7.6 UpdatePath: the committer's new leaf and one entry per filtered direct-path node."""

    leaf_node: LeafNode
    nodes: tuple[UpdatePathNode, ...] = ()

    def push(self, w: Writer) -> None:
        self.leaf_node.push(w)
        w.push_vector(self.nodes, _push_update_path_node)

    @classmethod
    def pull(cls, r: Reader) -> UpdatePath:
        return cls(leaf_node=LeafNode.pull(r), nodes=tuple(r.pull_vector(UpdatePathNode.pull)))


# ---- draft-mularczyk-mls-splitcommit §3 (not RFC 9420) ----------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SUpdatePath:
    """The splittable update path: an UpdatePath without the committer's LeafNode (which
    travels in the signed SHeader). Never encrypted, so a DS can split it."""

    nodes: tuple[UpdatePathNode, ...] = ()

    def push(self, w: Writer) -> None:
        w.push_vector(self.nodes, _push_update_path_node)

    @classmethod
    def pull(cls, r: Reader) -> SUpdatePath:
        return cls(nodes=tuple(r.pull_vector(UpdatePathNode.pull)))


@dataclass(frozen=True, slots=True, kw_only=True)
class IndividualUpdatePath:
    """One receiver's part of an SUpdatePath: the one ciphertext it decrypts, and the new path
    keys it cannot derive (those below its common ancestor with the committer, leaf upward)."""

    encrypted_path_secret: HPKECiphertext
    new_pks: tuple[bytes, ...] = ()

    def push(self, w: Writer) -> None:
        self.encrypted_path_secret.push(w)
        w.push_vector(self.new_pks, _push_opaque)

    @classmethod
    def pull(cls, r: Reader) -> IndividualUpdatePath:
        return cls(
            encrypted_path_secret=HPKECiphertext.pull(r),
            new_pks=tuple(r.pull_vector(_pull_opaque)),
        )


def _push_opaque(w: Writer, data: bytes) -> None:
    w.push_opaque(data)


def _pull_opaque(r: Reader) -> bytes:
    return r.pull_opaque()
