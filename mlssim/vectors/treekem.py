"""``treekem``: process every UpdatePath as every other member, then create new ones
(RFC 9420 §7.4–§7.6, §7.9, §12.4.2)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..mls.codec import decode, encode
from ..mls.crypto import get_suite
from ..mls.crypto.suite import CipherSuite
from ..mls.errors import MLSError
from ..mls.messages import (
    GroupContext,
    LeafNode,
    LeafNodeSource,
    UpdatePath,
    decode_ratchet_tree,
    leaf_node_tbs,
)
from ..mls.rand import SeededRandom
from ..mls.ratchet_tree import RatchetTree
from ..mls.tree_validation import leaf_signature_valid, parent_hash_invalid_nodes
from ..mls.treekem import (
    PathKeys,
    check_update_path_shape,
    create_update_path,
    decrypt_update_path,
    process_update_path,
)
from ..mls.treemath import LeafIndex
from .common import Check, h


def _private_state(
    c: Check, suite: CipherSuite, tree: RatchetTree, case: dict[str, Any]
) -> dict[int, PathKeys]:
    """``leaves_private`` as PathKeys, each checked against the tree."""
    out: dict[int, PathKeys] = {}
    for lp in case["leaves_private"]:
        i = lp["index"]
        leaf = tree.leaf(i)
        if leaf is None:
            c.errors.append(f"leaves_private[{i}]: leaf is blank")
            continue
        priv = h(lp["encryption_priv"])
        c.eq(f"leaf {i} encryption_priv matches the tree", suite.kem_public_key(priv), leaf.encryption_key)
        secrets = {ps["node"]: h(ps["path_secret"]) for ps in lp["path_secrets"]}
        keys = PathKeys.from_path_secrets(suite, LeafIndex(i), priv, secrets, leaf_pub=leaf.encryption_key)
        c.eq(f"leaf {i} private state inconsistent with the tree at nodes", keys.mismatches(tree), [])
        out[i] = keys
    return out


def check(case: dict[str, Any]) -> list[str]:
    c = Check()
    cs = case["cipher_suite"]
    suite = get_suite(cs)
    tree = RatchetTree.from_nodes(suite, decode_ratchet_tree(h(case["ratchet_tree"])))
    group_id = h(case["group_id"])

    def context_for(tree_hash: bytes) -> bytes:
        return encode(
            GroupContext(
                cipher_suite=cs,
                group_id=group_id,
                epoch=case["epoch"],
                tree_hash=tree_hash,
                confirmed_transcript_hash=h(case["confirmed_transcript_hash"]),
                extensions=(),
            )
        )

    private = _private_state(c, suite, tree, case)
    signature_privs = {lp["index"]: h(lp["signature_priv"]) for lp in case["leaves_private"]}
    none: frozenset[int] = frozenset()
    receivers = [j for j, _ in tree.leaves()]

    for n, entry in enumerate(case["update_paths"]):
        i = entry["sender"]
        where = f"update_paths[{n}] (sender {i})"
        up = decode(UpdatePath, h(entry["update_path"]))
        # the given UpdatePath: merge once (parent hash checked), then every receiver decrypts
        try:
            check_update_path_shape(tree, i, up, none)
            editor = tree.edit()
            editor.merge_update_path(i, up)
        except MLSError as exc:
            c.errors.append(f"{where}: does not merge: {exc}")
            continue
        after = editor.freeze()
        c.eq(f"{where} tree_hash_after", after.tree_hash(), h(entry["tree_hash_after"]))
        c.eq(f"{where} tree parent-hash invalid at", parent_hash_invalid_nodes(after), [])
        context = context_for(after.tree_hash())
        for j in receivers:
            if j == i:
                continue
            try:
                d = decrypt_update_path(
                    suite, after, i, up, receiver=private[j], exclude=none, context=context
                )
            except MLSError as exc:
                c.errors.append(f"{where}: leaf {j} cannot process it: {exc}")
                continue
            c.eq(f"{where} path_secrets[{j}]", d.path_secret, h(entry["path_secrets"][j]))
            c.eq(f"{where} commit_secret at leaf {j}", d.commit_secret, h(entry["commit_secret"]))
            c.eq(f"{where} leaf {j} new keys inconsistent at", d.path_keys.mismatches(after), [])

        # a new UpdatePath from the same sender, processed by every other leaf
        old = tree.leaf(i)
        assert old is not None
        sig_priv = signature_privs[i]

        def make_leaf(
            encryption_key: bytes,
            parent_hash: bytes,
            old: LeafNode = old,
            sig_priv: bytes = sig_priv,
            i: int = i,
        ) -> LeafNode:
            unsigned = replace(
                old,
                encryption_key=encryption_key,
                leaf_node_source=LeafNodeSource.COMMIT,
                lifetime=None,
                parent_hash=parent_hash,
                signature=b"",
            )
            tbs = leaf_node_tbs(unsigned, group_id, i)
            return replace(unsigned, signature=suite.sign_with_label(sig_priv, "LeafNodeTBS", tbs))

        editor = tree.edit()
        rand = SeededRandom(group_id, f"treekem vector: new UpdatePath from leaf {i}")
        result = create_update_path(
            suite, editor, LeafIndex(i), make_leaf=make_leaf, exclude=none, context_for=context_for, rand=rand
        )
        created = editor.freeze()
        c.true(
            f"{where}: new leaf signature does not verify",
            leaf_signature_valid(suite, result.update_path.leaf_node, group_id, i),
        )
        c.eq(
            f"{where}: tree after new UpdatePath parent-hash invalid at",
            parent_hash_invalid_nodes(created),
            [],
        )
        for j in receivers:
            if j == i:
                continue
            ed = tree.edit()
            try:
                commit_secret, _ = process_update_path(
                    suite,
                    ed,
                    LeafIndex(i),
                    result.update_path,
                    receiver=private[j],
                    exclude=none,
                    context_for=context_for,
                )
            except MLSError as exc:
                c.errors.append(f"{where}: leaf {j} cannot process the new UpdatePath: {exc}")
                continue
            c.eq(f"{where} new commit_secret at leaf {j}", commit_secret, result.commit_secret)
            c.eq(f"{where} new tree hash at leaf {j}", ed.tree_hash(), created.tree_hash())
    return c.errors
