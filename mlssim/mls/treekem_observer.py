"""An observer's view of UpdatePaths and Welcome path secrets (RFC 9420 §7.4–§7.6, §12.4.3.1):
anyone holding a key, not only the member it belongs to.

A member holds keys on its own direct path only (§4.2) and opens exactly one ciphertext of an
UpdatePath (:mod:`~mlssim.mls.treekem`). An observer that holds keys of several members (e.g.
the adversary, which compromised them) or regenerates a committer's randomness needs the same
steps split up: which node each ciphertext is for, opening one with a given key, deriving
upward from a path secret, replaying a committer from its leaf secret. Every name here is
importable from :mod:`~mlssim.mls.treekem` too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from .crypto.suite import CipherSuite, KeyPair
from .errors import CryptoError
from .messages.tree import UpdatePath
from .tree_view import TreeView, UpdatePathShapeError
from .treekem_keys import (
    UPDATE_PATH_LABEL,
    PathKeyMismatchError,
    PathSecretDecryptionError,
    WelcomePathError,
    check_ciphertext_count,
    check_node_count,
    next_path_secret,
    node_key_pair,
    node_public_key,
)
from .treemath import NodeIndex

__all__ = [
    "OpenedPath",
    "update_path_targets",
    "derive_update_path_from",
    "open_update_path_node",
    "regenerate_update_path",
    "welcome_path_keys",
]


@dataclass(frozen=True, slots=True)
class OpenedPath:
    """What one path secret of an UpdatePath gives: the key pairs of the filtered path nodes
    from the opened one to the root, their path secrets, and the commit secret."""

    node_keys: Mapping[NodeIndex, KeyPair]
    path_secrets: Mapping[NodeIndex, bytes]
    commit_secret: bytes


def update_path_targets(
    tree: TreeView, sender: int, update_path: UpdatePath, exclude: AbstractSet[int]
) -> list[tuple[NodeIndex, NodeIndex, list[NodeIndex]]]:
    """§7.6 from public state only: per UpdatePathNode, the filtered path node, its copath child
    and the resolution (without ``exclude``) whose i-th node the i-th ciphertext is encrypted to.
    ``tree`` has the path merged; raises UpdatePathShapeError like :func:`check_update_path_shape`."""
    path = tree.filtered_direct_path_with_copath(sender)
    check_node_count(sender, path, update_path)
    out: list[tuple[NodeIndex, NodeIndex, list[NodeIndex]]] = []
    for (p, s), upn in zip(path, update_path.nodes, strict=True):
        res = tree.resolution(s, exclude)
        check_ciphertext_count(p, s, upn, res)
        out.append((p, s, res))
    return out


def derive_update_path_from(
    suite: CipherSuite,
    path_nodes: Sequence[NodeIndex],
    update_path: UpdatePath,
    index: int,
    path_secret: bytes,
) -> OpenedPath:
    """§7.4 upward from ``path_secret`` of the ``index``-th filtered path node; every derived
    public key is checked against the UpdatePath's (§12.4.2, PathKeyMismatchError)."""
    if len(path_nodes) != len(update_path.nodes) or not 0 <= index <= len(path_nodes):
        raise UpdatePathShapeError(f"path of {len(path_nodes)} nodes, UpdatePath of {len(update_path.nodes)}")
    keys: dict[NodeIndex, KeyPair] = {}
    secrets: dict[NodeIndex, bytes] = {}
    secret = path_secret
    for j in range(index, len(path_nodes)):
        kp = node_key_pair(suite, secret)
        if kp.pub != update_path.nodes[j].encryption_key:
            raise PathKeyMismatchError(f"key derived for node {path_nodes[j]} differs from the UpdatePath's")
        keys[path_nodes[j]] = kp
        secrets[path_nodes[j]] = secret
        secret = next_path_secret(suite, secret)
    return OpenedPath(node_keys=keys, path_secrets=secrets, commit_secret=secret)


def open_update_path_node(
    suite: CipherSuite,
    path_nodes: Sequence[NodeIndex],
    update_path: UpdatePath,
    *,
    index: int,
    position: int,
    priv: bytes,
    context: bytes,
) -> OpenedPath:
    """§7.5: open ciphertext ``position`` of UpdatePathNode ``index`` with the private key of that
    resolution node (DecryptWithLabel, the provisional GroupContext as context) and derive upward.
    A wrong key raises PathSecretDecryptionError."""
    ct = update_path.nodes[index].encrypted_path_secret[position]
    try:
        secret = suite.decrypt_with_label(priv, UPDATE_PATH_LABEL, context, ct.kem_output, ct.ciphertext)
    except CryptoError as exc:
        raise PathSecretDecryptionError(
            f"path secret for node {path_nodes[index]} does not open with the key given: {exc}"
        ) from exc
    return derive_update_path_from(suite, path_nodes, update_path, index, secret)


def regenerate_update_path(
    suite: CipherSuite, path_nodes: Sequence[NodeIndex], update_path: UpdatePath, leaf_secret: bytes
) -> tuple[KeyPair, OpenedPath]:
    """The committer's derivation in :func:`create_update_path`, replayed from its leaf secret:
    the leaf key pair must be the UpdatePath leaf's, then every node key (PathKeyMismatchError)."""
    leaf_kp = node_key_pair(suite, leaf_secret)
    if leaf_kp.pub != update_path.leaf_node.encryption_key:
        raise PathKeyMismatchError("the leaf key derived from this leaf secret is not the UpdatePath's")
    return leaf_kp, derive_update_path_from(
        suite, path_nodes, update_path, 0, next_path_secret(suite, leaf_secret)
    )


def welcome_path_keys(
    suite: CipherSuite, tree: TreeView, committer: int, node: int, path_secret: bytes
) -> dict[NodeIndex, KeyPair]:
    """§12.4.3.1 without the joiner's leaf: the key pairs that the path secret of ``node`` (on the
    committer's filtered direct path) gives, checked against the tree (WelcomePathError)."""
    path = tree.filtered_direct_path(committer)
    if node not in path:
        raise WelcomePathError(f"node {node} is not on leaf {committer}'s filtered direct path")
    out: dict[NodeIndex, KeyPair] = {}
    secret = path_secret
    for x in path[path.index(NodeIndex(node)) :]:
        kp = node_key_pair(suite, secret)
        if kp.pub != node_public_key(tree, x):
            raise WelcomePathError(f"key derived for node {x} is not the tree's")
        out[x] = kp
        secret = next_path_secret(suite, secret)
    return out
