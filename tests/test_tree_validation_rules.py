"""``tree_validation``'s rules one by one on small hand-built trees (RFC 9420 §7.1, §7.3, §7.8,
§12.4.3.1), each with a valid neighbour, so that a rule checked too little or too much fails
here (issue 25's mutation run found the unmerged-leaves rules and the tree hash check barely
reached by the protocol tests).

The trees have eight leaves (nodes 0–14, root 7); ``leaf``/``parent`` from
``tests/test_ratchet_tree.py`` make structurally valid, unsigned nodes, so only the structural
checks are called directly; ``validate_tree`` as a whole runs on a real group's tree.
"""

from __future__ import annotations

import dataclasses

import pytest

from mlssim.mls import treemath as tm
from mlssim.mls.crypto import get_suite
from mlssim.mls.messages import Node
from mlssim.mls.ratchet_tree import RatchetTree, TreeStructureError
from mlssim.mls.tree_validation import (
    DuplicateKeyError,
    ParentHashError,
    TreeHashMismatchError,
    UnmergedLeavesError,
    original_tree_hash,
    parent_hash_invalid_nodes,
    parent_hash_valid,
    validate_tree,
    verify_unique_keys,
    verify_unmerged_leaves,
)

from .group_harness import Harness
from .test_ratchet_tree import leaf, parent

SUITE = get_suite(1, "model")


