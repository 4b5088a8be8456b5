"""A light member that falls behind re-syncs (draft-kiefer-mls-light §9, choice L5): with
``federation.resync: external-commit`` it joins as a full client by external commit, removing its
old leaf, and downgrades once that commit is accepted; with ``readd`` a full member removes and
re-adds it and it joins light from its AnnotatedWelcome; with ``none`` it stays out. Members fall
behind here because their DS's mailbox keeps messages for less time than they stay offline."""

from __future__ import annotations

from typing import Any

import pytest

from mlssim.mls.light_group import LightGroup
from mlssim.scenario.schema import Scenario
from mlssim.sim.fanouts import Light
from mlssim.sim.world import World


def scenario(resync: str, seed: int = 3) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "light-resync",
            "seed": seed,
            "duration": 150,
            "drain": 30,
            "crypto": {"suite": 1, "family": "model"},
            # messages for an offline client expire after 10 s; members 1-6 are offline 30 s
            "providers": [{"name": "a", "mailbox_retention": 10}, {"name": "b", "mailbox_retention": 10}],
            "federation": {"resync": resync},
            "script": [
                {"at": at, "action": action, "group": "g", "member": m}
                for m in range(1, 7)
                for at, action in ((40 + 5 * m, "offline"), (70 + 5 * m, "online"))
            ],
            "groups": [
                {
                    "name": "g",
                    "size": 12,
                    "light_share": 0.5,
                    "workload": {"app_rate": 0.02, "update_group_rate": 0.5, "join_mode": "tree-from-ds"},
                }
            ],
        }
    )


def _run(resync: str, seed: int = 3) -> tuple[World, dict[str, Any], list[dict[str, Any]]]:
    w = World(scenario(resync, seed))
    w.run()
    return w, w.summary(), w.recorder.events


def _light_members(w: World) -> list[str]:
    assert isinstance(w.fanout, Light)
    return [n for n in w.ds_of("g").groups["g"].members if w.fanout.is_light("g", n)]


@pytest.mark.parametrize("mode", ["external-commit", "readd"])
def test_a_light_member_that_fell_behind_is_back_in_and_light_again(mode: str) -> None:
    w, s, events = _run(mode)
    light = set(_light_members(w))
    behind = {e["client"] for e in events if e["kind"] == "resync_started" and e["client"] in light}
    done = {e["client"] for e in events if e["kind"] == "resync_done" and e["client"] in light}
    assert behind, "no light member fell behind: the scenario tests nothing"
    assert done == behind
    for n in behind:  # light again, not a full member
        c = w.clients[n]
        assert isinstance(c.light.get("g"), LightGroup) and "g" not in c.groups, n
    assert s["all_converged"], s["groups"]
    # everyone online at the end holds the same epoch and authenticator, light and full alike
    final = {
        (st.epoch, st.epoch_authenticator)
        for n in w.ds_of("g").groups["g"].members
        if (st := w.clients[n].state_in("g")) is not None and st.active
    }
    assert len(final) == 1
    if mode == "external-commit":  # it joined as a full client: GroupInfo and the whole tree
        merged = [e for e in events if e["kind"] == "commit_merged" and e["op"] == "resync"]
        assert {e["client"] for e in merged} & light
    else:  # re-added: its AnnotatedWelcome
        assert any(e["kind"] == "commit_merged" and e["op"] == "readd" for e in events)


def test_without_resync_a_light_member_that_fell_behind_stays_out() -> None:
    w, s, events = _run("none")
    light = set(_light_members(w))
    out = {e["client"] for e in events if e["kind"] == "light_out_of_sync"} & light
    assert out, "no light member fell behind: the scenario tests nothing"
    assert not any(e["kind"] == "resync_started" for e in events)
    assert all("g" not in w.clients[n].light for n in out)
    assert not s["all_converged"]


def test_the_light_resync_is_deterministic() -> None:
    a = _run("external-commit", seed=5)[1]
    b = _run("external-commit", seed=5)[1]
    assert a == b
