"""Faults, failover and regions (issue 20, increment a): a provider's DS down, partitions,
degraded links, hub failover, the region latency matrix; the done-when tests of the issue.

The malformed fault and region specifications are in ``tests/scenarios_bad/`` (``faults_*``,
``region_unknown``), checked by ``tests/test_scenario_loader.py``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from mlssim.scenario import load_scenario
from mlssim.scenario.regions import region_latency, region_names
from mlssim.scenario.schema import FaultsSpec, Scenario
from mlssim.sim.fault_schedule import Schedule, provider_of
from mlssim.sim.world import World

ROOT = Path(__file__).resolve().parents[1]
DOWN = (60.0, 120.0)


def scenario(
    ordering: str = "hub", *, faults: dict[str, Any] | None = None, seed: int = 3, **extra: Any
) -> Scenario:
    data: dict[str, Any] = {
        "name": "faults",
        "seed": seed,
        "duration": 200,
        "drain": 60,
        "crypto": {"suite": 1, "family": "model"},
        "providers": [{"name": "alpha"}, {"name": "beta"}, {"name": "gamma"}],
        "federation": {"ordering": ordering},
        "groups": [
            {
                "name": "team",
                "size": 9,
                "providers": {"alpha": 1, "beta": 1, "gamma": 1},
                "owner": "alpha",
                "workload": {"app_rate": 0.02, "update_rate": 0.02},
            }
        ],
        **extra,
    }
    if faults is not None:
        data["faults"] = faults
    return Scenario.model_validate(data)


def outage(**failover: Any) -> dict[str, Any]:
    return {
        "events": [{"kind": "down", "providers": ["alpha"], "at": DOWN[0], "duration": DOWN[1] - DOWN[0]}],
        "failover": failover,
    }


def run(s: Scenario) -> tuple[World, dict[str, Any]]:
    w = World(s)
    w.run()
    return w, w.summary()


def times(w: World, kind: str) -> list[float]:
    return [e["t"] for e in w.recorder.of_kind(kind)]


# ---- hub: the owner's DS down ------------------------------------------------------------------


def test_hub_accepts_nothing_while_the_owner_is_down_and_resumes_after() -> None:
    w, s = run(scenario(faults=outage()))
    accepted = times(w, "commit_accepted")
    assert not [t for t in accepted if DOWN[0] <= t < DOWN[1]]
    assert [t for t in accepted if DOWN[0] - 30 <= t < DOWN[0]]  # the workload was committing...
    assert [t for t in accepted if t >= DOWN[1]]  # ...and commits resume once the owner is back
    assert s["all_converged"]
    f = s["faults"]
    assert f["failovers"] == 0 and f["count"] == 1
    assert f["commits_during"] == 0
    # held traffic went out after the outage, and the burst is counted
    assert f["catchup_messages"] > 0 and f["catchup_bytes"] > 0 and f["recovery_s"]["n"] == 1
    # every member depends on alpha's DS: available 60 s of 200
    assert f["availability"] == pytest.approx(1 - 60 / 200)


def test_hub_failover_moves_the_ordering_and_commits_resume_there() -> None:
    detection = 10.0
    w, s = run(scenario(faults=outage(enabled=True, detection=detection)))
    (fo,) = list(w.recorder.of_kind("failover"))
    assert fo["old"] == "alpha" and fo["new"] == "beta"  # the first provider up on a tie
    assert DOWN[0] + detection <= fo["t"] < DOWN[0] + detection + 1.0  # detection, then one upload
    assert fo["bytes"] > 0 and fo["duration"] == pytest.approx(fo["t"] - DOWN[0])
    assert w.ds_groups["team"] == "beta"  # it does not move back
    accepted = times(w, "commit_accepted")
    assert not [t for t in accepted if DOWN[0] <= t < fo["t"]]
    assert [t for t in accepted if fo["t"] <= t < DOWN[1]]  # commits resume at beta during the outage
    assert s["all_converged"]
    f = s["faults"]
    assert f["failovers"] == 1 and f["handover_bytes"] == fo["bytes"]
    # members outside alpha lose only the detection and handover time
    assert f["availability"] > 1 - 60 / 200
    # the handover state and the announcements are on the wire
    types = set(w.recorder.msg_type)
    assert {"handover_state", "handover"} <= types


def test_failover_is_ignored_by_leaderless_designs() -> None:
    _, s = run(scenario("decentralised", faults=outage(enabled=True, detection=5)))
    assert s["faults"]["failovers"] == 0
    assert s["all_converged"]


# ---- leaderless: a partition -------------------------------------------------------------------


@pytest.mark.parametrize("ordering", ["decentralised", "client-fanout"])
def test_leaderless_designs_commit_fork_and_converge_across_a_partition(ordering: str) -> None:
    part = {
        "events": [{"kind": "partition", "sides": [["alpha"], ["beta", "gamma"]], "at": 60, "duration": 60}]
    }
    w, s = run(scenario(ordering, faults=part, seed=5))
    merged = [e for e in w.recorder.of_kind("commit_merged") if e["op"] != "create"]
    assert [e for e in merged if 60 <= e["t"] < 120]  # they keep committing during the partition
    f = s["faults"]
    assert f["forks"] > 0 and f["epochs_lost"] > 0 and f["fork_lifetime_s"]["n"] > 0
    assert f["availability"] == 1.0  # every home DS stays up
    assert s["all_converged"], s["groups"]
    # the kept chain is the lowest-hash chain: at every kept epoch, the lowest digest built on
    # the previous kept state won (docs/federation.md, the fork rule; sim/forks.py)
    chain: dict[int, tuple[str, str]] = {}
    for c in w.clients.values():
        st = c.forks.get("team")
        if "team" in c.groups and st is not None:
            for a in st.applied:
                pair = (a.before.epoch_authenticator.hex(), a.digest.hex())
                assert chain.setdefault(a.epoch, pair) == pair
    built_on: dict[str, list[str]] = defaultdict(list)
    for e in merged:
        built_on[e["parent"]].append(e["digest"])
    contested = 0
    for parent, winner in chain.values():
        assert winner == min(built_on.get(parent, [winner]))
        contested += len(set(built_on.get(parent, []))) > 1
    assert contested > 0


def test_hub_members_cut_off_from_the_owner_wait_for_the_partition_to_heal() -> None:
    part = {
        "events": [{"kind": "partition", "sides": [["alpha"], ["beta", "gamma"]], "at": 60, "duration": 60}]
    }
    w, s = run(scenario("hub", faults=part, seed=5))
    assert s["faults"]["forks"] == 0 and s["all_converged"]
    # accepted during the partition: only commits of alpha's own members
    for e in w.recorder.of_kind("commit_accepted"):
        if 60.5 <= e["t"] < 120:
            assert e["client"].endswith("@alpha"), e
    assert s["faults"]["availability"] == pytest.approx(1 - (6 / 9) * 60 / 200)


# ---- degraded links -------------------------------------------------------------------------------


def test_a_degraded_link_adds_its_latency_and_loses_attempts() -> None:
    deg = {
        "events": [
            {
                "kind": "degrade",
                "sides": [["alpha"], ["beta"]],
                "at": 60,
                "duration": 60,
                "extra_latency": 0.5,
                "loss": 0.3,
            }
        ]
    }
    w, s = run(scenario(faults=deg))
    r = w.recorder
    slow, other, lost = [], [], 0
    for snd, rcv, st, rt, was_lost in zip(
        r.sender, r.receiver, r.send_time, r.recv_time, r.lost, strict=True
    ):
        if {snd, rcv} == {"ds:alpha", "ds:beta"} and 60 <= st < 120:
            if was_lost:
                lost += 1
            elif rt is not None:
                slow.append(rt - st)
        elif {snd, rcv} == {"ds:alpha", "ds:gamma"} and rt is not None:
            other.append(rt - st)
    assert slow and min(slow) >= 0.5
    assert other and max(other) < 0.5  # alpha–gamma is not degraded
    assert lost > 0 and s["lost_bytes"] > 0
    assert s["all_converged"]


# ---- the schedule ----------------------------------------------------------------------------------


def test_schedule_holds_retries_and_cuts() -> None:
    spec = FaultsSpec.model_validate(
        {"retry_interval": 4, "events": [{"kind": "down", "providers": ["b"], "at": 10, "duration": 10}]}
    )
    sch = Schedule.build(spec, ["a", "b"], 100.0)
    assert provider_of("c:x-u1d0@b") == "b" and provider_of("ds:b") == "b"
    assert sch.departure("ds:a", "ds:b", 5.0) == (5.0, -1)  # up
    assert sch.departure("ds:a", "ds:b", 11.0) == (23.0, 0)  # retries at 15, 19, 23
    assert sch.departure("c:u@b", "ds:b", 12.0)[0] == 20.0  # its clients cannot reach it
    assert sch.departure("c:u@a", "ds:a", 12.0) == (12.0, -1)  # others' clients can
    assert sch.cut("ds:a", "ds:b", 9.9, 10.1) is not None  # in flight to b when b goes down: cut
    assert sch.cut("ds:b", "ds:a", 9.9, 10.1) is None  # from b: it had left, it arrives
    assert sch.reachable("a", "b", 15.0) is False and sch.reachable("a", "b", 20.0) is True


def test_random_faults_of_one_provider_never_overlap_and_end_by_the_duration() -> None:
    import random

    spec = FaultsSpec.model_validate(
        {"random": [{"kind": "down", "rate": 0.05, "duration": {"dist": "exponential", "mean": 30}}]}
    )
    sch = Schedule.build(spec, ["a", "b", "c"], 500.0, random.Random(1))
    assert len(sch.windows) > 10
    by: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for win in sch.windows:
        (p,) = win.providers
        by[p].append((win.start, win.end))
        assert win.end <= 500.0
    for spans in by.values():
        for (_, e1), (s2, _) in zip(sorted(spans), sorted(spans)[1:], strict=False):
            assert e1 <= s2


def test_random_faults_are_the_same_under_any_hash_seed() -> None:
    code = (
        "import json;from mlssim.scenario import load_scenario;from mlssim.sim.world import World;"
        "w=World(load_scenario('scenarios/faults-random.yaml'));w.run();"
        "print(json.dumps(w.summary()['faults'],sort_keys=True), len(w.recorder.send_time))"
    )
    outs = set()
    for hs in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hs, "PYTHONPATH": str(ROOT)}
        outs.add(
            subprocess.run(
                [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
            ).stdout
        )
    assert len(outs) == 1
    faults = json.loads(outs.pop().rsplit(" ", 1)[0])
    assert faults["count"] > 0


# ---- regions ------------------------------------------------------------------------------------------


def test_regions_replace_ds_ds_latency_for_pairs_with_both_regions() -> None:
    s = scenario(
        faults=None,
        network={"ds_ds": {"latency": {"dist": "constant", "value": 0.3}}},
    )
    s = s.model_copy(
        update={
            "providers": [
                s.providers[0].model_copy(update={"region": "us-east-1"}),
                s.providers[1].model_copy(update={"region": "eu-west-1"}),
                s.providers[2],  # no region: its links keep network.ds_ds
            ]
        }
    )
    w, summary = run(s)
    r = w.recorder
    lat: dict[frozenset[str], list[float]] = defaultdict(list)
    for snd, rcv, link, st, rt in zip(r.sender, r.receiver, r.link, r.send_time, r.recv_time, strict=True):
        if link == "ds_ds" and rt is not None:
            lat[frozenset((snd, rcv))].append(rt - st)
    ab = lat[frozenset(("ds:alpha", "ds:beta"))]
    expected = region_latency("us-east-1", "eu-west-1")
    assert statistics.median(ab) == pytest.approx(expected.median, rel=0.05)  # type: ignore[union-attr]
    ag = lat[frozenset(("ds:alpha", "ds:gamma"))]
    assert ag and all(x == pytest.approx(0.3) for x in ag)
    assert summary["all_converged"]


def test_the_matrix_is_symmetric_enough_and_names_its_source() -> None:
    from mlssim.scenario.regions import matrix_source

    names = region_names()
    assert len(names) == 10 and "sa-east-1" in names
    for a in names:
        for b in names:
            assert region_latency(a, b) == region_latency(b, a)
    source, date = matrix_source()
    assert "AWS" in source and date == "2017-04"


def test_without_faults_or_regions_the_summary_has_no_faults_section() -> None:
    _, s = run(scenario())
    assert "faults" not in s
    assert "faults" not in scenario().model_dump() and "region" not in scenario().model_dump()["providers"][0]


def test_shipped_fault_scenarios_load() -> None:
    for name in (
        "faults-hub-down",
        "faults-failover",
        "faults-partition",
        "faults-degrade",
        "faults-random",
        "federation-regions",
        "wg-faults",
    ):
        load_scenario(ROOT / "scenarios" / f"{name}.yaml")