def eight(parents: dict[int, tuple[int, ...] | None], blank_leaves: tuple[int, ...] = ()) -> RatchetTree:
    """Leaves 0..7 (but ``blank_leaves``); parent ``x`` set with those unmerged leaves where
    ``parents[x]`` is a tuple, blank otherwise."""
    nodes: list[Node | None] = []
    for x in range(15):
        if x % 2 == 0:
            nodes.append(None if x // 2 in blank_leaves else leaf(x // 2))
        else:
            um = parents.get(x)
            nodes.append(None if um is None else parent(x, um))
    return RatchetTree.from_nodes(SUITE, nodes)


# ---- unmerged leaves: the valid cases --------------------------------------------------------------


@pytest.mark.parametrize(
    "parents",
    [
        {},  # no parent set
        {7: ()},  # a set root, nothing unmerged
        {7: (5,)},  # 9 and 11 blank on the way from leaf 5
        {7: (5,), 11: (5,)},  # 11 set: it lists 5 too
        {7: (5,), 9: (5,), 11: (5,)},
        {7: (0, 2, 5, 7), 3: (0, 2), 1: (0,), 5: (2,), 11: (5, 7), 13: (7,)},
        {11: (4, 7)},  # both ends of node 11's leaves (4..7)
        {3: (0, 3)},  # both ends of node 3's leaves (0..3)
        {13: (6, 7), 11: (6, 7), 7: (6, 7)},
        {1: (1,)},
        {9: (4,), 11: (4,)},
    ],
)
def test_consistent_unmerged_leaves_are_accepted(parents: dict[int, tuple[int, ...] | None]) -> None:
    verify_unmerged_leaves(eight(parents))


def test_unmerged_leaves_of_a_deep_tree_are_followed_up_every_level() -> None:
    """64 leaves: leaf 45 unmerged at the root and at every set node on its direct path."""
    n = 64
    path = tm.direct_path(tm.leaf_to_node(tm.LeafIndex(45)), n)
    nodes: list[Node | None] = [leaf(x // 2) if x % 2 == 0 else None for x in range(2 * n - 1)]
    for x in path:
        nodes[x] = parent(x, (45,))
    verify_unmerged_leaves(RatchetTree.from_nodes(SUITE, nodes))
    for missing in path[:-1]:  # any set node below the root that does not list it
        broken = list(nodes)
        broken[missing] = parent(missing)
        with pytest.raises(
            UnmergedLeavesError, match=f"leaf 45 is unmerged at node {path[-1]} but not at node {missing}"
        ):
            verify_unmerged_leaves(RatchetTree.from_nodes(SUITE, broken))


# ---- unmerged leaves: each rule broken ----------------------------------------------------------------


@pytest.mark.parametrize(("um", "x"), [((5, 2), 7), ((5, 5), 7), ((7, 4), 11)])
def test_unmerged_leaves_must_be_strictly_increasing(um: tuple[int, ...], x: int) -> None:
    """§7.1: unmerged_leaves is sorted, without repeats (every node on the way lists them all)."""
    parents: dict[int, tuple[int, ...] | None] = {x: um}
    with pytest.raises(UnmergedLeavesError, match=f"unmerged_leaves of node {x} not strictly increasing"):
        verify_unmerged_leaves(eight(parents))


@pytest.mark.parametrize(("x", "u"), [(11, 3), (11, 8), (3, 4), (1, 2), (13, 5), (5, 1), (9, 6)])
def test_an_unmerged_leaf_must_be_below_its_node(x: int, u: int) -> None:
    with pytest.raises(UnmergedLeavesError, match=f"unmerged leaf {u} of node {x} is not below it"):
        verify_unmerged_leaves(eight({x: (u,)}))


def test_an_unmerged_leaf_must_not_be_blank() -> None:
    with pytest.raises(UnmergedLeavesError, match="unmerged leaf 6 of node 7 is blank"):
        verify_unmerged_leaves(eight({7: (6,)}, blank_leaves=(6,)))
    verify_unmerged_leaves(eight({7: (5,)}, blank_leaves=(6,)))


def test_the_last_non_blank_node_is_checked_too() -> None:
    """Leaves 5–7 blank: node 9 is the tree's last non-blank node, and its list is checked."""
    tree = eight({9: (5,)}, blank_leaves=(5, 6, 7))
    assert tree.last_nonblank() == 9
    with pytest.raises(UnmergedLeavesError, match="unmerged leaf 5 of node 9 is blank"):
        verify_unmerged_leaves(tree)


@pytest.mark.parametrize(
    ("parents", "u", "x", "y"),
    [
        ({7: (5,), 11: ()}, 5, 7, 11),
        ({7: (5,), 9: (5,), 11: (4,)}, 5, 7, 11),
        ({7: (5,), 9: (), 11: (5,)}, 5, 7, 9),
        ({7: (0,), 3: (0,), 1: ()}, 0, 3, 1),  # node 3 is checked before the root
        ({3: (2,), 5: (3,)}, 2, 3, 5),
        ({7: (7,), 13: (7,), 11: (6,)}, 7, 7, 11),
    ],
)
def test_an_unmerged_leaf_is_unmerged_at_every_set_node_below(
    parents: dict[int, tuple[int, ...] | None], u: int, x: int, y: int
) -> None:
    """§12.4.3.1: a leaf unmerged at a node is unmerged at every non-blank node between them."""
    with pytest.raises(
        UnmergedLeavesError, match=f"leaf {u} is unmerged at node {x} but not at node {y} between"
    ):
        verify_unmerged_leaves(eight(parents))


# ---- keys, tree hash, members ------------------------------------------------------------------------


def test_keys_must_be_unique() -> None:
    base = eight({7: ()})
    verify_unique_keys(base)
    nodes = base.to_nodes()
    nodes[11] = parent("dup")
    nodes[9] = parent("dup")
    with pytest.raises(DuplicateKeyError, match="nodes 9 and 11 share an encryption key"):
        verify_unique_keys(RatchetTree.from_nodes(SUITE, nodes))
    nodes = base.to_nodes()
    nodes[14] = leaf(0)  # the last node: checked too
    with pytest.raises(DuplicateKeyError, match="nodes 0 and 14 share an encryption key"):
        verify_unique_keys(RatchetTree.from_nodes(SUITE, nodes))
    # §7.3: signature keys are unique among leaves (a parent's key is not a signature key)
    for a, b in ((2, 5), (0, 7)):
        nodes = base.to_nodes()
        nodes[2 * b] = dataclasses.replace(leaf(b), signature_key=leaf(a).signature_key)
        with pytest.raises(DuplicateKeyError, match=f"leaves {a} and {b} share a signature key"):
            verify_unique_keys(RatchetTree.from_nodes(SUITE, nodes))
    nodes = base.to_nodes()
    nodes[9] = dataclasses.replace(parent(9), encryption_key=leaf(3).signature_key)
    verify_unique_keys(RatchetTree.from_nodes(SUITE, nodes))  # an encryption key equal to a signature key


def test_validate_tree_checks_the_tree_hash_and_that_there_is_a_member() -> None:
    """A real one-member group's tree is valid (one member is enough); against another hash it
    is refused naming both hashes; a tree of blanks has no member."""
    h = Harness(SUITE, seed=2)
    g = h.create("c1")
    tree = g.tree
    validate_tree(tree, h.group_id)
    validate_tree(tree, h.group_id, tree_hash=tree.tree_hash())
    other = bytes(b ^ 0xFF for b in tree.tree_hash())
    want = f"tree hash {tree.tree_hash().hex()[:16]}… is not the expected {other.hex()[:16]}…"
    with pytest.raises(TreeHashMismatchError) as exc:
        validate_tree(tree, h.group_id, tree_hash=other)
    assert str(exc.value).startswith(want + " (RFC 9420")
    h.add("c1", "c2", "c3")
    validate_tree(h.members["c2"].tree, h.group_id, tree_hash=h.members["c2"].tree_hash)
    with pytest.raises(TreeStructureError, match="without any member"):
        validate_tree(RatchetTree.from_nodes(SUITE, [None]), h.group_id)


def test_parent_hashes_hold_with_unmerged_leaves_in_the_sibling_subtree() -> None:
    """§7.9.2: the root's parent-hash link is checked against the original tree hash of the
    sibling subtree, i.e. with the leaves added since the root was set blanked *and* dropped
    from the unmerged lists inside that subtree. Eight members; c1 removes c4 (leaf 3; its path
    sets nodes 1, 3, 7), c5 (leaf 4) commits (9, 11, 7: the root's link is now from the right),
    then c2 adds a member without a path: it takes leaf 3, unmerged at node 3 and at the root."""
    h = Harness(SUITE, seed=4)
    h.create("c1")
    h.add("c1", *(f"c{i}" for i in range(2, 9)))
    h.deliver(h.members["c1"].commit(h.rand, removes=[int(h.members["c4"].leaf_index)]), "c1")
    h.deliver(h.members["c5"].commit(h.rand), "c5")
    kp = h.client("new").bundle.key_package
    h.deliver(h.members["c2"].commit(h.rand, adds=[kp], path=False), "c2")  # "new" validates the tree
    new = h.members["new"]
    tree = new.tree
    assert int(new.leaf_index) == 3
    root, left = tree.parent_node(7), tree.parent_node(3)
    assert root is not None and left is not None and tree.parent_node(5) is None
    assert root.unmerged_leaves == (3,) and left.unmerged_leaves == (3,)
    validate_tree(tree, h.group_id, tree_hash=h.members["c1"].tree_hash)
    # the left subtree as it was when the root was set: with and without a cache alike
    cache: dict[tuple[int, frozenset[int]], bytes] = {}
    before = original_tree_hash(tree, 3, frozenset({3}))
    assert before == original_tree_hash(tree, 3, frozenset({3}), cache) != tree.node_tree_hash(3)
    assert original_tree_hash(tree, 3, frozenset({3}), cache) == before and (3, frozenset({3})) in cache
    h.check()


def test_a_parent_past_the_last_leaf_is_checked_too() -> None:
    """A set parent node after the last member's leaf (node 9 of five members: leaves 0–4) has
    no descendant whose parent hash chains to it; it is checked like any other node (and it
    changes the right subtree under the root, whose link from the left no longer holds)."""
    h = Harness(SUITE, seed=4)
    h.create("c1")
    h.add("c1", "c2", "c3", "c4", "c5")
    tree = h.members["c1"].tree
    assert tree.last_nonblank() == 8
    assert parent_hash_valid(tree)
    validate_tree(tree, h.group_id)
    nodes = [*tree.to_nodes(), None, None]
    nodes[9] = parent("stray")
    bad = RatchetTree.from_nodes(SUITE, nodes)
    assert bad.last_nonblank() == 9 and not parent_hash_valid(bad)
    assert parent_hash_invalid_nodes(bad) == [(7, 0), (9, 0)]
    with pytest.raises(
        ParentHashError, match="parent node 7 is not parent-hash valid: no descendant chain to it"
    ):
        validate_tree(bad, h.group_id)
