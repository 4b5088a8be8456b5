"""Tree hashes and parent hashes of a ratchet tree (RFC 9420 §7.8, §7.9).

The §7.8 tree hash (``TreeHashInput``) of a leaf or parent node, every node's in one pass for
a tree built from a node array, and the §7.9 parent hash (``ParentHashInput``) that
:meth:`~mlssim.mls.ratchet_tree.TreeEditor.apply_path` computes top-down along a filtered
direct path when an UpdatePath is merged. Apart from the tree's storage, so that the byte
layout of the hash inputs is in one place; checking the parent hashes of a whole tree on
joining (§7.9.2) is :mod:`~mlssim.mls.tree_validation`'s.
"""

from __future__ import annotations

import struct as _struct

from .codec import Writer
from .crypto.suite import CipherSuite
from .messages.enums import NodeType
from .messages.tree import LeafNode, Node, ParentNode

__all__ = ["leaf_tree_hash", "parent_tree_hash", "parent_hash_of", "all_tree_hashes"]

# The hash inputs are built by joining byte strings rather than through a Writer: a commit
# recomputes O(log N) of them, and the codec's per-field calls would cost more than the hashes.

_U32 = _struct.Struct(">I")
_LEAF = bytes((NodeType.LEAF,))
_PARENT = bytes((NodeType.PARENT,))


_SHORT_HEADERS = [bytes((n,)) for n in range(0x40)]


def _opaque(b: bytes) -> bytes:
    """``opaque b<V>`` (§2.1.2)."""
    n = len(b)
    if n < 0x40:
        return _SHORT_HEADERS[n] + b
    w = Writer()
    w.push_opaque(b)
    return w.data()


def leaf_tree_hash(suite: CipherSuite, leaf_index: int, leaf: LeafNode | None) -> bytes:
    """§7.8: Hash(TreeHashInput{leaf, LeafNodeHashInput{leaf_index, optional<LeafNode>}})."""
    head = _LEAF + _U32.pack(leaf_index)
    if leaf is None:
        return suite.hash(head + b"\x00")
    return suite.hash(b"".join((head, b"\x01", leaf.encoded())))


def parent_tree_hash(
    suite: CipherSuite, node: ParentNode | None, left_hash: bytes, right_hash: bytes
) -> bytes:
    """§7.8: Hash(TreeHashInput{parent, ParentNodeHashInput{optional<ParentNode>, left, right}})."""
    if node is None:
        return suite.hash(b"".join((_PARENT, b"\x00", _opaque(left_hash), _opaque(right_hash))))
    um = node.unmerged_leaves
    return suite.hash(
        b"".join(
            (
                _PARENT,
                b"\x01",  # optional<ParentNode> present
                _opaque(node.encryption_key),
                _opaque(node.parent_hash),
                _opaque(_struct.pack(f">{len(um)}I", *um)) if um else b"\x00",
                _opaque(left_hash),
                _opaque(right_hash),
            )
        )
    )


def parent_hash_of(
    suite: CipherSuite, encryption_key: bytes, parent_hash: bytes, original_sibling_tree_hash: bytes
) -> bytes:
    """§7.9: Hash(ParentHashInput{encryption_key, parent_hash, original_sibling_tree_hash})."""
    return suite.hash(
        b"".join((_opaque(encryption_key), _opaque(parent_hash), _opaque(original_sibling_tree_hash)))
    )


def all_tree_hashes(suite: CipherSuite, nodes: list[Node | None], n: int) -> list[bytes | None]:
    """Every node's tree hash of a full tree of ``n`` leaves (``nodes`` in array order),
    level by level from the leaves (no recursion)."""
    hashes: list[bytes | None] = [None] * len(nodes)
    for i in range(n):
        leaf = nodes[2 * i]
        hashes[2 * i] = leaf_tree_hash(suite, i, leaf if isinstance(leaf, LeafNode) else None)
    k = 1
    while (1 << k) <= n:
        half = 1 << (k - 1)
        for x in range((1 << k) - 1, len(nodes), 1 << (k + 1)):
            node = nodes[x]
            lh, rh = hashes[x - half], hashes[x + half]
            assert lh is not None and rh is not None
            hashes[x] = parent_tree_hash(suite, node if isinstance(node, ParentNode) else None, lh, rh)
        k += 1
    return hashes
