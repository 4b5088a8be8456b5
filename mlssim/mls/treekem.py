"""TreeKEM: creating and processing UpdatePaths, and the private keys they give (RFC 9420 §7.4–§7.6,
§12.4.2, §12.4.3.1).

Public and private state are kept apart on purpose. The public part of an UpdatePath is
merged into a :class:`~mlssim.mls.ratchet_tree.TreeEditor` (shared by everyone in the epoch
once frozen); what one member privately knows is a small :class:`PathKeys` (its leaf key and
the key pairs of the parent nodes above it it holds: O(log N)). All private keys are the
suite's serialized HPKE private keys, so holding the bytes is the capability, in the real and
the model suite families alike.

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

Two ways to process a received UpdatePath:

* :func:`process_update_path` — merge into the caller's editor and decrypt (what one member
  does on its own);
* :func:`decrypt_update_path` — decrypt only, against a tree that already has the path merged
  (e.g. the one frozen tree every member of a simulated group shares): O(log N) per member.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from .crypto.suite import CipherSuite, KeyPair
from .errors import CryptoError, LocalProtocolError, RemoteProtocolError
from .messages.tree import HPKECiphertext, LeafNode, UpdatePath, UpdatePathNode
from .rand import RandomSource
from .ratchet_tree import TreeEditor, TreeView, UpdatePathShapeError
from .sharing import NOT_SHARED, EpochCache, tables_of
from .treemath import LeafIndex, NodeIndex, common_ancestor

__all__ = [
    "PathKeys",
    "UpdatePathResult",
    "PathDecryption",
    "TreeKEMError",
    "PathSecretUnavailableError",
    "PathSecretDecryptionError",
    "PathKeyMismatchError",
    "WelcomePathError",
    "node_key_pair",
    "next_path_secret",
    "derive_path",
    "create_update_path",
    "check_update_path_shape",
    "process_update_path",
    "decrypt_update_path",
    "path_keys_from_welcome",
    "OpenedPath",
    "update_path_targets",
    "derive_update_path_from",
    "open_update_path_node",
    "regenerate_update_path",
    "welcome_path_keys",
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
        keep = {x: kp for x, kp in self.nodes.items() if _node_key(tree, x) == kp.pub}
        if len(keep) == len(self.nodes):
            return self
        return PathKeys(self.leaf, self.leaf_priv, self.leaf_pub, keep)

    def mismatches(self, tree: TreeView) -> list[NodeIndex]:
        """Nodes whose key here is not the tree's (blank there, or another public key)."""
        bad = [x for x, kp in sorted(self.nodes.items()) if _node_key(tree, x) != kp.pub]
        if self.leaf_pub is not None and _node_key(tree, 2 * self.leaf) != self.leaf_pub:
            bad.insert(0, NodeIndex(2 * self.leaf))
        return bad


def _node_key(tree: TreeView, x: int) -> bytes | None:
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


# ---- creating an UpdatePath (§7.4–§7.6, §12.4.1) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpdatePathResult:
    """What the committer gets from :func:`create_update_path`."""

    sender: LeafIndex
    update_path: UpdatePath
    commit_secret: bytes
    path_keys: PathKeys
    #: path secret of every filtered direct path node: the Welcome gives each new member the
    #: one of its lowest common ancestor with the committer (§12.4.3.1)
    path_secrets: Mapping[NodeIndex, bytes]

    def path_secret_for(self, new_member: int) -> bytes:
        """The path secret to put in ``new_member``'s GroupSecrets."""
        return self.path_secrets[common_ancestor(2 * self.sender, 2 * new_member)]


