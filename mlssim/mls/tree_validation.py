"""Structural validation of a ratchet tree (RFC 9420 §12.4.3.1, §7.9.2, §7.3, §7.1).

What a joiner checks before trusting a tree it received (and what anyone may re-check
after processing a commit): the tree hash, that every non-blank parent node is
parent-hash valid, every leaf's signature, the ``unmerged_leaves`` structure, and that no
HPKE encryption key (nor leaf signature key) appears twice. Content validation of each
LeafNode (credential, capabilities, lifetime, extensions) is the caller's: pass it as
``leaf_validator``.

Parent-hash validity is checked "top down" (§7.9.2): every non-blank parent P must have
exactly one descendant D whose parent hash is valid with respect to P. Following those
links from any P ends at a leaf, so each P lies on exactly one chain. Original sibling
tree hashes (§7.9: the sibling's tree hash with P's unmerged leaves blanked and removed)
are recomputed only where P's unmerged leaves lie under the sibling, and cached per
(node, leaves removed) as §7.9 suggests.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from itertools import pairwise

from .crypto.suite import CipherSuite
from .errors import RemoteProtocolError
from .messages.enums import LeafNodeSource
from .messages.tree import LeafNode, ParentNode, leaf_node_tbs
from .ratchet_tree import (
    TreeStructureError,
    TreeView,
    leaf_tree_hash,
    parent_hash_of,
    parent_tree_hash,
)
from .treemath import LeafIndex, NodeIndex, level

__all__ = [
    "LeafValidator",
    "TreeValidationError",
    "TreeHashMismatchError",
    "ParentHashError",
    "UnmergedLeavesError",
    "DuplicateKeyError",
    "LeafSignatureError",
    "validate_tree",
    "verify_tree_hash",
    "verify_unmerged_leaves",
    "verify_unique_keys",
    "verify_leaf_signatures",
    "verify_leaf_signature",
    "leaf_signature_valid",
    "parent_hash_valid",
    "verify_parent_hashes",
    "parent_hash_invalid_nodes",
    "original_tree_hash",
]

LeafValidator = Callable[[LeafIndex, LeafNode], None]
"""Caller's §7.3 content check of one leaf; raises an MLSError to reject the tree."""


class TreeValidationError(RemoteProtocolError):
    """A received ratchet tree fails the checks of §12.4.3.1."""

    rfc_section = "12.4.3.1"


class TreeHashMismatchError(TreeValidationError):
    """The tree's root hash is not the GroupInfo's ``tree_hash``."""


class ParentHashError(TreeValidationError):
    """A non-blank parent node is not parent-hash valid."""

    rfc_section = "7.9.2"


class UnmergedLeavesError(TreeValidationError):
    """An ``unmerged_leaves`` entry that is unsorted, blank, not a descendant, or missing below."""


class DuplicateKeyError(TreeValidationError):
    """An encryption key on two nodes, or a signature key on two leaves."""

    rfc_section = "7.3"


class LeafSignatureError(TreeValidationError):
    """A LeafNode's signature does not verify over its LeafNodeTBS."""

    rfc_section = "7.3"


# ---- the whole check ----------------------------------------------------------------------


def validate_tree(
    tree: TreeView,
    group_id: bytes,
    *,
    tree_hash: bytes | None = None,
    leaf_validator: LeafValidator | None = None,
) -> None:
    """§12.4.3.1 "Verify the integrity of the ratchet tree". Raises a TreeValidationError
    subclass; returns nothing. Cheap structural checks run first, signatures last.

    ``tree_hash``: if given, the root hash must equal it (otherwise the caller compares).
    """
    if tree_hash is not None:
        verify_tree_hash(tree, tree_hash)
    if tree.member_count() == 0:
        raise TreeStructureError("a ratchet tree without any member")
    verify_unmerged_leaves(tree)
    verify_unique_keys(tree)
    verify_parent_hashes(tree)
    verify_leaf_signatures(tree, group_id)
    if leaf_validator is not None:
        for i, leaf in tree.leaves():
            leaf_validator(i, leaf)


