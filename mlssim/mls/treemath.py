"""Left-balanced binary tree arithmetic on array indices (RFC 9420 §4.1, appendix C).

Leaves sit at even node indices (leaf ``i`` is node ``2i``); a tree of ``n`` leaves has
``2n - 1`` nodes. The tree's width is always a power of two in the ratchet tree (§7.8
extends and truncates to keep it so), but these functions also accept any leaf count,
as the official ``tree-math`` vector does.
"""

from __future__ import annotations

from typing import NewType

__all__ = [
    "LeafIndex",
    "NodeIndex",
    "node_width",
    "log2",
    "level",
    "root",
    "left",
    "right",
    "parent",
    "sibling",
    "direct_path",
    "copath",
    "leaf_to_node",
    "node_to_leaf",
    "is_leaf",
    "common_ancestor",
    "subtree_leaves",
]

LeafIndex = NewType("LeafIndex", int)
NodeIndex = NewType("NodeIndex", int)


def log2(x: int) -> int:
    return 0 if x == 0 else x.bit_length() - 1


def level(x: int) -> int:
    """Number of trailing 1 bits: 0 for leaves."""
    if x & 1 == 0:
        return 0
    return ((~x) & (x + 1)).bit_length() - 1


def node_width(n_leaves: int) -> int:
    return 0 if n_leaves == 0 else 2 * (n_leaves - 1) + 1


def root(n_leaves: int) -> NodeIndex:
    w = node_width(n_leaves)
    return NodeIndex((1 << log2(w)) - 1)


def left(x: int) -> NodeIndex:
    k = level(x)
    if k == 0:
        raise ValueError(f"leaf node {x} has no children")
    return NodeIndex(x ^ (1 << (k - 1)))


def right(x: int, n_leaves: int | None = None) -> NodeIndex:
    """Right child; for a non-power-of-two ``n_leaves`` walk left past the tree's end."""
    k = level(x)
    if k == 0:
        raise ValueError(f"leaf node {x} has no children")
    r = x ^ (3 << (k - 1))
    if n_leaves is not None:
        w = node_width(n_leaves)
        while r >= w:
            r = left(r)
    return NodeIndex(r)


def _parent_step(x: int) -> int:
    k = level(x)
    b = (x >> (k + 1)) & 1
    return (x | (1 << k)) ^ (b << (k + 1))


def parent(x: int, n_leaves: int) -> NodeIndex:
    if x == root(n_leaves):
        raise ValueError(f"root node {x} has no parent")
    w = node_width(n_leaves)
    p = _parent_step(x)
    while p >= w:
        p = _parent_step(p)
    return NodeIndex(p)


def sibling(x: int, n_leaves: int) -> NodeIndex:
    p = parent(x, n_leaves)
    if x < p:
        return right(p, n_leaves)
    return left(p)


def direct_path(x: int, n_leaves: int) -> list[NodeIndex]:
    """Ancestors of ``x`` from its parent up to and including the root (§4.1)."""
    r = root(n_leaves)
    if x == r:
        return []
    out: list[NodeIndex] = []
    while x != r:
        x = parent(x, n_leaves)
        out.append(NodeIndex(x))
    return out


def copath(x: int, n_leaves: int) -> list[NodeIndex]:
    """Siblings of ``x`` and of each node of its direct path except the root."""
    r = root(n_leaves)
    if x == r:
        return []
    path = [NodeIndex(x), *direct_path(x, n_leaves)]
    path.pop()  # the root has no sibling
    return [sibling(y, n_leaves) for y in path]


def leaf_to_node(i: int) -> NodeIndex:
    return NodeIndex(2 * i)


def node_to_leaf(x: int) -> LeafIndex:
    if x & 1:
        raise ValueError(f"node {x} is not a leaf")
    return LeafIndex(x >> 1)


def is_leaf(x: int) -> bool:
    return x & 1 == 0


def common_ancestor(x: int, y: int) -> NodeIndex:
    """Lowest common ancestor of two nodes (semantic, independent of tree width)."""
    lx, ly = level(x) + 1, level(y) + 1
    if lx <= ly and x >> ly == y >> ly:
        return NodeIndex(y)
    if ly <= lx and x >> lx == y >> lx:
        return NodeIndex(x)
    xn, yn, k = x, y, 0
    while xn != yn:
        xn >>= 1
        yn >>= 1
        k += 1
    return NodeIndex((xn << k) + (1 << (k - 1)) - 1)


def subtree_leaves(x: int) -> tuple[LeafIndex, LeafIndex]:
    """Half-open range ``[first, last)`` of leaf indices under node ``x``."""
    k = level(x)
    first = (x >> (k + 1)) << k if k else x >> 1
    return LeafIndex(first), LeafIndex(first + (1 << k))
