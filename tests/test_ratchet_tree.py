"""Public ratchet tree (RFC 9420 §4.1, §7.7, §7.8, §12.1): structure, hashes, sharing, cost."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlssim.mls import treemath as tm
from mlssim.mls.crypto import get_suite
from mlssim.mls.crypto.model import ModelSuite
from mlssim.mls.errors import InternalError, RemoteProtocolError
from mlssim.mls.messages import (
    Capabilities,
    Credential,
    CredentialType,
    LeafNode,
    LeafNodeSource,
    Lifetime,
    Node,
    ParentNode,
    decode_ratchet_tree,
)
from mlssim.mls.ratchet_tree import (
    RatchetTree,
    TreeEditor,
    TreeOperationError,
    TreeStructureError,
    leaf_tree_hash,
    parent_tree_hash,
)

SUITE = get_suite(1, "model")


def leaf(tag: int | str) -> LeafNode:
    """A structurally valid (unsigned) leaf with keys unique to ``tag``."""
    t = str(tag).encode()
    return LeafNode(
        encryption_key=hashlib.sha256(b"enc" + t).digest(),
        signature_key=hashlib.sha256(b"sig" + t).digest(),
        credential=Credential(credential_type=CredentialType.BASIC, identity=t),
        capabilities=Capabilities(versions=(1,), cipher_suites=(1,), credentials=(1,)),
        leaf_node_source=LeafNodeSource.KEY_PACKAGE,
        lifetime=Lifetime(not_before=0, not_after=2**63),
        signature=b"-",
    )


def parent(tag: int | str, unmerged: tuple[int, ...] = ()) -> ParentNode:
    return ParentNode(
        encryption_key=hashlib.sha256(b"p" + str(tag).encode()).digest(), unmerged_leaves=unmerged
    )


def tree_of(nodes: list[Node | None]) -> RatchetTree:
    return RatchetTree.from_nodes(SUITE, nodes)


def reference_hash(nodes: list[Node | None], x: int) -> bytes:
    """§7.8 tree hash by plain recursion over a full node array (no caches)."""
    if x % 2 == 0:
        n = nodes[x]
        return leaf_tree_hash(SUITE, x // 2, n if isinstance(n, LeafNode) else None)
    half = 1 << (tm.level(x) - 1)
    n = nodes[x]
    return parent_tree_hash(
        SUITE,
        n if isinstance(n, ParentNode) else None,
        reference_hash(nodes, x - half),
        reference_hash(nodes, x + half),
    )


def full(t: RatchetTree) -> list[Node | None]:
    return [t.node(x) for x in range(t.width)]


# ---- a naive model of §12.1.1–§12.1.3 on plain lists -------------------------------------------


class Naive:
    def __init__(self, nodes: list[Node | None]) -> None:
        self.nodes = list(nodes)

    @property
    def n(self) -> int:
        return (len(self.nodes) + 1) // 2

    def add(self, lf: LeafNode) -> int:
        blanks = [i for i in range(self.n) if self.nodes[2 * i] is None]
        if blanks:
            i = blanks[0]
        else:
            i = self.n
            self.nodes += [None] * len(self.nodes) + [None]
        self.nodes[2 * i] = lf
        for p in tm.direct_path(2 * i, self.n):
            pn = self.nodes[p]
            if isinstance(pn, ParentNode):
                self.nodes[p] = ParentNode(
                    encryption_key=pn.encryption_key,
                    parent_hash=pn.parent_hash,
                    unmerged_leaves=tuple(sorted((*pn.unmerged_leaves, i))),
                )
        return i

    def update(self, i: int, lf: LeafNode) -> None:
        self.nodes[2 * i] = lf
        for p in tm.direct_path(2 * i, self.n):
            self.nodes[p] = None

    def remove(self, i: int) -> None:
        self.update(i, None)  # type: ignore[arg-type]
        while self.n > 1 and all(x is None for x in self.nodes[self.n :]):
            self.nodes = self.nodes[: self.n - 1]


# ---- concrete examples from the RFC ------------------------------------------------------------


def test_resolution_example_4_1_1() -> None:
    # leaves A B _ D E F _ H; X = node 3 with unmerged B; Y = node 9; everything else blank
    nodes: list[Node | None] = [None] * 15
    for i in (0, 1, 3, 4, 5, 7):
        nodes[2 * i] = leaf(i)
    nodes[3] = parent("X", (1,))
    nodes[9] = parent("Y")
    t = tree_of(nodes)
    assert t.resolution(3) == [3, 2]  # X, B
    assert t.resolution(4) == [] and t.resolution(12) == []
    assert t.resolution(7) == [3, 2, 9, 14]  # X, B, Y, H
    assert t.resolution(7, exclude={1, 7}) == [3, 9]


def test_filtered_direct_path_table_4_1_2() -> None:
    # A B _ _ E F G _ with T (1), X (9), Y (11), W (7) set; U (3), V (5), Z (13) blank
    nodes: list[Node | None] = [None] * 15
    for i in (0, 1, 4, 5, 6):
        nodes[2 * i] = leaf(i)
    for x in (1, 9, 11, 7):
        nodes[x] = parent(x)
    t = tree_of(nodes)
    assert t.filtered_direct_path(0) == [1, 7]  # T, W
    assert t.filtered_direct_path(1) == [1, 7]
    assert t.filtered_direct_path(4) == [9, 11, 7]  # X, Y, W
    assert t.filtered_direct_path(5) == [9, 11, 7]
    assert t.filtered_direct_path(6) == [11, 7]  # Y, W
    assert t.filtered_direct_path_with_copath(6) == [(11, 9), (7, 3)]


def test_extend_and_truncate_7_7() -> None:
    t = tree_of([leaf("A"), parent("X"), leaf("B")])
    ed = t.edit()
    assert ed.add_leaf(leaf("C")) == 2
    t2 = ed.freeze()
    assert t2.n_leaves == 4 and t2.to_nodes() == [
        leaf("A"),
        ParentNode(encryption_key=parent("X").encryption_key, unmerged_leaves=()),
        leaf("B"),
        None,
        leaf("C"),
    ]
    ed = t2.edit()
    ed.remove_leaf(2)
    t3 = ed.freeze()
    assert t3.n_leaves == 2 and t3.to_nodes() == t.to_nodes()
    assert t3.tree_hash() == t.tree_hash()


def test_add_marks_unmerged_on_non_blank_parents_only() -> None:
    t = tree_of([leaf(0), parent("X"), leaf(1), parent("Y"), leaf(2), None, None])
    ed = t.edit()
    assert ed.add_leaf(leaf(3)) == 3
    after = ed.freeze()
    assert after.parent_node(3) is not None and after.parent_node(3).unmerged_leaves == (3,)  # type: ignore[union-attr]
    assert after.node(5) is None  # blank stays blank
    assert after.parent_node(1).unmerged_leaves == ()  # type: ignore[union-attr]  # not on the path


def test_structure_errors() -> None:
    with pytest.raises(TreeStructureError):
        tree_of([])
    with pytest.raises(TreeStructureError):
        tree_of([parent(0)])
    with pytest.raises(TreeStructureError):
        tree_of([leaf(0), leaf(1), leaf(2)])
    t = tree_of([leaf(0), None, leaf(1)])
    ed = t.edit()
    with pytest.raises(TreeOperationError) as exc:
        ed.remove_leaf(5)
    assert isinstance(exc.value, RemoteProtocolError) and exc.value.rfc_section == "12.1.3"
    ed.remove_leaf(1)
    with pytest.raises(TreeOperationError):
        ed.update_leaf(1, leaf(9))
    ed.freeze()
    with pytest.raises(InternalError):
        ed.add_leaf(leaf(3))


def test_to_nodes_round_trip_through_the_extension_encoding() -> None:
    t = tree_of([leaf(0), parent("X", (2,)), leaf(1), parent("R", (2,)), leaf(2)])
    again = tree_of(decode_ratchet_tree(t.encode()))
    assert again.to_nodes() == t.to_nodes() and again.tree_hash() == t.tree_hash()
    assert t.n_leaves == 4 and t.width == 7 and t.member_count() == 3


# ---- properties -----------------------------------------------------------------------------------

OPS = st.lists(
    st.tuples(st.sampled_from(["add", "add", "remove", "update", "path", "freeze"]), st.integers(0, 10**6)),
    min_size=1,
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(start=st.integers(1, 9), ops=OPS)
def test_edits_match_naive_model_and_fresh_hashes(start: int, ops: list[tuple[str, int]]) -> None:
    check_edits(start, ops)


@settings(max_examples=60, deadline=None)
@given(start=st.integers(1, 40), ops=OPS, bits=st.integers(1, 3))
def test_edits_match_naive_model_with_small_chunks(start: int, ops: list[tuple[str, int]], bits: int) -> None:
    """The same with chunks of 2, 4 or 8 nodes, so that extending, truncating and copying on
    write cross chunk boundaries (the real chunks hold 256 nodes)."""
    from mlssim.mls import ratchet_tree, tree_view

    small = {"_CB": bits, "_CS": 1 << bits, "_CM": (1 << bits) - 1}
    # the storage (tree_view) and the trees built on it (ratchet_tree) each bind the sizes
    saved = [
        (m, name, getattr(m, name)) for m in (tree_view, ratchet_tree) for name in small if hasattr(m, name)
    ]
    for m, name, _ in saved:
        setattr(m, name, small[name])
    try:
        check_edits(start, ops)
    finally:
        for m, name, value in saved:
            setattr(m, name, value)


def check_edits(start: int, ops: list[tuple[str, int]]) -> None:
    nodes: list[Node | None] = []
    for i in range(start):
        nodes += [leaf(f"s{i}"), None]
    tree = tree_of(nodes[:-1])
    naive = Naive(full(tree))
    ed = tree.edit()
    history: list[tuple[RatchetTree, list[Node | None], bytes]] = [(tree, full(tree), tree.tree_hash())]
    for k, (op, r) in enumerate(ops):
        members = [int(i) for i, _ in ed.leaves()]
        if op == "add":
            lf = leaf(f"a{k}")
            assert ed.add_leaf(lf) == naive.add(lf)
        elif op == "remove" and len(members) > 1:
            i = members[r % len(members)]
            ed.remove_leaf(i)
            naive.remove(i)
        elif op == "update" and members:
            i = members[r % len(members)]
            ed.update_leaf(i, leaf(f"u{k}"))
            naive.update(i, leaf(f"u{k}"))
        elif op == "path" and members:
            # what merging an UpdatePath does to the public tree, with arbitrary keys
            i = members[r % len(members)]
            fdp = ed.filtered_direct_path(i)
            ed.apply_path(i, [parent(f"k{k}.{j}").encryption_key for j in range(len(fdp))])
            naive.update(i, naive.nodes[2 * i])  # type: ignore[arg-type]
            for x in fdp:
                naive.nodes[x] = ed.node(x)
        elif op == "freeze":
            tree = ed.freeze()
            history.append((tree, full(tree), tree.tree_hash()))
            ed = tree.edit()
        assert [ed.node(x) for x in range(ed.width)] == naive.nodes
    tree = ed.freeze()
    history.append((tree, full(tree), tree.tree_hash()))
    for t, nodes_then, hash_then in history:  # frozen trees never change
        assert full(t) == nodes_then and t.tree_hash() == hash_then
    fresh = RatchetTree.from_nodes(SUITE, tree.to_nodes())
    assert fresh.n_leaves == tree.n_leaves
    assert tree.tree_hash() == fresh.tree_hash() == reference_hash(full(tree), tree.root())
    assert [tree.node_tree_hash(x) for x in range(tree.width)] == [
        fresh.node_tree_hash(x) for x in range(tree.width)
    ]
    assert tree.member_count() == sum(1 for _ in tree.leaves())
    assert tree.first_blank_leaf() == next((i for i in range(tree.n_leaves) if tree.leaf(i) is None), None)
    for y in range(tree.width):
        n = tree.node(y)
        if n is not None:
            assert tree.find_encryption_key(n.encryption_key) == y


def test_shared_tree_untouched_by_many_editors() -> None:
    base = tree_of([leaf(i) if x % 2 == 0 else None for x, i in zip(range(15), range(15), strict=True)])
    snapshot, h = full(base), base.tree_hash()
    for i in range(8):
        ed = base.edit()
        ed.remove_leaf(i)
        ed.add_leaf(leaf(f"n{i}"))
        ed.apply_path(i, [parent(f"q{i}.{j}").encryption_key for j in range(len(ed.filtered_direct_path(i)))])
        assert ed.tree_hash() != h
        ed.freeze()
    assert full(base) == snapshot and base.tree_hash() == h


def test_editor_key_lookups_see_edits() -> None:
    base = tree_of([leaf(0), parent("X"), leaf(1)])
    assert base.find_encryption_key(parent("X").encryption_key) == 1
    ed = base.edit()
    ed.update_leaf(0, leaf("new"))
    assert ed.find_encryption_key(parent("X").encryption_key) is None
    assert ed.find_encryption_key(leaf("new").encryption_key) == 0
    assert ed.find_signature_key(leaf(0).signature_key) is None
    assert ed.find_signature_key(leaf(1).signature_key) == 1
    after = ed.freeze()  # indexes patched from the base's
    assert after.find_encryption_key(leaf("new").encryption_key) == 0
    assert after.find_encryption_key(leaf(0).encryption_key) is None


# ---- cost: the hashes computed, counted -----------------------------------------------------------


class CountingSuite(ModelSuite):
    calls = 0

    def hash(self, data: bytes) -> bytes:
        CountingSuite.calls += 1
        return super().hash(data)


def big_tree(suite: CountingSuite, n: int, occupied: int) -> RatchetTree:
    nodes: list[Node | None] = [None] * (2 * n - 1)
    for i in range(occupied):
        nodes[2 * i] = leaf(i)
    nodes[n - 1] = parent("root")
    return RatchetTree.from_nodes(suite, nodes)


def test_hash_counts_stay_logarithmic_and_linear() -> None:
    suite = CountingSuite(1)
    n = 1024
    CountingSuite.calls = 0
    tree = big_tree(suite, n, n)
    assert CountingSuite.calls == 2 * n - 1  # every node once
    CountingSuite.calls = 0
    ed = tree.edit()
    ed.update_leaf(700, leaf("u"))
    ed.apply_path(700, [parent(j).encryption_key for j in range(len(ed.filtered_direct_path(700)))])
    ed.freeze()
    assert CountingSuite.calls <= 2 * 11  # the path (11 nodes) plus one sibling hash per parent hash
    # add-all: fill a tree whose root is set (every add touches the root's unmerged list), then
    # grow it to four times its width
    tree = big_tree(suite, n, 1)
    CountingSuite.calls = 0
    ed = tree.edit()
    for i in range(4 * n - 1):
        ed.add_leaf(leaf(f"new{i}"))
    assert ed.node(n - 1).unmerged_leaves == tuple(range(1, n))  # type: ignore[union-attr]
    grown = ed.freeze()
    assert grown.n_leaves == 4 * n and grown.member_count() == 4 * n
    assert CountingSuite.calls <= grown.width  # each new or dirty node hashed once


def test_editor_is_a_tree_editor() -> None:
    assert isinstance(tree_of([leaf(0)]).edit(), TreeEditor)


def test_key_index_patches_match_a_plain_dict_through_merges() -> None:
    """KeyIndex.patched against a plain dict over 1,200 epochs of changes: the overlay is
    merged into a new base several times (bound 256 here), and no index derived earlier
    changes."""
    from mlssim.mls.ratchet_tree import KeyIndex

    model = {bytes([i]) * 4: i for i in range(100)}
    idx = KeyIndex(dict(model))
    history: list[tuple[KeyIndex, dict[bytes, int]]] = []
    for step in range(1, 1201):
        gone = [(k, v) for k, v in list(model.items())[: step % 3]]
        new = [(step.to_bytes(4, "big"), 1000 + step), (bytes([step % 100]) * 4, 5000 + step)]
        for k, _ in gone:
            del model[k]
        for k, v in new:
            model.setdefault(k, v)  # a key still held elsewhere is not re-pointed
        idx = idx.patched(gone, new)
        history.append((idx, dict(model)))
    ever = {k for _, then in history for k in then}
    for old, then in history[::97]:
        for k in ever:
            assert old.get(k) == then.get(k)
        assert old.get(b"absent") is None
    assert len({id(i._base) for i, _ in history}) > 2  # merged into a new base more than once