def verify_tree_hash(tree: TreeView, expected: bytes) -> None:
    got = tree.tree_hash()
    if got != expected:
        raise TreeHashMismatchError(f"tree hash {got.hex()[:16]}… is not the expected {expected.hex()[:16]}…")


# ---- unmerged leaves (§7.1, §12.4.3.1) ---------------------------------------------------------


def _parent_step(x: int) -> int:
    k = level(x)
    b = (x >> (k + 1)) & 1
    return (x | (1 << k)) ^ (b << (k + 1))


def _leaf_range(x: int) -> tuple[int, int]:
    k = level(x)
    first = (x - ((1 << k) - 1)) >> 1
    return first, first + (1 << k)


def verify_unmerged_leaves(tree: TreeView) -> None:
    """Each ``unmerged_leaves`` list is strictly increasing (§7.1); each entry is a non-blank
    leaf under the node, and every non-blank node between them lists it too (§12.4.3.1)."""
    for x in range(1, tree.last_nonblank() + 1, 2):
        node = tree.parent_node(x)
        if node is None or not node.unmerged_leaves:
            continue
        um = node.unmerged_leaves
        if any(a >= b for a, b in pairwise(um)):
            raise UnmergedLeavesError(f"unmerged_leaves of node {x} not strictly increasing (§7.1)")
        lo, hi = _leaf_range(x)
        for u in um:
            if not lo <= u < hi:
                raise UnmergedLeavesError(f"unmerged leaf {u} of node {x} is not below it")
            if tree.leaf(u) is None:
                raise UnmergedLeavesError(f"unmerged leaf {u} of node {x} is blank")
            y = _parent_step(2 * u)
            while y != x:
                between = tree.parent_node(y)
                if between is not None:
                    lst = between.unmerged_leaves
                    j = bisect_left(lst, u)
                    if j == len(lst) or lst[j] != u:
                        raise UnmergedLeavesError(
                            f"leaf {u} is unmerged at node {x} but not at node {y} between them"
                        )
                y = _parent_step(y)


# ---- key uniqueness (§7.3, §12.4.3.1) ---------------------------------------------------------


def verify_unique_keys(tree: TreeView) -> None:
    """No HPKE ``encryption_key`` on two nodes (§12.4.3.1, §7.3); no ``signature_key`` on
    two leaves (§7.3)."""
    enc: dict[bytes, int] = {}
    sig: dict[bytes, int] = {}
    for x in range(tree.last_nonblank() + 1):
        node = tree.node(x)
        if node is None:
            continue
        other = enc.setdefault(node.encryption_key, x)
        if other != x:
            raise DuplicateKeyError(f"nodes {other} and {x} share an encryption key")
        if isinstance(node, LeafNode):
            other = sig.setdefault(node.signature_key, x)
            if other != x:
                raise DuplicateKeyError(f"leaves {other >> 1} and {x >> 1} share a signature key")


# ---- leaf signatures (§7.2, §7.3) ------------------------------------------------------------


def leaf_signature_valid(suite: CipherSuite, leaf: LeafNode, group_id: bytes, leaf_index: int) -> bool:
    """VerifyWithLabel(signature_key, "LeafNodeTBS", LeafNodeTBS, signature): a key-package
    leaf signs without group context, an update or commit leaf with group_id and index."""
    if leaf.leaf_node_source == LeafNodeSource.KEY_PACKAGE:
        tbs = leaf_node_tbs(leaf)
    else:
        tbs = leaf_node_tbs(leaf, group_id, leaf_index)
    return suite.verify_with_label(leaf.signature_key, "LeafNodeTBS", tbs, leaf.signature)


