"""``federation.fanout: pre`` in the simulator (``sim/fanouts/pre_path.py``): members follow adds,
removes and updates through the DS's re-encrypted IndividualCommits and agree on every epoch;
bytes are the exact encodings; and healing under each trust assumption is what
``docs/security-model.md`` states, measured from the adversary's real holdings against
``split`` on the same seed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlssim.assist.pre_path import deposit_size
from mlssim.scenario.loader import load_scenario
from mlssim.sim.world import World

from .test_healing_sim import exposures, victim_commits
from .test_healing_sim import scenario as healing_scenario


def run(tmp_path: Path, fanout: str, refresh: str = "never", seed: int = 5) -> World:
    fed: dict[str, Any] = {"fanout": fanout}
    if refresh != "never":
        fed["pre_key_refresh"] = refresh
    doc = {
        "name": "pre-path",
        "seed": seed,
        "duration": 120,
        "drain": 30,
        "crypto": {"suite": 1, "family": "model"},
        "providers": [{"name": "alpha"}, {"name": "beta"}],
        "federation": fed,
        "groups": [
            {
                "name": "g",
                "size": 12,
                "providers": {"alpha": 0.5, "beta": 0.5},
                "workload": {"app_rate": 0.01, "update_rate": 0.01, "add_rate": 0.05, "remove_rate": 0.03},
            }
        ],
    }
    p = tmp_path / f"{fanout}-{refresh}-{seed}.yaml"
    p.write_text(yaml.safe_dump(doc))
    w = World(load_scenario(p))
    w.run()
    return w


@pytest.mark.parametrize("refresh", ["never", "own-commit"])
def test_members_follow_every_commit_and_agree(tmp_path: Path, refresh: str) -> None:
    w = run(tmp_path, "pre", refresh)
    s = w.summary()
    assert s["all_converged"] and not list(w.recorder.of_kind("process_error"))
    accepted = [e for e in w.recorder.of_kind("commit_accepted")]
    ops = {e["op"] for e in w.recorder.of_kind("commit_sent")}
    assert len(accepted) >= 20 and {"add", "remove", "update"} <= ops
    for (group, epoch), auths in w.authenticators.items():
        assert len(auths) == 1, (group, epoch)  # every member that reached the epoch agrees
    pp = s["pre_path"]
    reenc = list(w.recorder.of_kind("ds_reencrypt"))
    assert pp["reencryptions"] == sum(e["reencryptions"] for e in reenc) > 0
    # the DS sent exactly the sizes the committer computed (a stand-in cfrag of the same length)
    assert all(e["bytes"] == e["expected_bytes"] for e in reenc)
    # deposits: the transmissions are the counted encodings
    dep = s["bytes_by_type_and_role"]["pre_deposit"]["upload"]
    assert dep["bytes"] == pp["deposit_bytes"] and pp["deposits"] > 0
    kfrag_part = pp["deposits"] * deposit_size(w.fanout.scheme)  # type: ignore[arg-type]
    assert kfrag_part < pp["deposit_bytes"] < kfrag_part + 2000 * (pp["announcements"] + dep["count"])
    # the committer uploads the SCommit: the commit's own bytes, nothing on top
    for e in w.recorder.of_kind("commit_sent"):
        assert e["upload_bytes"] == e["bytes"] and e["pre_upload_bytes"] == 0


def test_refreshing_costs_deposits(tmp_path: Path) -> None:
    never = run(tmp_path, "pre").summary()["pre_path"]
    own = run(tmp_path, "pre", "own-commit").summary()["pre_path"]
    assert own["deposits"] > 2 * never["deposits"]


def test_pre_run_is_deterministic(tmp_path: Path) -> None:
    assert run(tmp_path, "pre", seed=9).summary() == run(tmp_path, "pre", seed=9).summary()


# ---- healing under each trust assumption (docs/security-model.md) -----------------------------


def heal(
    tmp_path: Path, fanout: str, refresh: str, compromise: dict[str, Any], ds: bool
) -> tuple[World, dict[str, Any]]:
    fed: dict[str, Any] = {"fanout": fanout}
    if refresh != "never":
        fed["pre_key_refresh"] = refresh
    more = [{"at": 30, "group": "g", "kind": "ds"}] if ds else None
    w = healing_scenario(tmp_path, compromise, more=more, federation=fed)
    return w, w.summary()["healing"]["cases"][0]


@pytest.mark.parametrize(
    ("fanout", "refresh", "heals_at_update"),
    [("split", "never", True), ("pre", "never", False), ("pre", "own-commit", True)],
)
def test_a_member_compromise_heals_only_when_its_pre_key_changes(
    tmp_path: Path, fanout: str, refresh: str, heals_at_update: bool
) -> None:
    """Honest DS, the victim's state taken (with its PRE secret key). Its path update heals under
    split; under pre the DS keeps re-encrypting path secrets to the same PRE key and the network
    shows the cfrags, so the update heals only if it brings new PRE keys."""
    w, case = heal(tmp_path, fanout, refresh, {"kind": "member", "victim_update_after": 20}, ds=False)
    mine = [e for e in victim_commits(w) if e > case["epoch"]]
    assert mine
    ex = exposures(w)
    if heals_at_update:
        assert case["healed_epoch"] == mine[0] and not ex[mine[0]]["exposed"]
    else:
        assert ex[mine[0]]["exposed"] and ex[mine[0]]["how"] == "pre"
        assert case["healed_epoch"] is None
        later = [v for e, v in ex.items() if e > case["epoch"]]
        assert len(later) >= 5 and all(v["exposed"] for v in later)


@pytest.mark.parametrize(
    ("fanout", "refresh", "ds", "heals_at_removal"),
    [
        ("split", "never", True, True),
        ("pre", "never", False, True),  # an honest DS drops the removed member's kfrags
        ("pre", "never", True, False),  # the DS keeps them: removal does not exclude it
        ("pre", "own-commit", True, True),  # the remover's new keys have no kfrag to it
    ],
)
def test_the_ds_and_a_removed_member(
    tmp_path: Path, fanout: str, refresh: str, ds: bool, heals_at_removal: bool
) -> None:
    w, case = heal(tmp_path, fanout, refresh, {"kind": "member", "remove_after": 20}, ds=ds)
    policy = next(e for e in w.recorder.of_kind("policy") if e["action"] == "remove")
    sent = next(
        e
        for e in w.recorder.of_kind("commit_sent")
        if e["op"] == "remove" and e["client"] == policy["client"]
    )
    removal = next(
        e["epoch"]
        for e in w.recorder.of_kind("commit_accepted")
        if e["client"] == sent["client"] and e["t"] >= sent["t"]
    )
    ex = exposures(w)
    if heals_at_removal:
        assert case["healed_epoch"] == removal and not ex[removal]["exposed"]
    else:
        assert ex[removal]["exposed"] and ex[removal]["how"] == "pre"
        assert case["healed_epoch"] is None
        assert all(v["exposed"] for e, v in ex.items() if e > removal)


def test_the_ds_alone_learns_nothing(tmp_path: Path) -> None:
    """A DS compromise with no member compromised exposes no epoch under pre, as under split."""
    for fanout in ("split", "pre"):
        w, _ = heal(tmp_path, fanout, "never", {"kind": "ds"}, ds=False)
        assert not any(v["exposed"] for v in exposures(w).values()), fanout
