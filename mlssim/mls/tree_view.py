"""How a ratchet tree is stored and read (RFC 9420 §4.1, §7): the node and hash arrays kept in
chunks shared between trees, the arithmetic of full trees, the read-only queries every tree
answers (:class:`TreeView`: nodes, leaves, direct and filtered direct paths, resolutions),
and the errors of trees and tree edits.

The immutable :class:`~mlssim.mls.ratchet_tree.RatchetTree` and its working copy
:class:`~mlssim.mls.ratchet_tree.TreeEditor` both are TreeViews over this storage; they live
in :mod:`~mlssim.mls.ratchet_tree` because each builds the other.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import TypeVar

from .crypto.suite import CipherSuite
from .errors import RemoteProtocolError
from .messages.tree import LeafNode, Node, ParentNode, ratchet_tree_bytes
from .treemath import LeafIndex, NodeIndex, level

__all__ = [
    "TreeView",
    "TreeError",
    "TreeStructureError",
    "TreeOperationError",
    "UpdatePathShapeError",
    "ParentHashMismatchError",
    "CHUNK_BITS",
    "CHUNK",
    "CHUNK_MASK",
    "chunked",
    "append_blanks",
    "writable",
    "cut",
    "leaves_needed",
]

_T = TypeVar("_T")


# ---- errors -----------------------------------------------------------------------------------


class TreeError(RemoteProtocolError):
    """A ratchet tree, or a change to it, that RFC 9420 forbids."""

    rfc_section = "7"

    def __init__(self, message: str, section: str | None = None) -> None:
        super().__init__(message)
        if section is not None:
            self.rfc_section = section


class TreeStructureError(TreeError):
    """A node array that is not a ratchet tree (wrong node kind at a position, empty)."""

    rfc_section = "12.4.3.3"


class TreeOperationError(TreeError):
    """An Add/Update/Remove that cannot apply (§12.1.1–§12.1.3), e.g. on a blank leaf."""

    rfc_section = "12.1"


class UpdatePathShapeError(TreeError):
    """An UpdatePath whose node count does not match the sender's filtered direct path (§7.6)."""

    rfc_section = "7.6"


class ParentHashMismatchError(TreeError):
    """The UpdatePath leaf's ``parent_hash`` is not the recomputed one (§7.9.2, §12.4.2)."""

    rfc_section = "7.9.2"


# ---- array arithmetic for full trees (n_leaves a power of two) ---------------------------------
# treemath handles any width; in a full tree every node index is < width, so parent/children
# are pure bit operations and need no width.


def _parent(x: int) -> int:
    low = (~x) & (x + 1)  # 1 << level(x)
    return (x | low) ^ (x & (low << 1))


def _half(x: int) -> int:
    """Distance from parent ``x`` to either child."""
    return ((~x) & (x + 1)) >> 1


def _first_node(x: int) -> int:
    """Lowest node index in the subtree of ``x``."""
    return x - ((1 << level(x)) - 1)


#: Node and hash arrays are kept in chunks of 2 ** CHUNK_BITS entries; node ``x`` is entry
#: ``x & CHUNK_MASK`` of chunk ``x >> CHUNK_BITS``. Chunks are shared between trees and never
#: mutated once shared: an editor copies a chunk before its first write to it.
CHUNK_BITS = 8
CHUNK = 1 << CHUNK_BITS
CHUNK_MASK = CHUNK - 1
_CB, _CS, _CM = CHUNK_BITS, CHUNK, CHUNK_MASK  # the short names the hot paths use


def chunked(flat: list[_T]) -> list[list[_T]]:
    return [flat[i : i + _CS] for i in range(0, len(flat), _CS)]


def append_blanks(chunks: list[list[_T]], own: set[int], count: int, blank: _T) -> None:
    """Append ``count`` ``blank`` entries (the last chunk is copied first unless owned)."""
    if chunks and len(chunks[-1]) < _CS:
        c = len(chunks) - 1
        if c not in own:
            chunks[c] = list(chunks[c])
            own.add(c)
        take = min(count, _CS - len(chunks[c]))
        chunks[c].extend([blank] * take)
        count -= take
    while count > 0:
        take = min(count, _CS)
        chunks.append([blank] * take)
        own.add(len(chunks) - 1)
        count -= take