def verify_leaf_signature(suite: CipherSuite, leaf: LeafNode, group_id: bytes, leaf_index: int) -> None:
    if not leaf_signature_valid(suite, leaf, group_id, leaf_index):
        raise LeafSignatureError(f"signature of leaf {leaf_index} does not verify")


def verify_leaf_signatures(tree: TreeView, group_id: bytes) -> None:
    for i, leaf in tree.leaves():
        verify_leaf_signature(tree.suite, leaf, group_id, i)


# ---- parent hashes (§7.9, §7.9.2) -------------------------------------------------------------


def original_tree_hash(
    tree: TreeView,
    x: int,
    removed: frozenset[int],
    cache: dict[tuple[int, frozenset[int]], bytes] | None = None,
) -> bytes:
    """§7.9 tree hash of node ``x`` with the leaves ``removed`` blanked and dropped from every
    ``unmerged_leaves`` list; the cached hash when none of them lies under ``x``."""
    lo, hi = _leaf_range(x)
    here = frozenset(u for u in removed if lo <= u < hi)
    if not here:
        return tree.node_tree_hash(x)
    key = (x, here)
    if cache is not None and key in cache:
        return cache[key]
    suite = tree.suite
    if x & 1 == 0:
        h = leaf_tree_hash(suite, x >> 1, None)
    else:
        node = tree.parent_node(x)
        if node is not None:
            node = ParentNode(
                encryption_key=node.encryption_key,
                parent_hash=node.parent_hash,
                unmerged_leaves=tuple(u for u in node.unmerged_leaves if u not in here),
            )
        half = 1 << (level(x) - 1)
        h = parent_tree_hash(
            suite,
            node,
            original_tree_hash(tree, x - half, here, cache),
            original_tree_hash(tree, x + half, here, cache),
        )
    if cache is not None:
        cache[key] = h
    return h


def _valid_links(tree: TreeView, p: int, cache: dict[tuple[int, frozenset[int]], bytes]) -> int:
    """How many descendants D have a parent hash valid with respect to parent node ``p``."""
    node = tree.parent_node(p)
    assert node is not None
    removed = frozenset(node.unmerged_leaves)
    half = 1 << (level(p) - 1)
    count = 0
    for c, s in ((p - half, p + half), (p + half, p - half)):
        res = tree.resolution(c)
        if not res:
            continue
        ph = parent_hash_of(
            tree.suite, node.encryption_key, node.parent_hash, original_tree_hash(tree, s, removed, cache)
        )
        lo, hi = _leaf_range(c)
        unmerged_here = {2 * u for u in node.unmerged_leaves if lo <= u < hi}
        for d in res:
            dn = tree.node(d)
            if dn is None or dn.parent_hash != ph:
                continue
            rest = set(res)
            rest.discard(d)
            if rest == unmerged_here:
                count += 1
    return count


def parent_hash_invalid_nodes(tree: TreeView) -> list[tuple[NodeIndex, int]]:
    """Non-blank parent nodes without exactly one valid parent-hash link below them, each with
    the number of valid links found (0, or 2 for an ambiguous tree)."""
    cache: dict[tuple[int, frozenset[int]], bytes] = {}
    bad: list[tuple[NodeIndex, int]] = []
    for p in range(1, tree.last_nonblank() + 1, 2):
        if tree.node(p) is None:
            continue
        n = _valid_links(tree, p, cache)
        if n != 1:
            bad.append((NodeIndex(p), n))
    return bad


def parent_hash_valid(tree: TreeView) -> bool:
    """§7.9.2: every non-blank parent node is parent-hash valid."""
    return not parent_hash_invalid_nodes(tree)


def verify_parent_hashes(tree: TreeView) -> None:
    """§7.9.2 as when joining: raise :class:`ParentHashError` naming the first bad node."""
    bad = parent_hash_invalid_nodes(tree)
    if bad:
        p, n = bad[0]
        what = "no descendant" if n == 0 else f"{n} descendants"
        raise ParentHashError(f"parent node {p} is not parent-hash valid: {what} chain to it")
