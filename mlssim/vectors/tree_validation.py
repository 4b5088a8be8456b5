"""``tree-validation``: resolutions, tree hashes, parent hashes and leaf signatures of a tree
(RFC 9420 §4.1.1, §7.8, §7.9.2, §7.3)."""

from __future__ import annotations

from typing import Any

from ..mls.crypto import get_suite
from ..mls.messages import decode_ratchet_tree
from ..mls.ratchet_tree import RatchetTree
from ..mls.tree_validation import leaf_signature_valid, parent_hash_invalid_nodes
from .common import Check, h


def check(case: dict[str, Any]) -> list[str]:
    c = Check()
    suite = get_suite(case["cipher_suite"])
    tree = RatchetTree.from_nodes(suite, decode_ratchet_tree(h(case["tree"])))
    group_id = h(case["group_id"])
    want_res: list[list[int]] = case["resolutions"]
    want_hashes: list[str] = case["tree_hashes"]
    c.eq("number of nodes", tree.width, len(want_hashes))
    for x, want in enumerate(want_res):
        c.eq(f"resolution[{x}]", [int(r) for r in tree.resolution(x)], want)
    for x, want_h in enumerate(want_hashes):
        if x < tree.width:
            c.eq(f"tree_hash[{x}]", tree.node_tree_hash(x), h(want_h))
    for p, n in parent_hash_invalid_nodes(tree):
        c.errors.append(f"parent node {p} is not parent-hash valid ({n} valid links)")
    for i, leaf in tree.leaves():
        c.true(f"signature of leaf {i} does not verify", leaf_signature_valid(suite, leaf, group_id, i))
    return c.errors
