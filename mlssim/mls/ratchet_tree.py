"""The public ratchet tree (RFC 9420 §4.1, §7): the immutable :class:`RatchetTree` and the
:class:`TreeEditor` a commit changes it with.

Why it has this shape. A simulated group may have 50,000 members, and every member of an
epoch must be able to hold *the same* tree object. So the tree is split in two (openmls'
``TreeSync`` + diff, STYLE pattern 6):

* :class:`RatchetTree` is immutable by convention: once built it is never mutated, so any
  number of members (and the delivery service) share one instance. Its tree hash is computed
  once, for every node, when it is built; reads are O(1) after that.
* :class:`TreeEditor` is the working copy of one commit: ``tree.edit()`` copies the lists of
  node and hash *chunks* (fixed-size slices of the node and per-node hash arrays), copies a
  chunk only when it first writes to it, marks hashes dirty only along the paths it changes,
  and :meth:`TreeEditor.freeze` recomputes exactly the dirty ones (O(log N) after a path
  commit) and hands its chunks to a new :class:`RatchetTree`, which shares every chunk the
  commit did not touch with the tree before it. A path commit thus copies O(N / 256 + log N)
  pointers instead of O(N): at 10,000 members the flat copy and the matching release of the
  previous epoch's lists were a third of a lone receiver's time.

The tree is always *full*: ``n_leaves`` is a power of two and the node array is padded with
blanks (§7.7 extends and truncates it to keep it so); :meth:`RatchetTree.to_nodes` drops the
trailing blanks for the ``ratchet_tree`` extension (§12.4.3.3). A node is ``LeafNode``,
``ParentNode`` or ``None`` (blank).

Beside it: :mod:`~mlssim.mls.tree_view` (the chunked storage, the read-only queries both share,
the errors), :mod:`~mlssim.mls.tree_hashes` (the §7.8 tree hash and §7.9 parent hash inputs)
and :mod:`~mlssim.mls.tree_keys` (which node holds a key, derived epoch to epoch). Checking
parent hashes of a whole tree on joining (§7.9.2) lives in :mod:`~mlssim.mls.tree_validation`,
which imports this module (never the other way round). Every name of those modules that code
outside the tree uses is importable from here too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Container, Mapping, Sequence
from collections.abc import Set as AbstractSet

from .crypto.suite import CipherSuite
from .errors import InternalError
from .messages.tree import LeafNode, Node, ParentNode, UpdatePath
from .sharing import SharedTable
from .tree_hashes import all_tree_hashes, leaf_tree_hash, parent_hash_of, parent_tree_hash
from .tree_keys import KeyIndex, count_leaf, patched_credential_stats, patched_key_indexes
from .tree_view import CHUNK_BITS as _CB
from .tree_view import CHUNK_MASK as _CM
from .tree_view import (
    ParentHashMismatchError,
    TreeError,
    TreeOperationError,
    TreeStructureError,
    TreeView,
    UpdatePathShapeError,
    append_blanks,
    chunked,
    cut,
    leaves_needed,
    writable,
)
from .treemath import LeafIndex, NodeIndex

__all__ = [
    "KeyIndex",
    "TreeView",
    "RatchetTree",
    "TreeEditor",
    "TreeError",
    "TreeStructureError",
    "TreeOperationError",
    "UpdatePathShapeError",
    "ParentHashMismatchError",
    "leaf_tree_hash",
    "parent_tree_hash",
    "parent_hash_of",
]


class RatchetTree(TreeView):
    """An immutable public ratchet tree with every node's tree hash cached.

    Never mutated after construction, so all members of an epoch can share one instance;
    change it through :meth:`edit`. (The key indexes built on first use and the bounds on the
    last non-blank node and first blank leaf are caches: they never change an answer.)
    """

    __slots__ = ("_blank_hint", "_cred_stats", "_enc_index", "_sig_index", "_fdp_cache", "_res_cache")

    def __init__(
        self,
        suite: CipherSuite,
        nodes: list[list[Node | None]],
        hashes: list[list[bytes | None]],
        *,
        n_leaves: int,
        members: int,
        tail: int,
        blank_hint: int,
        enc_index: KeyIndex | None = None,
        sig_index: KeyIndex | None = None,
        cred_stats: tuple[Counter[int], Counter[int]] | None = None,
    ) -> None:
        """Internal: use :meth:`from_nodes` or :meth:`TreeEditor.freeze` (``nodes`` and
        ``hashes`` are chunked, see ``_CB``)."""
        width = 2 * n_leaves - 1
        if (
            len(nodes) != (width + _CM) >> _CB
            or len(hashes) != len(nodes)
            or len(nodes[-1]) != width - ((len(nodes) - 1) << _CB)
            or len(hashes[-1]) != len(nodes[-1])
        ):
            raise InternalError("RatchetTree built from inconsistent arrays")
        self.suite = suite
        self._nodes = nodes
        self._hashes = hashes
        self._n_leaves = n_leaves
        self._members = members
        self._tail = tail
        self._blank_hint = blank_hint  # every leaf below this index is non-blank
        self._enc_index = enc_index
        self._sig_index = sig_index
        self._cred_stats = cred_stats
        # Per-tree answers every member of the epoch asks for (a commit's filtered path and the
        # resolutions of its copath children): computed once, shared through the EpochCache.
        self._fdp_cache = SharedTable(None)
        self._res_cache = SharedTable(None)

    @classmethod
    def from_nodes(cls, suite: CipherSuite, nodes: Sequence[Node | None]) -> RatchetTree:
        """Build from a node array in array order (e.g. a decoded ``ratchet_tree`` extension).

        Pads with blanks to a power-of-two width (§12.4.3.3: the receiver extends the tree)
        and computes the tree hash of every node once: O(N) hashes.
        """
        if not nodes:
            raise TreeStructureError("a ratchet tree has at least one node")
        for x, node in enumerate(nodes):
            if node is None:
                continue
            if x & 1 == 0 and not isinstance(node, LeafNode):
                raise TreeStructureError(f"node {x} is a leaf position but holds a {type(node).__name__}")
            if x & 1 and not isinstance(node, ParentNode):
                raise TreeStructureError(f"node {x} is a parent position but holds a {type(node).__name__}")
        n = leaves_needed(len(nodes))
        full: list[Node | None] = list(nodes)
        full.extend([None] * (2 * n - 1 - len(full)))
        members = sum(1 for x in range(0, len(full), 2) if full[x] is not None)
        hashes = all_tree_hashes(suite, full, n)
        tree = cls(
            suite,
            chunked(full),
            chunked(hashes),
            n_leaves=n,
            members=members,
            tail=len(full) - 1,
            blank_hint=0,
        )
        tree.last_nonblank()
        return tree

    def node_tree_hash(self, x: int) -> bytes:
        h = self._hashes[x >> _CB][x & _CM]
        if h is None:
            raise InternalError(f"frozen tree without the hash of node {x}")
        return h

    def filtered_direct_path_with_copath(self, leaf: int) -> list[tuple[NodeIndex, NodeIndex]]:
        return list(self._fdp_cache.get_or_compute(leaf, self._filtered_direct_path_with_copath, leaf))

    def _filtered_direct_path_with_copath(self, leaf: int) -> tuple[tuple[NodeIndex, NodeIndex], ...]:
        return tuple(TreeView.filtered_direct_path_with_copath(self, leaf))

    def resolution_positions(
        self, x: int, exclude: AbstractSet[int] = frozenset()
    ) -> tuple[Sequence[NodeIndex], Mapping[int, int]]:
        key_set = exclude if isinstance(exclude, frozenset) else frozenset(exclude)
        return self._res_cache.get_or_compute((x, key_set), self._resolution_positions, x, key_set)

    def _resolution_positions(
        self, x: int, exclude: frozenset[int]
    ) -> tuple[Sequence[NodeIndex], Mapping[int, int]]:
        res, positions = TreeView.resolution_positions(self, x, exclude)
        return tuple(res), positions

    def edit(self) -> TreeEditor:
        """A working copy for one commit; this tree stays unchanged."""
        return TreeEditor(self)

    def first_blank_leaf(self) -> LeafIndex | None:
        """Leftmost blank leaf (§12.1.1), ``None`` if the tree is full."""
        nodes, i = self._nodes, self._blank_hint
        while i < self._n_leaves and nodes[i >> (_CB - 1)][(2 * i) & _CM] is not None:
            i += 1
        self._blank_hint = i  # cache
        return LeafIndex(i) if i < self._n_leaves else None

    # -- key lookups (uniqueness checks of §7.3 and §12.4.2), built on first use --

    def _indexes(self) -> tuple[KeyIndex, KeyIndex]:
        if self._enc_index is None or self._sig_index is None:
            enc: dict[bytes, int] = {}
            sig: dict[bytes, int] = {}
            for x in range(self.last_nonblank() + 1):
                node = self._nodes[x >> _CB][x & _CM]
                if node is None:
                    continue
                enc.setdefault(node.encryption_key, x)
                if isinstance(node, LeafNode):
                    sig.setdefault(node.signature_key, x)
            self._enc_index, self._sig_index = KeyIndex(enc), KeyIndex(sig)
        return self._enc_index, self._sig_index

    def encryption_keys(self) -> Container[bytes]:
        """Every node's ``encryption_key`` (built on first use, then derived from the previous
        tree's at :meth:`TreeEditor.freeze`)."""
        return self._indexes()[0]

    def signature_keys(self) -> Container[bytes]:
        """Every leaf's ``signature_key`` (like :meth:`encryption_keys`)."""
        return self._indexes()[1]

    def credential_stats(self) -> tuple[Counter[int], Counter[int]]:
        """(credential type -> leaves using it, credential type -> leaves whose capabilities
        list it); read-only, built on first use and derived at :meth:`TreeEditor.freeze` from
        the previous tree's, like the key indexes."""
        if self._cred_stats is None:
            in_use: Counter[int] = Counter()
            supported: Counter[int] = Counter()
            for _, leaf in self.leaves():
                count_leaf(leaf, in_use, supported, 1)
            self._cred_stats = (in_use, supported)
        return self._cred_stats

    def find_encryption_key(self, key: bytes) -> NodeIndex | None:
        """A node (leaf or parent) whose ``encryption_key`` is ``key``, if any."""
        x = self._indexes()[0].get(key)
        return None if x is None else NodeIndex(x)

    def find_signature_key(self, key: bytes) -> LeafIndex | None:
        """A leaf whose ``signature_key`` is ``key``, if any."""
        x = self._indexes()[1].get(key)
        return None if x is None else LeafIndex(x >> 1)


