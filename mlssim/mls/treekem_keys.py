"""A member's private TreeKEM state and what it is derived from (RFC 9420 §7.4–§7.6): the
:class:`PathKeys` one member holds, node key pairs and path secrets, the §7.6 shape of an
UpdatePath, and the errors of TreeKEM.

The base that :mod:`~mlssim.mls.treekem` (a member creating and processing UpdatePaths) and
:mod:`~mlssim.mls.treekem_observer` (anyone holding keys, e.g. an adversary) both build on;
every name here is importable from :mod:`~mlssim.mls.treekem` too.

Public and private state are kept apart on purpose: what one member privately knows is a small
:class:`PathKeys` (its leaf key and the key pairs of the parent nodes above it it holds:
O(log N)). All private keys are the suite's serialized HPKE private keys, so holding the bytes
is the capability, in the real and the model suite families alike.

Derivation (§7.4, §8)::

    leaf_secret     (fresh from the injected RandomSource)
      ├─ DeriveSecret(., "node") → DeriveKeyPair → leaf key pair
      └─ DeriveSecret(., "path") = path_secret[0]
    path_secret[n]
      ├─ DeriveSecret(., "node") → DeriveKeyPair → key pair of the n-th filtered direct path node
      └─ DeriveSecret(., "path") = path_secret[n+1]; after the last node: the commit_secret

The text of §7.4 samples path_secret[0] at random; its figure derives it from the leaf secret.
The two are indistinguishable to every other member (each path secret is only ever seen
encrypted); we follow the figure, so one draw yields the whole path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from .crypto.suite import CipherSuite, KeyPair
from .errors import RemoteProtocolError
from .messages.tree import UpdatePath, UpdatePathNode
from .tree_view import TreeView, UpdatePathShapeError
from .treemath import LeafIndex, NodeIndex

__all__ = [
    "PathKeys",
    "TreeKEMError",
    "PathSecretUnavailableError",
    "PathSecretDecryptionError",
    "PathKeyMismatchError",
    "WelcomePathError",
    "node_key_pair",
    "next_path_secret",
    "derive_path",
    "node_public_key",
    "check_update_path_shape",
    "check_node_count",
    "check_ciphertext_count",
    "UPDATE_PATH_LABEL",
]

UPDATE_PATH_LABEL = "UpdatePathNode"


# ---- errors -----------------------------------------------------------------------------------


class TreeKEMError(RemoteProtocolError):
    """An UpdatePath (or Welcome path secret) that cannot be processed."""

    rfc_section = "12.4.2"


class PathSecretUnavailableError(TreeKEMError):
    """No node of the relevant copath resolution is one this member holds a private key for."""


class PathSecretDecryptionError(TreeKEMError):
    """The HPKE ciphertext for this member does not open (§7.6 DecryptWithLabel)."""


class PathKeyMismatchError(TreeKEMError):
    """A public key derived from the decrypted path secret differs from the UpdatePath's (§12.4.2)."""


class WelcomePathError(TreeKEMError):
    """The Welcome's path secret does not give the keys the tree holds (§12.4.3.1)."""

    rfc_section = "12.4.3.1"