def create_update_path(
    suite: CipherSuite,
    editor: TreeEditor,
    sender: LeafIndex,
    *,
    make_leaf: Callable[[bytes, bytes], LeafNode],
    exclude: AbstractSet[int],
    context_for: Callable[[bytes], bytes],
    rand: RandomSource,
) -> UpdatePathResult:
    """§7.5 / §12.4.1: refresh the sender's path in ``editor`` (the tree with this commit's
    proposals applied) and build the UpdatePath.

    ``make_leaf(encryption_key, parent_hash)`` returns the sender's signed commit LeafNode;
    ``exclude`` is the set of leaves this commit adds (left out of every resolution, §7.6);
    ``context_for(tree_hash)`` returns the encoded provisional GroupContext, called once with
    the editor's tree hash after the path is merged. The editor ends up with the new path.
    """
    leaf_secret = rand.random_bytes(suite.info.hash_len)
    leaf_kp = node_key_pair(suite, leaf_secret)
    path = editor.filtered_direct_path_with_copath(sender)
    secrets, commit_secret = derive_path(suite, next_path_secret(suite, leaf_secret), len(path))
    key_pairs = [node_key_pair(suite, s) for s in secrets]

    parent_hash = editor.apply_path(sender, [kp.pub for kp in key_pairs])
    leaf = make_leaf(leaf_kp.pub, parent_hash)
    if leaf.encryption_key != leaf_kp.pub or leaf.parent_hash != parent_hash:
        raise LocalProtocolError("make_leaf must use the encryption_key and parent_hash it is given (§7.5)")
    editor.set_node(2 * sender, leaf)
    context = context_for(editor.tree_hash())

    nodes: list[UpdatePathNode] = []
    for (_, s), secret, kp in zip(path, secrets, key_pairs, strict=True):
        cts: list[HPKECiphertext] = []
        for r in editor.resolution(s, exclude):
            target = editor.node(r)
            assert target is not None
            kem_output, ct = suite.encrypt_with_label(
                target.encryption_key, UPDATE_PATH_LABEL, context, secret, rand
            )
            cts.append(HPKECiphertext(kem_output=kem_output, ciphertext=ct))
        nodes.append(UpdatePathNode(encryption_key=kp.pub, encrypted_path_secret=tuple(cts)))

    return UpdatePathResult(
        sender=sender,
        update_path=UpdatePath(leaf_node=leaf, nodes=tuple(nodes)),
        commit_secret=commit_secret,
        path_keys=PathKeys(
            sender, leaf_kp.priv, leaf_kp.pub, {p: kp for (p, _), kp in zip(path, key_pairs, strict=True)}
        ),
        path_secrets={p: s for (p, _), s in zip(path, secrets, strict=True)},
    )


# ---- processing an UpdatePath (§7.5, §12.4.2) ---------------------------------------------------


def check_update_path_shape(
    tree: TreeView, sender: int, update_path: UpdatePath, exclude: AbstractSet[int]
) -> None:
    """§7.6: one UpdatePathNode per filtered direct path node, and one ciphertext per node of
    the copath child's resolution (without ``exclude``). Raises UpdatePathShapeError.
    (Resolutions come from ``resolution_positions``, which a frozen tree caches for the
    receivers that decrypt next.)"""
    path = tree.filtered_direct_path_with_copath(sender)
    _check_node_count(sender, path, update_path)
    for (p, s), upn in zip(path, update_path.nodes, strict=True):
        _check_ciphertext_count(p, s, upn, tree.resolution_positions(s, exclude)[0])


def _check_node_count(
    sender: int, path: Sequence[tuple[NodeIndex, NodeIndex]], update_path: UpdatePath
) -> None:
    if len(path) != len(update_path.nodes):
        raise UpdatePathShapeError(
            f"UpdatePath of leaf {sender} has {len(update_path.nodes)} nodes, "
            f"its filtered direct path {len(path)}"
        )


def _check_ciphertext_count(p: int, s: int, upn: UpdatePathNode, res: Sequence[NodeIndex]) -> None:
    if len(upn.encrypted_path_secret) != len(res):
        raise UpdatePathShapeError(
            f"UpdatePath node for {p} has {len(upn.encrypted_path_secret)} ciphertexts, "
            f"the resolution of its copath child {s} {len(res)}"
        )


