"""Like-for-like federation metrics (issue 18, item 5): the branch a group ends on, what is
lost on other branches, and collisions by distance to the orderer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlssim.scenario import load_scenario
from mlssim.sim.summary import final_branch, majority_state
from mlssim.sim.world import World

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class _G:
    epoch: int
    epoch_authenticator: bytes


@dataclass
class _C:
    groups: dict[str, _G] = field(default_factory=dict)


@dataclass
class _W:
    clients: dict[str, _C]
    reached: dict[tuple[str, int, bytes], dict[str, float]]


def test_the_final_branch_is_what_the_final_holders_reached_last() -> None:
    """m1 and m2 end on B's state at epoch 3; m3 holds a dead state. At epoch 2, m1 first
    applied the loser X (t=1) and switched to Y (t=5): Y is on the branch, X is not."""
    x, y, b, dead = b"X" * 4, b"Y" * 4, b"B" * 4, b"D" * 4
    w = _W(
        clients={"m1": _C({"g": _G(3, b)}), "m2": _C({"g": _G(3, b)}), "m3": _C({"g": _G(2, dead)})},
        reached={
            ("g", 2, x): {"m1": 1.0, "m3": 1.0},
            ("g", 2, y): {"m1": 5.0, "m2": 2.0},
            ("g", 2, dead): {"m3": 6.0},
            ("g", 3, b): {"m1": 7.0, "m2": 6.5},
            ("h", 2, x): {"m1": 9.0},  # another group: ignored
        },
    )
    assert majority_state(w, "g") == ((3, b), ["m1", "m2"])  # type: ignore[arg-type]
    assert final_branch(w, "g") == {2: y.hex(), 3: b.hex()}  # type: ignore[arg-type]


def run(name: str, **overrides: Any) -> dict[str, Any]:
    w = World(load_scenario(ROOT / "scenarios" / name, {"duration": 120, **overrides}))
    w.run()
    return w.summary()


def test_an_ordered_design_loses_nothing_on_other_branches_and_splits_collisions_by_distance() -> None:
    s = run("federation-single.yaml")
    c = s["commits"]
    assert c["lost_on_losing_branch"] == 0 and s["application"]["sent_on_losing_branch"] == 0
    by = c["by_distance"]
    assert set(by) == {"at_orderer", "elsewhere"}
    assert sum(d["attempts"] for d in by.values()) == c["accepted"] + c["rejected"]
    assert sum(d["rejected"] for d in by.values()) == c["rejected"]


def test_a_leaderless_design_counts_its_dropped_commits_as_lost() -> None:
    s = run("federation-decentralised.yaml", **{"groups[0].workload.update_rate": 0.05})
    assert s["forks"]["dropped_commits"] > 0, "the workload forks"
    assert s["commits"]["lost_on_losing_branch"] >= s["forks"]["dropped_commits"]
    assert s["commits"]["by_distance"] == {}