def writable(chunks: list[list[_T]], own: set[int], c: int) -> list[_T]:
    """Chunk ``c``, copied first unless ``own`` says it already was."""
    if c in own:
        return chunks[c]
    chunk = chunks[c] = list(chunks[c])
    own.add(c)
    return chunk


def cut(chunks: list[list[_T]], own: set[int], width: int) -> None:
    """Keep the first ``width`` entries (the last kept chunk is copied first unless owned)."""
    full, rem = divmod(width, _CS)
    del chunks[full + (1 if rem else 0) :]
    if rem and len(chunks[full]) > rem:
        if full not in own:
            chunks[full] = list(chunks[full])
            own.add(full)
        del chunks[full][rem:]


def leaves_needed(n_nodes: int) -> int:
    """Smallest power of two ``n`` with ``2n - 1 >= n_nodes``."""
    n = 1
    while 2 * n - 1 < n_nodes:
        n *= 2
    return n


class TreeView:
    """Read-only queries shared by :class:`RatchetTree` and :class:`TreeEditor` (§4.1)."""

    __slots__ = ("suite", "_nodes", "_hashes", "_n_leaves", "_members", "_tail")

    suite: CipherSuite
    _nodes: list[list[Node | None]]  # chunks, see _CB
    _hashes: list[list[bytes | None]]
    _n_leaves: int
    _members: int
    _tail: int  # every node above this index is blank (an upper bound on the last non-blank one)

    # -- shape --

    @property
    def n_leaves(self) -> int:
        """Leaves of the full tree (a power of two), blanks included."""
        return self._n_leaves

    @property
    def width(self) -> int:
        """Nodes of the full tree: ``2 * n_leaves - 1``."""
        return 2 * self._n_leaves - 1

    def root(self) -> NodeIndex:
        return NodeIndex(self._n_leaves - 1)

    # -- nodes --

    def _get(self, x: int) -> Node | None:
        return self._nodes[x >> _CB][x & _CM]

    def node(self, x: int) -> Node | None:
        """Node ``x``; ``None`` if blank or outside the tree."""
        if 0 <= x < 2 * self._n_leaves - 1:
            return self._get(x)
        return None

    def leaf(self, i: int) -> LeafNode | None:
        """LeafNode at leaf index ``i``; ``None`` if blank or outside the tree."""
        if 0 <= i < self._n_leaves:
            n = self._nodes[i >> (_CB - 1)][(2 * i) & _CM]
            if isinstance(n, LeafNode):
                return n
        return None

    def parent_node(self, x: int) -> ParentNode | None:
        n = self.node(x)
        return n if isinstance(n, ParentNode) else None

    def leaves(self) -> Iterator[tuple[LeafIndex, LeafNode]]:
        """Non-blank leaves in index order."""
        end = min(2 * self._n_leaves - 1, self._tail + 1)
        for c, chunk in enumerate(self._nodes):
            first = c << _CB
            if first >= end:
                return
            for j in range(0, min(_CS, end - first), 2):
                n = chunk[j]
                if isinstance(n, LeafNode):
                    yield LeafIndex((first + j) >> 1), n

    def member_count(self) -> int:
        """Number of non-blank leaves (kept as a counter: O(1))."""
        return self._members

    def last_nonblank(self) -> int:
        """Index of the last non-blank node, -1 for an all-blank tree."""
        x = min(self._tail, 2 * self._n_leaves - 2)
        nodes = self._nodes
        while x >= 0 and nodes[x >> _CB][x & _CM] is None:
            x -= 1
        self._tail = x  # a tighter bound is still a bound: a cache, not a state change
        return x

    # -- paths (§4.1.2) --

    def _check_leaf(self, leaf: int) -> None:
        if not 0 <= leaf < self._n_leaves:
            raise TreeError(f"leaf {leaf} is outside a tree of {self._n_leaves} leaves", "4.1")

    def direct_path(self, leaf: int) -> list[NodeIndex]:
        """Parent, grandparent, ..., root of leaf ``leaf``."""
        self._check_leaf(leaf)
        x, r = 2 * leaf, self._n_leaves - 1
        out: list[NodeIndex] = []
        while x != r:
            x = _parent(x)
            out.append(NodeIndex(x))
        return out

    def _has_nonblank(self, x: int) -> bool:
        """Does the subtree under ``x`` hold a non-blank node (i.e. a non-empty resolution)?"""
        if _first_node(x) > self._tail:
            return False
        if self._nodes[x >> _CB][x & _CM] is not None:
            return True
        if x & 1 == 0:
            return False
        h = _half(x)
        return self._has_nonblank(x - h) or self._has_nonblank(x + h)

    def filtered_direct_path_with_copath(self, leaf: int) -> list[tuple[NodeIndex, NodeIndex]]:
        """§4.1.2: (direct-path node, its copath child), dropping nodes whose copath child has an
        empty resolution. Unmerged leaves count (they sit on non-blank nodes), and the new
        members of a commit count too: the ``exclude`` of §7.6 applies to encryption only."""
        self._check_leaf(leaf)
        out: list[tuple[NodeIndex, NodeIndex]] = []
        x, r = 2 * leaf, self._n_leaves - 1
        while x != r:
            p = _parent(x)
            s = 2 * p - x  # sibling: the other child of p
            if self._has_nonblank(s):
                out.append((NodeIndex(p), NodeIndex(s)))
            x = p
        return out

    def filtered_direct_path(self, leaf: int) -> list[NodeIndex]:
        return [p for p, _ in self.filtered_direct_path_with_copath(leaf)]

    def resolution(self, x: int, exclude: AbstractSet[int] = frozenset()) -> list[NodeIndex]:
        """§4.1.1 resolution of node ``x``; ``exclude`` holds leaf indices to leave out (the
        members added by the commit being built or processed, §7.6 / §12.4.2)."""
        out: list[NodeIndex] = []
        if 0 <= x < 2 * self._n_leaves - 1:
            self._resolve(x, exclude, out)
        return out

    def resolution_positions(
        self, x: int, exclude: AbstractSet[int] = frozenset()
    ) -> tuple[Sequence[NodeIndex], Mapping[int, int]]:
        """The resolution of ``x`` and each of its nodes' position in it — the index of the
        ciphertext for that node in an UpdatePathNode (§7.6), so a receiver finds its own by
        looking up the O(log N) nodes it holds instead of walking the resolution. Read-only."""
        res = self.resolution(x, exclude)
        positions: dict[int, int] = {}
        for i, r in enumerate(res):
            positions.setdefault(r, i)
        return res, positions

    def _resolve(self, x: int, exclude: AbstractSet[int], out: list[NodeIndex]) -> None:
        if _first_node(x) > self._tail:
            return
        node = self._get(x)
        if node is not None:
            if x & 1 == 0:
                if (x >> 1) not in exclude:
                    out.append(NodeIndex(x))
            else:
                out.append(NodeIndex(x))
                assert isinstance(node, ParentNode)
                out.extend(NodeIndex(2 * u) for u in node.unmerged_leaves if u not in exclude)
        elif x & 1:
            h = _half(x)
            self._resolve(x - h, exclude, out)
            self._resolve(x + h, exclude, out)

    # -- hashes (§7.8) --

    def node_tree_hash(self, x: int) -> bytes:
        """§7.8 tree hash of the subtree under node ``x``."""
        raise NotImplementedError

    def tree_hash(self) -> bytes:
        """§7.8 tree hash of the root: the GroupContext ``tree_hash``."""
        return self.node_tree_hash(self._n_leaves - 1)

    def to_nodes(self) -> list[Node | None]:
        """The node array with trailing blanks dropped (the ``ratchet_tree`` extension, §12.4.3.3)."""
        end = self.last_nonblank() + 1
        return [self._get(x) for x in range(end)]

    def encode(self) -> bytes:
        """The ``ratchet_tree`` extension data: ``optional<Node> ratchet_tree<V>`` (each leaf
        from its kept encoding, :func:`~mlssim.mls.messages.tree.ratchet_tree_bytes`)."""
        return ratchet_tree_bytes(self.to_nodes())