@dataclass(frozen=True, slots=True)
class PathDecryption:
    """What a receiver learns from an UpdatePath."""

    commit_secret: bytes
    path_keys: PathKeys
    #: the lowest node of the sender's filtered path whose secret the receiver decrypted
    node: NodeIndex
    #: that node's path secret (the TreeKEM vectors' ``path_secrets[j]``)
    path_secret: bytes


def _chain(suite: CipherSuite, secret: bytes, steps: int) -> tuple[tuple[KeyPair, ...], bytes]:
    pairs = []
    for _ in range(steps):
        pairs.append(node_key_pair(suite, secret))
        secret = next_path_secret(suite, secret)
    return tuple(pairs), secret


def decrypt_update_path(
    suite: CipherSuite,
    tree: TreeView,
    sender: int,
    update_path: UpdatePath,
    *,
    receiver: PathKeys,
    exclude: AbstractSet[int],
    context: bytes,
    shared: EpochCache | None = None,
) -> PathDecryption:
    """§7.5 "decrypt the path secrets": ``tree`` already has the path merged (resolutions of
    copath children are the same before and after the merge). Finds the copath child above
    the receiver, opens the ciphertext for a resolution node it holds the key of (its position
    in the resolution is the ciphertext's index), derives upward and checks every derived public
    key against the UpdatePath. Returns the commit secret and the receiver's new PathKeys
    (keys the tree no longer holds dropped). Cost: O(log N) derivations, no tree copy; with
    ``shared``, members who open the same ciphertext with the same key share the open and the
    derivations above it.
    """
    me = receiver.leaf
    if me == sender:
        raise LocalProtocolError("the committer does not process its own UpdatePath (§12.4.2)")
    if me in exclude:
        raise LocalProtocolError(f"leaf {me} is added by this commit: it joins by Welcome (§12.4.3.1)")
    path = tree.filtered_direct_path_with_copath(sender)
    _check_node_count(sender, path, update_path)
    # The receiver sits under the copath child of the lowest common ancestor of the two leaves.
    lca = common_ancestor(2 * me, 2 * sender)
    k = next((k for k, (p, _) in enumerate(path) if p == lca), None)
    if k is None:
        raise PathSecretUnavailableError(
            f"leaf {me} is under no copath child of leaf {sender}'s filtered path"
        )
    p, s = path[k]
    res, positions = tree.resolution_positions(s, exclude)
    upn = update_path.nodes[k]
    _check_ciphertext_count(p, s, upn, res)
    # The first resolution node whose key the receiver holds: look up the receiver's own nodes
    # (its leaf and held parents, O(log N)) rather than walk a resolution of up to N/2 nodes.
    held: tuple[int, NodeIndex, bytes] | None = None
    for r in (2 * me, *receiver.nodes):
        pos = positions.get(r)
        if pos is None or (held is not None and held[0] <= pos):
            continue
        priv = receiver.usable_key(tree, r)
        if priv is not None:
            held = (pos, NodeIndex(r), priv)
    if held is None:
        raise PathSecretUnavailableError(f"leaf {me} holds no key in the resolution of node {s}")
    pos, r, priv = held

    ct = upn.encrypted_path_secret[pos]
    tables = tables_of(shared)
    opens = tables.path_opens if r & 1 else NOT_SHARED  # a leaf's key is one member's: nothing to share
    try:
        first = opens.get_or_compute(
            (priv, context, ct.kem_output, ct.ciphertext),
            lambda: suite.decrypt_with_label(priv, UPDATE_PATH_LABEL, context, ct.kem_output, ct.ciphertext),
        )
    except CryptoError as exc:
        raise PathSecretDecryptionError(
            f"path secret for node {p} does not open with node {r}'s key: {exc}"
        ) from exc
    steps = len(path) - k
    pairs, secret = tables.path_chains.get_or_compute((first, steps), lambda: _chain(suite, first, steps))
    new: dict[NodeIndex, KeyPair] = {}
    for j, kp in enumerate(pairs, k):
        if kp.pub != update_path.nodes[j].encryption_key:
            raise PathKeyMismatchError(f"key derived for node {path[j][0]} differs from the UpdatePath's")
        new[path[j][0]] = kp
    return PathDecryption(
        commit_secret=secret,
        path_keys=receiver.pruned(tree).with_nodes(new),
        node=p,
        path_secret=first,
    )


