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


def run(path: Path) -> dict:
    w = World(load_scenario(path))
    w.run()
    return w.summary()


def test_pre_joins_converge_and_the_ds_reencrypts(tmp_path: Path) -> None:
    s = run(scenario(tmp_path, "pre-join-store", "pre"))
    pre_joins = s["joins"]["by_mode"]["pre"]
    assert pre_joins["count"] >= 3 and s["joins"]["failed"] == 0
    assert s["all_converged"]
    assert s["pre"]["epochs"] == s["commits"]["accepted"]
    assert s["pre"]["reencryptions"] > 0 and s["pre"]["upload_bytes_mean"] > 0
    assert s["bytes_by_type_and_role"]["pre_join_secret"]["download"]["count"] == pre_joins["count"]
    # the DS keeps its PRE store on top of GroupInfo and tree
    assert s["groups"]["g"]["ds_storage_bytes"] > s["pre"]["records_mean"] * 177


def test_pre_run_is_deterministic(tmp_path: Path) -> None:
    path = scenario(tmp_path, "pre-join-store", "pre", seed=9)
    assert run(path) == run(path)


def test_join_modes_are_told_apart(tmp_path: Path) -> None:
    with_tree = run(scenario(tmp_path, "plain", "welcome-with-tree"))["joins"]["by_mode"]
    from_ds = run(scenario(tmp_path, "plain", "tree-from-ds"))["joins"]["by_mode"]
    assert set(with_tree) == {"welcome-with-tree"} and set(from_ds) == {"tree-from-ds"}
    # the same material either way: a Welcome with the tree is about Welcome + tree from the DS
    a, b = with_tree["welcome-with-tree"], from_ds["tree-from-ds"]
    assert a["count"] > 0 and b["count"] > 0
    assert 0.5 < a["download_bytes_mean"] / b["download_bytes_mean"] < 2


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
