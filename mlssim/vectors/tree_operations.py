"""``tree-operations``: apply one Add, Update or Remove to a tree (RFC 9420 §12.1.1–§12.1.3, §7.7, §7.8)."""

from __future__ import annotations

from typing import Any

from ..mls.codec import decode
from ..mls.crypto import get_suite
from ..mls.messages import Add, Proposal, Remove, Update, decode_ratchet_tree
from ..mls.ratchet_tree import RatchetTree
from . import NotSupported
from .common import Check, h


def check(case: dict[str, Any]) -> list[str]:
    c = Check()
    suite = get_suite(case["cipher_suite"])
    before = RatchetTree.from_nodes(suite, decode_ratchet_tree(h(case["tree_before"])))
    c.eq("tree_hash_before", before.tree_hash(), h(case["tree_hash_before"]))
    proposal = decode(Proposal, h(case["proposal"]))
    sender = case["proposal_sender"]
    editor = before.edit()
    if isinstance(proposal, Add):
        editor.add_leaf(proposal.key_package.leaf_node)
    elif isinstance(proposal, Update):
        editor.update_leaf(sender, proposal.leaf_node)
    elif isinstance(proposal, Remove):
        editor.remove_leaf(proposal.removed)
    else:
        raise NotSupported(f"proposal type {proposal.proposal_type.name} in a tree-operations case")
    after = editor.freeze()
    c.eq("tree_after", after.encode(), h(case["tree_after"]))
    c.eq("tree_hash_after", after.tree_hash(), h(case["tree_hash_after"]))
    c.eq("tree_before unchanged by the edit", before.encode(), h(case["tree_before"]))
    return c.errors