def process_update_path(
    suite: CipherSuite,
    editor: TreeEditor,
    sender: LeafIndex,
    update_path: UpdatePath,
    *,
    receiver: PathKeys,
    exclude: AbstractSet[int],
    context_for: Callable[[bytes], bytes],
) -> tuple[bytes, PathKeys]:
    """§12.4.2: check the UpdatePath's shape, merge its public part into ``editor`` (verifying
    the leaf's parent hash, §7.9.2), build the provisional GroupContext with the merged tree's
    hash, and decrypt. Returns ``(commit_secret, receiver's new PathKeys)``. On an error the
    editor may be half-changed: discard it."""
    check_update_path_shape(editor, sender, update_path, exclude)
    editor.merge_update_path(sender, update_path)
    context = context_for(editor.tree_hash())
    d = decrypt_update_path(
        suite, editor, sender, update_path, receiver=receiver, exclude=exclude, context=context
    )
    return d.commit_secret, d.path_keys


# ---- joining (§12.4.3.1) --------------------------------------------------------------------------


def path_keys_from_welcome(
    suite: CipherSuite,
    tree: TreeView,
    my_leaf: LeafIndex,
    my_leaf_priv: bytes,
    committer: LeafIndex | None,
    path_secret: bytes | None,
) -> PathKeys:
    """§12.4.3.1: a joiner's private state. With a path secret, it belongs to the lowest common
    ancestor of ``my_leaf`` and the committer; derive upward along the (shared) filtered direct
    path, checking every derived public key against the tree. The leaf key is checked too."""
    leaf = tree.leaf(my_leaf)
    if leaf is None:
        raise WelcomePathError(f"my leaf {my_leaf} is blank in the tree")
    leaf_pub = suite.kem_public_key(my_leaf_priv)
    if leaf_pub != leaf.encryption_key:
        raise WelcomePathError(f"my private key does not belong to leaf {my_leaf}'s encryption key")
    keys = PathKeys.for_leaf(my_leaf, my_leaf_priv, leaf_pub)
    if path_secret is None:
        return keys
    if committer is None or committer == my_leaf:
        raise WelcomePathError("a path secret without a committer other than me")
    lca = common_ancestor(2 * my_leaf, 2 * committer)
    path = tree.filtered_direct_path(committer)
    if lca not in path:
        raise WelcomePathError(f"common ancestor {lca} is not on the committer's filtered direct path")
    new: dict[NodeIndex, KeyPair] = {}
    secret = path_secret
    for x in path[path.index(lca) :]:
        kp = node_key_pair(suite, secret)
        if kp.pub != _node_key(tree, x):
            raise WelcomePathError(f"key derived for node {x} is not the tree's")
        new[x] = kp
        secret = next_path_secret(suite, secret)
    return keys.with_nodes(new)


# ---- an observer's view: anyone holding a key, not only the receiver it belongs to -----------
#
# A member holds keys on its own direct path only (§4.2) and opens exactly one ciphertext of
# an UpdatePath. An observer that holds keys of several members (e.g. an adversary that
# compromised them) or regenerates a committer's randomness needs the same steps, split up.


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
    _check_node_count(sender, path, update_path)
    out: list[tuple[NodeIndex, NodeIndex, list[NodeIndex]]] = []
    for (p, s), upn in zip(path, update_path.nodes, strict=True):
        res = tree.resolution(s, exclude)
        _check_ciphertext_count(p, s, upn, res)
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
        if kp.pub != _node_key(tree, x):
            raise WelcomePathError(f"key derived for node {x} is not the tree's")
        out[x] = kp
        secret = next_path_secret(suite, secret)
    return out
