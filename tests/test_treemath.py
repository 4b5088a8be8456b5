"""Tree math properties beyond the official vector (RFC 9420 §4.1, appendix C)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mlssim.mls import treemath as tm


@given(st.integers(min_value=0, max_value=14).map(lambda k: 1 << k), st.data())
def test_direct_path_and_copath(n: int, data: st.DataObject) -> None:
    leaf = data.draw(st.integers(min_value=0, max_value=n - 1))
    x = tm.leaf_to_node(leaf)
    dp = tm.direct_path(x, n)
    cp = tm.copath(x, n)
    assert len(dp) == len(cp) == tm.log2(n)
    if dp:
        assert dp[-1] == tm.root(n)
    for node, sib in zip([x, *dp][:-1], cp, strict=True):
        assert tm.parent(node, n) == tm.parent(sib, n)
        lo, hi = tm.subtree_leaves(sib)
        assert not lo <= leaf < hi
    for node in dp:
        lo, hi = tm.subtree_leaves(node)
        assert lo <= leaf < hi


@given(st.integers(min_value=0, max_value=2000), st.integers(min_value=0, max_value=2000))
def test_common_ancestor_covers_both(a: int, b: int) -> None:
    x, y = tm.leaf_to_node(a), tm.leaf_to_node(b)
    ca = tm.common_ancestor(x, y)
    lo, hi = tm.subtree_leaves(ca)
    assert lo <= a < hi and lo <= b < hi
    if a != b:
        # no child of the ancestor covers both
        for child in (tm.left(ca), tm.right(ca)):
            clo, chi = tm.subtree_leaves(child)
            assert not (clo <= a < chi and clo <= b < chi)