# ---- private state -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PathKeys:
    """One member's private TreeKEM state: its leaf's HPKE private key and the key pairs of the
    parent nodes it holds (§4.2 tree invariant: only nodes on its own direct path).

    ``leaf_pub`` may be unknown (``None``): the leaf key is then trusted to match the tree.
    ``nodes`` is never mutated; every change returns a new PathKeys.
    """

    leaf: LeafIndex
    leaf_priv: bytes
    leaf_pub: bytes | None = None
    nodes: Mapping[NodeIndex, KeyPair] = field(default_factory=dict)

    @classmethod
    def for_leaf(cls, leaf: LeafIndex, leaf_priv: bytes, leaf_pub: bytes | None = None) -> PathKeys:
        """A member that holds only its leaf key (a new group's creator, a joiner without path secret)."""
        return cls(leaf, leaf_priv, leaf_pub, {})

    @classmethod
    def from_path_secrets(
        cls,
        suite: CipherSuite,
        leaf: LeafIndex,
        leaf_priv: bytes,
        path_secrets: Mapping[int, bytes],
        leaf_pub: bytes | None = None,
    ) -> PathKeys:
        """Key pairs derived from a path secret per node (e.g. the interop vectors' private state)."""
        return cls(
            leaf,
            leaf_priv,
            leaf_pub,
            {NodeIndex(x): node_key_pair(suite, s) for x, s in path_secrets.items()},
        )

    def with_leaf_key(self, leaf_priv: bytes, leaf_pub: bytes | None = None) -> PathKeys:
        """After this member's own Update is committed: a new leaf key, same node keys."""
        return PathKeys(self.leaf, leaf_priv, leaf_pub, self.nodes)

    def with_nodes(self, nodes: Mapping[NodeIndex, KeyPair]) -> PathKeys:
        """These node keys added (replacing any held for the same nodes)."""
        merged = dict(self.nodes)
        merged.update(nodes)
        return PathKeys(self.leaf, self.leaf_priv, self.leaf_pub, merged)

    def private_key(self, x: int) -> bytes | None:
        """The private key held for node ``x`` (the leaf node included), else ``None``."""
        if x == 2 * self.leaf:
            return self.leaf_priv
        kp = self.nodes.get(NodeIndex(x))
        return None if kp is None else kp.priv

    def usable_key(self, tree: TreeView, x: int) -> bytes | None:
        """The private key for node ``x`` if it belongs to the public key the tree holds there."""
        node = tree.node(x)
        if node is None:
            return None
        if x == 2 * self.leaf:
            if self.leaf_pub is not None and self.leaf_pub != node.encryption_key:
                return None
            return self.leaf_priv
        kp = self.nodes.get(NodeIndex(x))
        if kp is None or kp.pub != node.encryption_key:
            return None
        return kp.priv

    def pruned(self, tree: TreeView) -> PathKeys:
        """Drop the node keys the tree no longer holds (blanked, replaced or truncated nodes): the
        deletion §7.5 asks for once a commit is processed."""
        keep = {x: kp for x, kp in self.nodes.items() if node_public_key(tree, x) == kp.pub}
        if len(keep) == len(self.nodes):
            return self
        return PathKeys(self.leaf, self.leaf_priv, self.leaf_pub, keep)

    def mismatches(self, tree: TreeView) -> list[NodeIndex]:
        """Nodes whose key here is not the tree's (blank there, or another public key)."""
        bad = [x for x, kp in sorted(self.nodes.items()) if node_public_key(tree, x) != kp.pub]
        if self.leaf_pub is not None and node_public_key(tree, 2 * self.leaf) != self.leaf_pub:
            bad.insert(0, NodeIndex(2 * self.leaf))
        return bad


def node_public_key(tree: TreeView, x: int) -> bytes | None:
    """The encryption key the tree holds at node ``x``, ``None`` if blank."""
    node = tree.node(x)
    return None if node is None else node.encryption_key


# ---- derivation (§7.4) --------------------------------------------------------------------------


def node_key_pair(suite: CipherSuite, path_secret: bytes) -> KeyPair:
    """node_secret = DeriveSecret(path_secret, "node"); KEM.DeriveKeyPair(node_secret)."""
    return suite.kem_derive_key_pair(suite.derive_secret(path_secret, "node"))


def next_path_secret(suite: CipherSuite, path_secret: bytes) -> bytes:
    """path_secret[n+1] = DeriveSecret(path_secret[n], "path")."""
    return suite.derive_secret(path_secret, "path")


def derive_path(suite: CipherSuite, path_secret: bytes, count: int) -> tuple[list[bytes], bytes]:
    """``count`` successive path secrets starting with ``path_secret``, and the one after the
    last (the commit secret when the count is the filtered direct path's length)."""
    out: list[bytes] = []
    s = path_secret
    for _ in range(count):
        out.append(s)
        s = next_path_secret(suite, s)
    return out, s


# ---- the shape of an UpdatePath (§7.6) ----------------------------------------------------------


def check_update_path_shape(
    tree: TreeView, sender: int, update_path: UpdatePath, exclude: AbstractSet[int]
) -> None:
    """§7.6: one UpdatePathNode per filtered direct path node, and one ciphertext per node of
    the copath child's resolution (without ``exclude``). Raises UpdatePathShapeError.
    (Resolutions come from ``resolution_positions``, which a frozen tree caches for the
    receivers that decrypt next.)"""
    path = tree.filtered_direct_path_with_copath(sender)
    check_node_count(sender, path, update_path)
    for (p, s), upn in zip(path, update_path.nodes, strict=True):
        check_ciphertext_count(p, s, upn, tree.resolution_positions(s, exclude)[0])


def check_node_count(
    sender: int, path: Sequence[tuple[NodeIndex, NodeIndex]], update_path: UpdatePath
) -> None:
    if len(path) != len(update_path.nodes):
        raise UpdatePathShapeError(
            f"UpdatePath of leaf {sender} has {len(update_path.nodes)} nodes, "
            f"its filtered direct path {len(path)}"
        )


def check_ciphertext_count(p: int, s: int, upn: UpdatePathNode, res: Sequence[NodeIndex]) -> None:
    if len(upn.encrypted_path_secret) != len(res):
        raise UpdatePathShapeError(
            f"UpdatePath node for {p} has {len(upn.encrypted_path_secret)} ciphertexts, "
            f"the resolution of its copath child {s} {len(res)}"
        )
