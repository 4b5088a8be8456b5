"""The planned history (``sim/tree_history.py``) against the core's own tree."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from mlssim.mls.crypto import get_suite
from mlssim.mls.messages import Capabilities, Credential, LeafNode, LeafNodeSource, Lifetime
from mlssim.mls.ratchet_tree import RatchetTree
from mlssim.sim.tree_history import plan_history

SUITE = get_suite(1, "model")
TEMPLATE = LeafNode(
    encryption_key=b"",
    signature_key=b"",
    credential=Credential.basic(b"x"),
    capabilities=Capabilities(versions=(1,), cipher_suites=(1,), credentials=(1,)),
    leaf_node_source=LeafNodeSource.KEY_PACKAGE,
    lifetime=Lifetime(not_before=0, not_after=2**63),
    signature=b"",
)


class CoreTree:
    """The same rounds on the core's ``RatchetTree``: Updates, then the committer's path."""

    def __init__(self, n: int, rng: random.Random) -> None:
        self.rng = rng
        nodes: list[LeafNode | None] = []
        for _ in range(n):
            nodes.extend([self._leaf(), None])
        self.tree = RatchetTree.from_nodes(SUITE, nodes[:-1])

    def _leaf(self) -> LeafNode:
        return replace(TEMPLATE, encryption_key=self.rng.randbytes(32), signature_key=self.rng.randbytes(32))

    def play(self, committer: int, updaters: tuple[int, ...]) -> int:
        ed = self.tree.edit()
        for u in updaters:
            ed.update_leaf(u, self._leaf())
        path = ed.filtered_direct_path_with_copath(committer)
        cost = sum(len(ed.resolution(s)) for _, s in path)
        ed.apply_path(committer, [self.rng.randbytes(32) for _ in path])
        ed.set_node(2 * committer, self._leaf())
        self.tree = ed.freeze()
        return cost

    def filled(self) -> frozenset[int]:
        return frozenset(x for x in range(1, self.tree.width, 2) if self.tree.node(x) is not None)


@pytest.mark.parametrize(("n", "p"), [(2, 1), (5, 1), (13, 2), (16, 1), (24, 0), (37, 3)])
def test_plan_matches_core_tree_round_by_round(n: int, p: int) -> None:
    plan = plan_history(n, p, 6 * n, random.Random(f"{n}/{p}"))
    core = CoreTree(n, random.Random(1))
    for rnd, cost in zip(plan.played, plan.costs, strict=True):
        assert core.play(rnd.committer, rnd.updaters) == cost
    assert core.filled() == plan.filled


@pytest.mark.parametrize(("n", "p"), [(9, 1), (30, 1), (64, 2)])
def test_kept_rounds_leave_the_same_tree(n: int, p: int) -> None:
    """Dropping the rounds that are not the last to touch any node changes nothing."""
    plan = plan_history(n, p, 4 * n, random.Random(n))
    core = CoreTree(n, random.Random(2))
    for rnd in plan.rounds:
        core.play(rnd.committer, rnd.updaters)
    assert core.filled() == plan.filled
    assert len(plan.rounds) < len(plan.played)


def test_without_proposals_every_commit_costs_log_n() -> None:
    plan = plan_history(64, 0, 200, random.Random(3))
    assert set(plan.costs[100:]) == {6}


def test_plan_needs_two_members() -> None:
    with pytest.raises(ValueError, match="two members"):
        plan_history(1, 1, 10, random.Random(0))
