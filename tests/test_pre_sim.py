"""``federation.fanout: pre-join-store`` and ``join_mode: pre`` in the simulator: joiners join from a small
secret plus DS downloads and converge; the DS re-encrypts its records every epoch; the join modes
are told apart in the summary; bad combinations are scenario errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlssim.scenario.loader import ScenarioError, load_scenario
from mlssim.sim.world import World


def scenario(tmp_path: Path, fanout: str, join_mode: str, seed: int = 5) -> Path:
    doc = {
        "name": "pre-sim",
        "seed": seed,
        "duration": 90,
        "drain": 30,
        "crypto": {"suite": 1, "family": "model"},
        "providers": [{"name": "alpha"}, {"name": "beta"}],
        "federation": {"fanout": fanout},
        "groups": [
            {
                "name": "g",
                "size": 24,
                "providers": {"alpha": 0.5, "beta": 0.5},
                "workload": {
                    "app_rate": 0.01,
                    "update_rate": 0.004,
                    "add_rate": 0.06,
                    "remove_rate": 0.01,
                    "join_mode": join_mode,
                },
            }
        ],
    }
    p = tmp_path / f"{fanout}-{join_mode}-{seed}.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def world(path: Path) -> World:
    w = World(load_scenario(path))
    w.run()
    return w


def run(path: Path) -> dict:
    return world(path).summary()


def test_pre_joins_converge_and_the_ds_reencrypts(tmp_path: Path) -> None:
    w = world(scenario(tmp_path, "pre-join-store", "pre"))
    s = w.summary()
    pre_joins = s["joins"]["by_mode"]["pre"]
    assert pre_joins["count"] >= 3 and s["joins"]["failed"] == 0
    assert s["all_converged"]
    assert s["pre"]["epochs"] == s["commits"]["accepted"]
    # the DS's work from its own events: one re-keying per epoch change, its re-encryptions
    rekeys = list(w.recorder.of_kind("pre_rekey"))
    assert s["pre"]["epochs"] == len(rekeys)
    assert s["pre"]["reencryptions"] == sum(e["reencryptions"] for e in rekeys) > 0
    assert s["pre"]["reencryptions_per_epoch_mean"] == round(s["pre"]["reencryptions"] / len(rekeys), 3)
    assert s["pre"]["records_mean"] == round(sum(e["records"] for e in rekeys) / len(rekeys), 3)
    # every commit under pre carries a PRE upload, inside what its committer uploads
    sent = list(w.recorder.of_kind("commit_sent"))
    uploads = [e["pre_upload_bytes"] for e in sent]
    assert min(uploads) > 0 and all(e["pre_upload_bytes"] <= e["public_state_bytes"] for e in sent)
    assert s["pre"]["upload_bytes_mean"] == round(sum(uploads) / len(uploads), 3)
    assert s["bytes_by_type_and_role"]["pre_join_secret"]["download"]["count"] == pre_joins["count"]
    # the DS keeps its PRE store on top of GroupInfo and tree
    assert s["groups"]["g"]["ds_storage_bytes"] > s["pre"]["records_mean"] * 177


def test_pre_run_is_deterministic(tmp_path: Path) -> None:
    path = scenario(tmp_path, "pre-join-store", "pre", seed=9)
    assert run(path) == run(path)


def test_join_modes_are_told_apart(tmp_path: Path) -> None:
    w_tree = world(scenario(tmp_path, "plain", "welcome-with-tree"))
    w_ds = world(scenario(tmp_path, "plain", "tree-from-ds"))
    with_tree, from_ds = w_tree.summary()["joins"]["by_mode"], w_ds.summary()["joins"]["by_mode"]
    assert set(with_tree) == {"welcome-with-tree"} and set(from_ds) == {"tree-from-ds"}
    # the same material either way: a Welcome with the tree is about Welcome + tree from the DS
    a, b = with_tree["welcome-with-tree"], from_ds["tree-from-ds"]
    assert (a["count"], a["download_bytes_mean"]) == joins_from_record(w_tree)
    assert (b["count"], b["download_bytes_mean"]) == joins_from_record(w_ds)
    assert a["count"] > 0 and b["count"] > 0
    assert 0.5 < a["download_bytes_mean"] / b["download_bytes_mean"] < 2


def joins_from_record(w: World) -> tuple[int, float]:
    """Joins after the group's creation, and the mean of what each joiner received: its
    Welcome and the tree, summed over its transmissions."""
    joiners = [e["client"] for e in w.recorder.of_kind("join_cost") if e["op"] != "create"]
    assert len(set(joiners)) == len(joiners)
    got = [
        sum(
            t.bytes
            for t in w.recorder.transmissions
            if t.receiver == f"c:{name}" and t.msg_type in JOIN_MATERIAL
        )
        for name in joiners
    ]
    return len(joiners), round(sum(got) / len(got), 3)


JOIN_MATERIAL = ("welcome", "ratchet_tree")


@pytest.mark.parametrize(
    ("fanout", "join_mode", "key"),
    [
        ("plain", "pre", "groups[0].workload.join_mode"),
        ("pre", "pre", "groups[0].workload.join_mode"),
        ("pre-join-store", "welcome", None),
    ],
)
def test_pre_join_needs_pre_fanout(tmp_path: Path, fanout: str, join_mode: str, key: str | None) -> None:
    path = scenario(tmp_path, fanout, join_mode)
    if key is None:
        load_scenario(path)
        return
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    assert key in str(exc.value)
