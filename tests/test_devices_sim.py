"""Multi-device users (population): a new device is added to every group of its user, with a
path in each Add commit (full-update) or without one and its own path update paid later
(lazy-update); groups drawn from the population share users; bad population keys are errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlssim.scenario.loader import ScenarioError, load_scenario
from mlssim.sim.world import World


def run(tmp_path: Path, mode: str, **population: Any) -> World:
    doc = {
        "name": "devices",
        "seed": 4,
        "duration": 200,
        "drain": 60,
        "crypto": {"suite": 1, "family": "model"},
        "providers": [{"name": "alpha"}, {"name": "beta"}],
        "population": {
            "users": 6,
            "devices_min": 1,
            "devices_max": 3,
            "device_add_rate": 0.004,
            "device_add_mode": mode,
            "lazy_delay": 20,
            **population,
        },
        "groups": [{"name": "g", "count": 8, "size": 3, "from_population": True}],
    }
    p = tmp_path / f"{mode}.yaml"
    p.write_text(yaml.safe_dump(doc))
    w = World(load_scenario(p))
    w.run()
    return w


def test_groups_share_the_populations_users(tmp_path: Path) -> None:
    w = run(tmp_path, "full-update", device_add_rate=0.0)
    in_groups = {name for g in w.ds_groups for name in w.members_of(g)}
    assert in_groups <= {c.name for devices in w.users for c in devices}
    # a user's devices are in the same groups, and users are in several groups
    for devices in w.users:
        groups = [set(c.groups) for c in devices]
        assert all(gs == groups[0] for gs in groups)
    assert max(len(devices[0].groups) for devices in w.users) >= 3
    assert w.summary()["devices"] == {}


@pytest.mark.parametrize("mode", ["full-update", "lazy-update"])
def test_a_new_device_joins_every_group_of_its_user(tmp_path: Path, mode: str) -> None:
    w = run(tmp_path, mode)
    s = w.summary()
    d = s["devices"]
    assert d["adds"] >= 2 and d["completed"] == d["adds"]
    for e in w.recorder.of_kind("device_added"):
        new = w.clients[e["client"]]
        user = w.users[w.user_of[new.name]]
        assert set(new.groups) == set(user[0].groups)
    assert s["all_converged"] and s["joins"]["failed"] == 0
    sent = [e for e in w.recorder.of_kind("commit_sent") if e["op"] in ("device-add", "device-update")]
    # what the adds cost: the committers' uploads (commit, Welcome, public state), from the
    # transmission record, plus the DS's fan-out of those commits
    spent = {
        op: sum(
            t.bytes for t in w.recorder.transmissions if t.msg_type == f"commit:{op}" and t.role == "upload"
        )
        + sum(e["bytes"] for e in w.recorder.of_kind("commit_fanout") if e["op"] == op)
        for op in ("device-add", "device-update")
    }
    assert d["bytes_per_add_mean"] == round((spent["device-add"] + spent["device-update"]) / d["adds"], 3)
    assert d["deferred_bytes_per_add_mean"] == round(spent["device-update"] / d["adds"], 3)
    assert d["groups_per_add_mean"] == round(
        sum(e["groups"] for e in w.recorder.of_kind("device_add")) / d["adds"], 3
    )
    if mode == "lazy-update":
        assert spent["device-update"] > 0
        assert any(e["op"] == "device-update" for e in sent)
    else:
        assert d["deferred_bytes_per_add_mean"] == 0
        assert not any(e["op"] == "device-update" for e in sent)


def test_lazy_adds_are_cheaper_at_add_time(tmp_path: Path) -> None:
    """Same seed, same users and adds: a lazy Add commit has no UpdatePath."""
    full = run(tmp_path, "full-update")
    lazy = run(tmp_path, "lazy-update")

    def add_commit_bytes(w: World) -> list[int]:
        return [e["bytes"] for e in w.recorder.of_kind("commit_sent") if e["op"] == "device-add"]

    f, lz = add_commit_bytes(full), add_commit_bytes(lazy)
    assert f and lz and len(f) == len(lz)
    assert sum(lz) < sum(f)


def test_population_keys_are_checked(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(
        yaml.safe_dump(
            {
                "name": "bad",
                "duration": 10,
                "providers": [{"name": "alpha"}],
                "groups": [{"name": "g", "size": 4, "from_population": True}],
            }
        )
    )
    with pytest.raises(ScenarioError) as exc:
        load_scenario(p)
    assert "groups[0].from_population" in str(exc.value)
