"""A long-lived group's history, planned on the tree's shape alone (issue 21, item 3).

``groups[].steady_state`` starts a run on the tree a group's own history leaves behind instead of
the tree of its creation commit (every parent blank: the worst case for plain commits). The
history is rounds in which ``proposals`` random members propose an Update (which blanks their
direct paths, RFC 9420 §12.1.2) and one other random member commits them with a path (§12.4.1:
its filtered direct path is filled, the rest of its direct path blanked, §7.5).

Planning it with real groups would cost every member's processing of every round; here it is
played on a bitmap of the tree's parent nodes, with each subtree's resolution size kept up to
date along the changed paths, so 4 rounds per member at N = 50,000 take seconds. A node's final
state depends only on the last round that touched it, so the rounds that are not the last to
touch any node are dropped: what the simulator then replays with real members (``sim/warmup.py``)
is about 0.37 N rounds for one proposal per commit, and leaves exactly the planned tree.
``tests/test_tree_history.py`` checks the plan against the core's own ``RatchetTree`` round by
round, and the replayed tree against the plan.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..mls import treemath

__all__ = ["HistoryPlan", "Round", "plan_history"]


@dataclass(frozen=True)
class Round:
    """One round of the history: ``updaters`` propose Updates, ``committer`` commits them."""

    committer: int
    updaters: tuple[int, ...]


@dataclass(frozen=True)
class HistoryPlan:
    """A planned history for ``members`` leaves (0 … members − 1, all occupied)."""

    members: int
    #: the rounds that shape the final tree, in their order (a subsequence of the history)
    rounds: tuple[Round, ...]
    #: the parent nodes the final tree has (the others are blank)
    filled: frozenset[int]
    #: every round played, in order (``rounds`` is a subsequence)
    played: tuple[Round, ...]
    #: ciphertexts each played round's commit carried (one per node of each copath child's
    #: resolution: §7.6), in order
    costs: tuple[int, ...]


class _Shape:
    """Which parent nodes hold keys, and each node's resolution size (§4.1.1)."""

    def __init__(self, members: int) -> None:
        self.members = members
        width = 1
        while width < members:
            width *= 2
        self.leaves = width
        self.root = int(treemath.root(width))
        size = 2 * width - 1
        self.filled = bytearray(size)
        self.res = [0] * size
        for i in range(members):
            self.filled[2 * i] = 1
            self.res[2 * i] = 1
        for lvl in range(1, treemath.log2(width) + 1):
            for x in range((1 << lvl) - 1, size, 1 << (lvl + 1)):
                self.res[x] = self.res[treemath.left(x)] + self.res[treemath.right(x)]
        #: per leaf: its direct path with each node's copath child (static: every leaf is occupied)
        self.paths = [self._path(2 * i) for i in range(members)]
        #: the round that last touched each node (-1: none)
        self.last = [-1] * size

    def _path(self, leaf: int) -> list[tuple[int, int]]:
        out = []
        x = leaf
        while x != self.root:
            p = int(treemath.parent(x, self.leaves))
            out.append((p, int(treemath.sibling(x, self.leaves))))
            x = p
        return out

    def _recompute(self, path: list[tuple[int, int]]) -> None:
        res, filled = self.res, self.filled
        for p, _ in path:
            res[p] = 1 if filled[p] else res[treemath.left(p)] + res[treemath.right(p)]

    def blank_path(self, leaf: int, r: int) -> None:
        path = self.paths[leaf]
        for p, _ in path:
            self.filled[p] = 0
            self.last[p] = r
        self._recompute(path)

    def commit(self, leaf: int, r: int) -> int:
        """The committer's path: count its ciphertexts, fill its filtered direct path (a node
        whose copath child resolves to nothing is left out, and blanked: §4.1.2, §7.5)."""
        path = self.paths[leaf]
        res = self.res
        cost = 0
        for p, s in path:
            cost += res[s]
            self.filled[p] = 1 if res[s] else 0
            self.last[p] = r
        self._recompute(path)
        return cost


def plan_history(members: int, proposals: int, rounds: int, rng: random.Random) -> HistoryPlan:
    """Play ``rounds`` rounds of ``proposals`` Update proposals and one commit each on a group
    of ``members`` created by one Add commit (every parent blank), and keep the rounds that
    shape the final tree."""
    if members < 2:
        raise ValueError("a history needs at least two members")
    proposals = min(proposals, members - 1)
    shape = _Shape(members)
    played: list[Round] = []
    costs: list[int] = []
    for r in range(rounds):
        committer = rng.randrange(members)
        ups: set[int] = set()
        while len(ups) < proposals:
            u = rng.randrange(members)
            if u != committer:
                ups.add(u)
        updaters = tuple(sorted(ups))
        for u in updaters:
            shape.blank_path(u, r)
        costs.append(shape.commit(committer, r))
        played.append(Round(committer, updaters))
    keep = sorted({r for r in shape.last if r >= 0})
    filled = frozenset(x for x in range(1, len(shape.filled), 2) if shape.filled[x])
    return HistoryPlan(
        members=members,
        rounds=tuple(played[r] for r in keep),
        filled=filled,
        played=tuple(played),
        costs=tuple(costs),
    )