def _add_to(index: dict[bytes, set[int]], key: bytes, x: int) -> None:
    found = index.get(key)
    if found is None:
        index[key] = {x}
    else:
        found.add(x)


class TreeEditor(TreeView):
    """A mutable working copy of a :class:`RatchetTree` for one commit (§12.1, §7.5, §7.7).

    Copies the base's lists of node and hash chunks, and a chunk itself only before its first
    write here (the base's chunks are never written); marks hashes dirty only along changed paths.
    Leaves added to ``unmerged_leaves`` are batched per node and materialised when the node is
    read, so adding N members in one editor is O(N) overall. A failed operation can leave the
    editor half-changed: discard it (the base tree never changes). Unusable after :meth:`freeze`.
    """

    __slots__ = (
        "_base",
        "_pending",
        "_changed",
        "_blank_hint",
        "_enc_new",
        "_sig_new",
        "_frozen",
        "_own_n",
        "_own_h",
    )

    def __init__(self, base: RatchetTree) -> None:
        self.suite = base.suite
        self._base = base
        self._nodes = list(base._nodes)
        self._hashes = list(base._hashes)
        self._own_n: set[int] = set()  # chunks copied here (writable); the others are the base's
        self._own_h: set[int] = set()
        self._n_leaves = base._n_leaves
        self._members = base._members
        self._tail = base._tail
        self._blank_hint = base._blank_hint
        self._pending: dict[int, list[int]] = {}  # parent node -> leaves to add to unmerged_leaves
        self._changed: set[int] = set()  # nodes set or blanked here (for the key overlays)
        self._enc_new: dict[bytes, set[int]] = {}
        self._sig_new: dict[bytes, set[int]] = {}
        self._frozen = False

    # -- internals --

    def _check_open(self) -> None:
        if self._frozen:
            raise InternalError("TreeEditor used after freeze()")

    def _node_chunk(self, c: int) -> list[Node | None]:
        """Chunk ``c`` of the nodes, writable (copied on the first write)."""
        return writable(self._nodes, self._own_n, c)

    def _hash_chunk(self, c: int) -> list[bytes | None]:
        return writable(self._hashes, self._own_h, c)

    def _get(self, x: int) -> Node | None:
        node = self._nodes[x >> _CB][x & _CM]
        if self._pending:
            pending = self._pending.pop(x, None)
            if pending is not None and isinstance(node, ParentNode):
                node = ParentNode(
                    encryption_key=node.encryption_key,
                    parent_hash=node.parent_hash,
                    unmerged_leaves=tuple(sorted((*node.unmerged_leaves, *pending))),
                )
                self._node_chunk(x >> _CB)[x & _CM] = node
        return node

    def _dirty(self, x: int) -> None:
        """Invalidate the hash of ``x`` and its ancestors (stopping at an already dirty one:
        a dirty node's ancestors are dirty too)."""
        hashes, r, own = self._hashes, self._n_leaves - 1, self._own_h
        while True:
            c, i = x >> _CB, x & _CM
            chunk = hashes[c]
            if chunk[i] is None and x != r:
                # ancestors are dirty already, unless x was never hashed (new extension nodes,
                # whose ancestors are new too and hence dirty)
                return
            if c not in own:
                chunk = self._hash_chunk(c)
            chunk[i] = None
            if x == r:
                return
            low = (~x) & (x + 1)  # _parent(x), inline
            x = (x | low) ^ (x & (low << 1))

    def _hash(self, x: int) -> bytes:
        h = self._hashes[x >> _CB][x & _CM]
        if h is None:
            if x & 1 == 0:
                leaf = self._nodes[x >> _CB][x & _CM]
                h = leaf_tree_hash(self.suite, x >> 1, leaf if isinstance(leaf, LeafNode) else None)
            else:
                half = ((~x) & (x + 1)) >> 1
                left = self._hash(x - half)
                right = self._hash(x + half)
                node = self._get(x)
                h = parent_tree_hash(self.suite, node if isinstance(node, ParentNode) else None, left, right)
            self._hash_chunk(x >> _CB)[x & _CM] = h
        return h

    # -- low-level edits --

    def set_node(self, x: int, node: Node | None) -> None:
        """Replace node ``x`` (``None`` blanks it); any batched unmerged leaves of ``x`` are dropped."""
        if self._frozen:
            raise InternalError("TreeEditor used after freeze()")
        width = 2 * self._n_leaves - 1
        if not 0 <= x < width:
            raise InternalError(f"node {x} outside a tree of width {width}")
        is_leaf = x & 1 == 0
        if node is not None and isinstance(node, LeafNode) != is_leaf:
            raise InternalError(f"{type(node).__name__} at node {x}")
        old = self._nodes[x >> _CB][x & _CM]
        if self._pending:
            self._pending.pop(x, None)
        if old is None and node is None:
            return
        self._node_chunk(x >> _CB)[x & _CM] = node
        self._changed.add(x)
        if is_leaf:
            self._members += (node is not None) - (old is not None)
            if node is None and (x >> 1) < self._blank_hint:
                self._blank_hint = x >> 1
        if node is not None:
            if x > self._tail:
                self._tail = x
            _add_to(self._enc_new, node.encryption_key, x)
            if is_leaf:
                _add_to(self._sig_new, node.signature_key, x)  # type: ignore[union-attr]
        self._dirty(x)

    def blank(self, x: int) -> None:
        self.set_node(x, None)

    def blank_path(self, leaf: int) -> None:
        """Blank every node on the direct path of ``leaf`` (not the leaf)."""
        for p in self.direct_path(leaf):
            self.set_node(p, None)

    def extend(self) -> None:
        """§7.7: double the width; the old tree becomes the left subtree of a new blank root."""
        self._check_open()
        n = self._n_leaves
        append_blanks(self._nodes, self._own_n, 2 * n, None)
        append_blanks(self._hashes, self._own_h, 2 * n, None)
        self._n_leaves = 2 * n

    def truncate(self) -> None:
        """§7.7: while the right subtree of the root is all blank, drop it and the root."""
        self._check_open()
        while self._n_leaves > 1:
            n = self._n_leaves
            if self.last_nonblank() >= n:  # something in the right subtree (nodes n .. 2n-2)
                return
            new_width = n - 1  # 2 * (n // 2) - 1
            root = self._at(n - 1)
            if root is not None:  # the root goes even when it is not blank (§7.7)
                self._changed.add(n - 1)
            cut(self._nodes, self._own_n, new_width)
            cut(self._hashes, self._own_h, new_width)
            for x in [x for x in self._pending if x >= new_width]:
                del self._pending[x]
            self._n_leaves = n // 2
            self._tail = min(self._tail, new_width - 1)
            self._blank_hint = min(self._blank_hint, self._n_leaves)

    def first_blank_leaf(self) -> LeafIndex | None:
        """Leftmost blank leaf (§12.1.1), ``None`` if every leaf is occupied."""
        nodes, i = self._nodes, self._blank_hint
        while i < self._n_leaves and nodes[i >> (_CB - 1)][(2 * i) & _CM] is not None:
            i += 1
        self._blank_hint = i
        return LeafIndex(i) if i < self._n_leaves else None

    def reserve_leaf(self) -> LeafIndex:
        """The leaf an Add or an external joiner gets: the leftmost blank, extending if none."""
        i = self.first_blank_leaf()
        if i is None:
            i = LeafIndex(self._n_leaves)
            self.extend()
        return i

    # -- proposals (§12.1.1–§12.1.3) --

    def add_leaf(self, leaf_node: LeafNode) -> LeafIndex:
        """§12.1.1: put ``leaf_node`` in the leftmost blank leaf (extending the tree if there is
        none) and add that leaf to ``unmerged_leaves`` of every non-blank parent on its direct
        path. Returns the new leaf index."""
        self._check_open()
        i = self.reserve_leaf()
        self.set_node(2 * i, leaf_node)
        nodes, pending = self._nodes, self._pending
        for p in self.direct_path(i):
            if nodes[p >> _CB][p & _CM] is not None:
                pending.setdefault(p, []).append(i)
        return i

    def update_leaf(self, i: int, leaf_node: LeafNode) -> None:
        """§12.1.2: replace the sender's LeafNode and blank its direct path."""
        self._check_open()
        if self.leaf(i) is None:
            raise TreeOperationError(f"Update for blank or missing leaf {i}", "12.1.2")
        self.set_node(2 * i, leaf_node)
        self.blank_path(i)

    def remove_leaf(self, i: int) -> None:
        """§12.1.3: blank the leaf and its direct path, then truncate."""
        self._check_open()
        if self.leaf(i) is None:
            raise TreeOperationError(f"Remove of blank or missing leaf {i}", "12.1.3")
        self.set_node(2 * i, None)
        self.blank_path(i)
        self.truncate()

    # -- UpdatePath (§7.5, §7.9, §12.4.2) --

    def apply_path(self, sender: int, public_keys: Sequence[bytes]) -> bytes:
        """Blank the sender's direct path, set its filtered direct path to ParentNodes with
        ``public_keys`` (leaf to root), empty ``unmerged_leaves`` and parent hashes computed top
        down (§7.9: the topmost gets ``""``); return the parent hash the sender's new leaf must
        carry (``""`` if the filtered path is empty). The leaf itself is not touched."""
        self._check_open()
        # the filtered direct path depends only on the copath subtrees, so it can be taken
        # first; the direct-path nodes it leaves out are blanked, the others set just below
        path = self.filtered_direct_path_with_copath(sender)
        if len(public_keys) != len(path):
            raise UpdatePathShapeError(
                f"UpdatePath of leaf {sender} has {len(public_keys)} nodes, "
                f"its filtered direct path {len(path)}"
            )
        on_path = {p for p, _ in path}
        for p in self.direct_path(sender):
            if p not in on_path:
                self.set_node(p, None)
        ph = b""
        for (p, s), key in zip(reversed(path), reversed(public_keys), strict=True):
            self.set_node(p, ParentNode(encryption_key=key, parent_hash=ph, unmerged_leaves=()))
            ph = parent_hash_of(self.suite, key, ph, self._hash(s))
        return ph

    def merge_update_path(self, sender: int, update_path: UpdatePath) -> None:
        """§7.5 / §12.4.2: merge the public part of a received UpdatePath: blank the sender's
        direct path, set its filtered direct path from ``update_path``, check that the new leaf's
        ``parent_hash`` is the recomputed one (§7.9.2), then set the sender's leaf.

        Raises :class:`UpdatePathShapeError` or :class:`ParentHashMismatchError` (the editor is
        then half-changed: discard it).
        """
        ph = self.apply_path(sender, [n.encryption_key for n in update_path.nodes])
        leaf = update_path.leaf_node
        if leaf.parent_hash != ph:
            raise ParentHashMismatchError(
                f"UpdatePath leaf of {sender} has parent_hash {leaf.parent_hash.hex()[:16]}, "
                f"recomputed {ph.hex()[:16]} (§12.4.2)"
            )
        self.set_node(2 * sender, leaf)

    # -- hashes and freezing --

    def node_tree_hash(self, x: int) -> bytes:
        self._check_open()
        return self._hash(x)

    def tree_hash(self) -> bytes:
        self._check_open()
        return self._hash(self._n_leaves - 1)

    def find_encryption_key(self, key: bytes) -> NodeIndex | None:
        """A node of the edited tree whose ``encryption_key`` is ``key`` (base index + overlay)."""
        for x in sorted(self._enc_new.get(key, ())):
            node = self.node(x)
            if node is not None and node.encryption_key == key:
                return NodeIndex(x)
        x0 = self._base.find_encryption_key(key)
        if x0 is not None and x0 not in self._changed and x0 < 2 * self._n_leaves - 1:
            return x0
        return None

    def find_signature_key(self, key: bytes) -> LeafIndex | None:
        """A leaf of the edited tree whose ``signature_key`` is ``key``."""
        for x in sorted(self._sig_new.get(key, ())):
            leaf = self.leaf(x >> 1)
            if leaf is not None and leaf.signature_key == key:
                return LeafIndex(x >> 1)
        i = self._base.find_signature_key(key)
        if i is not None and 2 * i not in self._changed and i < self._n_leaves:
            return i
        return None

    def freeze(self) -> RatchetTree:
        """Recompute the dirty hashes and return the new immutable tree; the editor is spent."""
        self._check_open()
        for x in list(self._pending):
            self._get(x)
        self._hash(self._n_leaves - 1)
        enc, sig = self._patched_indexes()
        cred = self._patched_cred_stats()
        self._frozen = True
        return RatchetTree(
            self.suite,
            self._nodes,
            self._hashes,
            n_leaves=self._n_leaves,
            members=self._members,
            tail=self._tail,
            blank_hint=self._blank_hint,
            enc_index=enc,
            sig_index=sig,
            cred_stats=cred,
        )

    def _at(self, x: int) -> Node | None:
        """Node ``x`` as stored (no batched leaves materialised), ``None`` outside the tree."""
        return self._nodes[x >> _CB][x & _CM] if 0 <= x < 2 * self._n_leaves - 1 else None

    def _patched_cred_stats(self) -> tuple[Counter[int], Counter[int]] | None:
        """If the base counted its credential types, the new tree's, derived from them."""
        stats = self._base._cred_stats
        return (
            None
            if stats is None
            else patched_credential_stats(stats, self._changed, self._base.node, self._at)
        )

    def _patched_indexes(self) -> tuple[KeyIndex | None, KeyIndex | None]:
        """If the base built its key indexes, the new tree's, derived from them instead of
        letting the new tree rescan every node."""
        base = self._base
        if base._enc_index is None or base._sig_index is None:
            return None, None
        return patched_key_indexes(base._enc_index, base._sig_index, self._changed, base.node, self._at)
