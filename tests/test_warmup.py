"""``groups[].steady_state``: the members replay a planned history before the run (issue 21).

The plan itself is checked against the core's tree in ``tests/test_tree_history.py``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from mlssim.scenario.schema import Scenario
from mlssim.sim.world import World


def scenario(
    size: int = 24, *, steady: bool = True, fanout: str = "plain", rate: float = 0.5, **extra: Any
) -> Scenario:
    group: dict[str, Any] = {
        "name": "g",
        "size": size,
        "workload": {"update_group_rate": rate, "update_mode": "propose"},
    }
    if steady:
        group["steady_state"] = {"proposals_per_commit": 1, "rounds_per_member": 4}
    data: dict[str, Any] = {
        "name": "warm",
        "seed": 7,
        "duration": 20,
        "drain": 10,
        "crypto": {"suite": 1, "family": "model"},
        "providers": [{"name": "a"}, {"name": "b"}],
        "federation": {"fanout": fanout},
        "commit_policy": {"committer": "random"},
        "groups": [group],
        **extra,
    }
    return Scenario.model_validate(data)


def filled(w: World, group: str = "g") -> frozenset[int]:
    g = next(iter(w.clients.values())).groups[group]
    return frozenset(x for x in range(1, g.tree.width, 2) if g.tree.node(x) is not None)


@pytest.mark.parametrize("fanout", ["plain", "split", "pre", "pre-join-store"])
def test_history_leaves_the_planned_tree_and_nothing_of_it_is_measured(fanout: str) -> None:
    w = World(scenario(fanout=fanout, duration=5, rate=0.0))
    w.run()
    plan = w.warmups["g"].plan
    assert plan is not None and plan.rounds
    assert filled(w) == plan.filled  # no workload after the history: the tree is the plan's
    rec = w.recorder
    # the recorder starts at the end of the history: nothing sent before it, no creation
    assert w.origin > 0
    assert min(rec.send_time, default=w.origin) >= w.origin
    assert not [e for e in rec.events if e["kind"] == "commit_sent"]
    (done,) = [e for e in rec.events if e["kind"] == "history_replayed"]
    assert done["replayed"] == len(plan.rounds) and done["played"] == len(plan.played)
    epochs = {c.groups["g"].epoch for c in w.clients.values()}
    assert epochs == {1 + len(plan.rounds)}  # the creation, then one epoch per replayed round
    assert w.summary()["all_converged"]


def test_the_run_measures_only_its_own_commits_on_the_steady_tree() -> None:
    w = World(scenario(duration=40))
    w.run()
    s = w.summary()
    sent = [e for e in w.recorder.events if e["kind"] == "commit_sent"]
    assert sent and all(e["op"] == "proposals" for e in sent)
    assert s["commits"]["sent"] == len(sent)
    # the run's clock: the workload ran for `duration` after the history
    assert w.stop_time == pytest.approx(w.origin + 40)
    assert max(e["t"] for e in sent) <= w.stop_time
    assert min(e["t"] for e in sent) > w.origin


def test_a_steady_tree_costs_plain_commits_more_than_a_full_one() -> None:
    """Without a history the proposals-by-random-committers workload starts from the creation
    tree; the first commits then fill it. With one, the cost is the history's."""
    runs = {}
    for steady in (True, False):
        w = World(scenario(48, steady=steady, duration=60))
        w.run()
        runs[steady] = w
    plan = runs[True].warmups["g"].plan
    assert plan is not None
    mean_planned = sum(plan.costs[len(plan.costs) // 2 :]) / (len(plan.costs) - len(plan.costs) // 2)
    assert mean_planned > 6  # more than log2 48 ≈ 5.6 ciphertexts: the tree has blanks


def test_same_seed_same_results() -> None:
    a, b = World(scenario()), World(scenario())
    a.run()
    b.run()
    assert json.dumps(a.summary(), sort_keys=True) == json.dumps(b.summary(), sort_keys=True)


def test_a_group_without_history_dumps_as_before() -> None:
    assert "steady_state" not in scenario(steady=False).model_dump()["groups"][0]
    assert "steady_state" in scenario().model_dump()["groups"][0]


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ({"churn": {"enabled": True}}, "churn.enabled"),
        ({"script": [{"at": 1, "action": "offline", "group": "g", "member": 1}]}, "script"),
        ({"faults": {"events": [{"kind": "down", "providers": ["a"], "at": 1, "duration": 2}]}}, "faults"),
        (
            {"ds_misbehaviour": {"events": [{"kind": "drop", "provider": "a", "at": 1, "duration": 2}]}},
            "ds_misbehaviour",
        ),
    ],
)
def test_times_from_t0_are_refused_with_a_history(extra: dict[str, Any], key: str) -> None:
    with pytest.raises(ValidationError, match=rf"groups\[0\]\.steady_state: cannot be combined with {key}"):
        scenario(**extra)


def test_random_committer_is_one_member_other_than_the_proposer() -> None:
    w = World(scenario(steady=False, duration=60))
    w.run()
    committers = {
        e["client"] for e in w.recorder.events if e["kind"] == "commit_sent" and e["op"] == "proposals"
    }
    proposers = [e for e in w.recorder.events if e["kind"] == "proposal_sent"]
    assert len(committers) > 3  # not always the lowest leaf
    # a proposer never commits its own proposal: at each epoch, committers are not its proposers
    by_epoch: dict[int, set[str]] = {}
    for e in proposers:
        by_epoch.setdefault(e["epoch"], set()).add(e["client"])
    for e in w.recorder.events:
        if e["kind"] == "commit_sent" and e["op"] == "proposals" and len(by_epoch.get(e["epoch"], ())) == 1:
            assert e["client"] not in by_epoch[e["epoch"]]
