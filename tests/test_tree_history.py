"""The planned history (``sim/tree_history.py``) against the core's own tree."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from mlssim.sim.tree_history import plan_history

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
# the RatchetTree replay of benchmarks/steady_state.py (itself checked against real groups by
# its --validate): the core's own blanking, filtering and resolutions
from steady_state import Structural


class CoreTree(Structural):
    """The same rounds on the core's ``RatchetTree``: Updates, then the committer's path."""

    def play(self, committer: int, updaters: tuple[int, ...]) -> int:
        return self.commit(committer, list(updaters), [], 0)

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
