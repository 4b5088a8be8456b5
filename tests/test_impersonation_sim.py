"""The active adversary in a run (issue 20, item 4): with a compromised member's signature key,
forged application messages are accepted while the victim's leaf carries the stolen key and
the adversary holds the epoch's group key; the victim's update ends it under
``signature_rotation: on-update`` (receivers refuse the old key, RFC 9420 §6.1), only its
removal does without rotation when the adversary keeps the group key (an insider)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlssim.scenario.loader import ScenarioError, load_scenario
from mlssim.sim.world import World

VICTIM = 3
COMPROMISE_AT = 20.0
UPDATE_AFTER = 10.0
REMOVE_AFTER = 40.0


def run(tmp_path: Path, rotation: str, *, insider: bool = True, seed: int = 5, **over: Any) -> World:
    compromises: list[dict[str, Any]] = []
    if insider:  # the adversary keeps the group key: an AS-issued insider device
        compromises.append({"at": 5, "kind": "as", "group": "g", "member": 1})
    compromises.append(
        {
            "at": COMPROMISE_AT,
            "kind": "member",
            "group": "g",
            "member": VICTIM,
            "impersonate": {"app_rate": 1.0},
            "victim_update_after": UPDATE_AFTER,
            "remove_after": REMOVE_AFTER,
            **over,
        }
    )
    doc = {
        "name": "impersonation",
        "seed": seed,
        "duration": 90,
        "drain": 10,
        "crypto": {"suite": 1, "family": "model"},
        "providers": [{"name": "alpha"}, {"name": "beta"}],
        "groups": [{"name": "g", "size": 6, "workload": {"app_rate": 0.05}}],
        "adversary": {"signature_rotation": rotation, "compromises": compromises},
    }
    p = tmp_path / f"imp-{rotation}-{insider}-{seed}.yaml"
    p.write_text(yaml.safe_dump(doc))
    w = World(load_scenario(p))
    w.run()
    return w


def case_of(w: World) -> dict[str, Any]:
    imp = w.summary()["healing"]["impersonation"]
    assert len(imp["cases"]) == 1
    return imp["cases"][0]  # type: ignore[no-any-return]


def receptions(w: World) -> list[dict[str, Any]]:
    return list(w.recorder.of_kind("forged_received"))


def test_rotation_ends_the_impersonation_at_the_victims_update(tmp_path: Path) -> None:
    w = run(tmp_path, "on-update")
    c = case_of(w)
    update = next(e for e in w.recorder.of_kind("policy") if e["action"] == "victim_update")
    assert c["end_cause"] == "rotation"
    assert update["t"] < c["ended_at"] < COMPROMISE_AT + REMOVE_AFTER
    assert c["forged_accepted"] > 0 and c["accepted_after_end"] == 0
    rec = receptions(w)
    before = [e for e in rec if e["t"] < c["ended_at"]]
    after = [e for e in rec if e["t"] > c["ended_at"] + 1.0]  # in flight at the end: either way
    assert before and all(e["accepted"] for e in before)
    assert after and not any(e["accepted"] for e in after)
    # the exact RFC rule: the content signature under the leaf's (new) signature key
    assert {e["reason"] for e in after} == {"InvalidSignatureError"}
    assert {e["rfc"] for e in after} == {"6.1"}


def test_without_rotation_only_the_removal_ends_it(tmp_path: Path) -> None:
    w = run(tmp_path, "never")
    c = case_of(w)
    assert c["end_cause"] == "removed"
    assert c["ended_at"] >= COMPROMISE_AT + REMOVE_AFTER
    update = next(e for e in w.recorder.of_kind("policy") if e["action"] == "victim_update")
    accepted_after_update = [e for e in receptions(w) if e["accepted"] and e["t"] > update["t"] + 2.0]
    assert accepted_after_update, "the victim's update did not stop the forgeries"
    assert c["accepted_after_end"] == 0


def test_without_an_insider_healing_ends_it_either_way(tmp_path: Path) -> None:
    # a member compromise alone: the victim's update also takes the group key away (§16.6)
    never = case_of(run(tmp_path, "never", insider=False))
    assert never["end_cause"] == "group_key" and never["not_sealed"] > 0
    rotated = case_of(run(tmp_path, "on-update", insider=False))
    assert rotated["end_cause"] == "rotation"
    assert abs(rotated["ended_at"] - never["ended_at"]) < 5.0


def test_deterministic(tmp_path: Path) -> None:
    a = run(tmp_path / "a", "on-update", seed=9) if (tmp_path / "a").mkdir() is None else None
    b = run(tmp_path / "b", "on-update", seed=9) if (tmp_path / "b").mkdir() is None else None
    assert a is not None and b is not None
    assert a.summary()["healing"] == b.summary()["healing"]


def test_impersonate_needs_a_member_compromise(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="impersonate: only a member compromise"):
        run(tmp_path, "never", insider=False, kind="randomness", duration=5)
    with pytest.raises(ScenarioError, match="app_rate"):
        run(tmp_path, "never", insider=False, impersonate={"app_rate": 0})
    with pytest.raises(ScenarioError, match="signature_rotation"):
        run(tmp_path, "sometimes")
