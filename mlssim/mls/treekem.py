"""TreeKEM as one member does it: creating an UpdatePath, processing a received one, and the
private keys a Welcome's path secret gives (RFC 9420 §7.4–§7.6, §12.4.1–§12.4.2, §12.4.3.1).

The public part of an UpdatePath is merged into a :class:`~mlssim.mls.ratchet_tree.TreeEditor`
(shared by everyone in the epoch once frozen); what the member privately learns is a
:class:`~mlssim.mls.treekem_keys.PathKeys`. The keys, derivations, shape checks and errors are
in :mod:`~mlssim.mls.treekem_keys`, an observer's split-up steps (anyone holding keys) in
:mod:`~mlssim.mls.treekem_observer`; both are importable from here too.

Two ways to process a received UpdatePath:

* :func:`process_update_path` — merge into the caller's editor and decrypt (what one member
  does on its own);
* :func:`decrypt_update_path` — decrypt only, against a tree that already has the path merged
  (e.g. the one frozen tree every member of a simulated group shares): O(log N) per member.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from .crypto.suite import CipherSuite, KeyPair
from .errors import CryptoError, LocalProtocolError
from .messages.tree import HPKECiphertext, LeafNode, UpdatePath, UpdatePathNode
from .rand import RandomSource
from .ratchet_tree import TreeEditor, TreeView
from .sharing import NOT_SHARED, EpochCache, tables_of
from .treekem_keys import (
    UPDATE_PATH_LABEL,
    PathKeyMismatchError,
    PathKeys,
    PathSecretDecryptionError,
    PathSecretUnavailableError,
    TreeKEMError,
    WelcomePathError,
    check_ciphertext_count,
    check_node_count,
    check_update_path_shape,
    derive_path,
    next_path_secret,
    node_key_pair,
    node_public_key,
)
from .treekem_observer import (
    OpenedPath,
    derive_update_path_from,
    open_update_path_node,
    regenerate_update_path,
    update_path_targets,
    welcome_path_keys,
)
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
    "PathEncryptor",
    "hpke_to_resolution",
    "check_update_path_shape",
    "process_update_path",
    "decrypt_update_path",
    "held_key",
    "path_chain",
    "path_keys_from_welcome",
    "OpenedPath",
    "update_path_targets",
    "derive_update_path_from",
    "open_update_path_node",
    "regenerate_update_path",
    "welcome_path_keys",
    "UPDATE_PATH_LABEL",
]


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
    encrypt: PathEncryptor | None = None,
) -> UpdatePathResult:
    """§7.5 / §12.4.1: refresh the sender's path in ``editor`` (the tree with this commit's
    proposals applied) and build the UpdatePath. ``encrypt`` seals one node's path secret for
    its copath child's resolution (default :func:`hpke_to_resolution`, RFC 9420's; a server-aided
    extension may seal it otherwise).

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

    seal = encrypt or hpke_to_resolution
    nodes = [
        UpdatePathNode(
            encryption_key=kp.pub,
            encrypted_path_secret=seal(
                suite, editor, p, editor.resolution(s, exclude), secret, context, rand
            ),
        )
        for (p, s), secret, kp in zip(path, secrets, key_pairs, strict=True)
    ]

    return UpdatePathResult(
        sender=sender,
        update_path=UpdatePath(leaf_node=leaf, nodes=tuple(nodes)),
        commit_secret=commit_secret,
        path_keys=PathKeys(
            sender, leaf_kp.priv, leaf_kp.pub, {p: kp for (p, _), kp in zip(path, key_pairs, strict=True)}
        ),
        path_secrets={p: s for (p, _), s in zip(path, secrets, strict=True)},
    )


#: seals one path node's secret for the nodes of its copath child's resolution:
#: ``(suite, tree, path node, resolution, path secret, context, rand) -> ciphertexts``
PathEncryptor = Callable[
    [CipherSuite, TreeView, NodeIndex, Sequence[NodeIndex], bytes, bytes, RandomSource],
    Sequence[HPKECiphertext],
]


def hpke_to_resolution(
    suite: CipherSuite,
    tree: TreeView,
    node: NodeIndex,
    resolution: Sequence[NodeIndex],
    secret: bytes,
    context: bytes,
    rand: RandomSource,
) -> tuple[HPKECiphertext, ...]:
    """§7.6: EncryptWithLabel(key, "UpdatePathNode", context, path_secret) to each node of the
    resolution, in order."""
    out = []
    for r in resolution:
        target = tree.node(r)
        assert target is not None
        kem_output, ct = suite.encrypt_with_label(
            target.encryption_key, UPDATE_PATH_LABEL, context, secret, rand
        )
        out.append(HPKECiphertext(kem_output=kem_output, ciphertext=ct))
    return tuple(out)


# ---- processing an UpdatePath (§7.5, §12.4.2) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class PathDecryption:
    """What a receiver learns from an UpdatePath."""

    commit_secret: bytes
    path_keys: PathKeys
    #: the lowest node of the sender's filtered path whose secret the receiver decrypted
    node: NodeIndex
    #: that node's path secret (the TreeKEM vectors' ``path_secrets[j]``)
    path_secret: bytes


def path_chain(suite: CipherSuite, secret: bytes, steps: int) -> tuple[tuple[KeyPair, ...], bytes]:
    """§7.4 from one path secret: the key pairs of ``steps`` nodes upward, and the secret after
    them (the commit secret's input when the chain reaches the root)."""
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
    check_node_count(sender, path, update_path)
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
    check_ciphertext_count(p, s, upn, res)
    pos, r, priv = held_key(tree, receiver, positions, s)

    ct = upn.encrypted_path_secret[pos]
    tables = tables_of(shared)
    opens = tables.path_opens if r & 1 else NOT_SHARED  # a leaf's key is one member's: nothing to share
    try:
        first = opens.get_or_compute(
            (priv, context, ct.kem_output, ct.ciphertext),
            suite.decrypt_with_label,
            priv,
            UPDATE_PATH_LABEL,
            context,
            ct.kem_output,
            ct.ciphertext,
        )
    except CryptoError as exc:
        raise PathSecretDecryptionError(
            f"path secret for node {p} does not open with node {r}'s key: {exc}"
        ) from exc
    steps = len(path) - k
    pairs, secret = tables.path_chains.get_or_compute((first, steps), path_chain, suite, first, steps)
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


def held_key(
    tree: TreeView, receiver: PathKeys, positions: Mapping[int, int], s: int
) -> tuple[int, NodeIndex, bytes]:
    """The first node of copath child ``s``'s resolution whose key the receiver holds (its
    position, the node, the private key): found by looking up the receiver's own nodes (its
    leaf and held parents, O(log N)) rather than by walking a resolution of up to N/2 nodes."""
    held: tuple[int, NodeIndex, bytes] | None = None
    for r in (2 * receiver.leaf, *receiver.nodes):
        pos = positions.get(r)
        if pos is None or (held is not None and held[0] <= pos):
            continue
        priv = receiver.usable_key(tree, r)
        if priv is not None:
            held = (pos, NodeIndex(r), priv)
    if held is None:
        raise PathSecretUnavailableError(f"leaf {receiver.leaf} holds no key in the resolution of node {s}")
    return held


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
        if kp.pub != node_public_key(tree, x):
            raise WelcomePathError(f"key derived for node {x} is not the tree's")
        new[x] = kp
        secret = next_path_secret(suite, secret)
    return keys.with_nodes(new)
