"""The engine: determinism, conservation of bytes, convergence (issue 5's done-when list)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from mlssim.scenario.schema import Scenario
from mlssim.sim.recorder import TRANSMISSION_FIELDS
from mlssim.sim.run import RunExistsError, run_scenario
from mlssim.sim.world import World

ROOT = Path(__file__).resolve().parents[1]


def small(**over: Any) -> Scenario:
    base: dict[str, Any] = {
        "name": "t",
        "seed": 5,
        "duration": 60,
        "drain": 20,
        "crypto": {"suite": 1, "family": "model"},
        "providers": [{"name": "a"}, {"name": "b"}],
        "network": {
            "client_ds": {"latency": {"dist": "lognormal", "median": 0.05, "sigma": 0.6}},
            "ds_ds": {"latency": {"dist": "uniform", "low": 0.02, "high": 0.2}},
        },
        "groups": [
            {
                "name": "g",
                "count": 2,
                "size": 8,
                "workload": {"app_rate": 0.05, "update_rate": 0.02, "add_rate": 0.03, "remove_rate": 0.02},
            }
        ],
    }
    for k, v in over.items():
        base[k] = v
    return Scenario.model_validate(base)


def test_same_seed_same_bytes_whatever_pythonhashseed(tmp_path: Path) -> None:
    """Two processes with different PYTHONHASHSEED produce identical summary and transmissions."""
    script = (
        "import sys, json; from pathlib import Path; "
        "from mlssim.scenario.schema import Scenario; from mlssim.sim.run import run_scenario; "
        "s = Scenario.model_validate(json.loads(sys.argv[1])); "
        "run_scenario(s, Path(sys.argv[2]))"
    )
    scen = small().model_dump(mode="json")
    digests = []
    for hs in ("1", "987654"):
        out = tmp_path / f"h{hs}"
        env = {**os.environ, "PYTHONHASHSEED": hs}
        subprocess.run(
            [sys.executable, "-c", script, json.dumps(scen), str(out)], check=True, env=env, cwd=ROOT
        )
        folder = next((out / "t").iterdir())
        digests.append(
            tuple(
                hashlib.sha256((folder / f).read_bytes()).hexdigest()
                for f in ("summary.json", "transmissions.csv")
            )
        )
    assert digests[0] == digests[1]


def test_different_seeds_differ() -> None:
    a, b = World(small(seed=1)), World(small(seed=2))
    a.run()
    b.run()
    assert [t.bytes for t in a.recorder.transmissions] != [t.bytes for t in b.recorder.transmissions]


@pytest.mark.parametrize("loss", [0.0, 0.1])
def test_conservation_and_convergence(loss: float) -> None:
    net = {
        "client_ds": {
            "latency": {"dist": "exponential", "mean": 0.05},
            "loss": loss,
            "retransmit_timeout": 0.5,
        },
        "ds_ds": {"latency": {"dist": "constant", "value": 0.05}, "bandwidth": 2e6},
    }
    w = World(small(network=net, churn={"enabled": True, "mean_online": 30, "mean_offline": 5}))
    w.run()
    rec = w.recorder
    # every byte sent was received or recorded as lost
    for t in rec.transmissions:
        assert (t.recv_time is not None) != t.lost
        if t.recv_time is not None:
            assert t.recv_time >= t.send_time
    if loss:
        assert any(t.lost for t in rec.transmissions)
    s = w.summary()
    # what the DSs sent to clients is exactly what clients downloaded plus what was lost on the way
    lost_down = sum(
        t.bytes for t in rec.transmissions if t.lost and t.link == "client_ds" and t.sender.startswith("ds:")
    )
    assert s["client_download_bytes"]["total"] + lost_down == s["ds_egress_to_clients_bytes"]
    assert (lost_down > 0) == bool(loss)
    # every member of every group ends in the same epoch with the same epoch authenticator
    assert s["all_converged"], s["groups"]
    for gname, info in s["groups"].items():
        auths = {w.clients[m].groups[gname].epoch_authenticator for m in w.ds_of(gname).groups[gname].members}
        assert len(auths) == 1 and info["members"] >= 2
    # no application message vanished: each was received, or counted undecryptable with a reason
    sent = Counter(e["group"] for e in rec.of_kind("app_sent"))
    # each sent once: one upload got through per message (a lost one was sent again)
    uploaded = sum(
        1 for t in rec.transmissions if t.msg_type == "application" and t.role == "upload" and not t.lost
    )
    assert sum(sent.values()) == uploaded > 0


def test_collisions_are_resolved_by_retry() -> None:
    """High update rates with slow links force commits to collide at the ordering DS."""
    net = {
        "ds_ds": {"latency": {"dist": "constant", "value": 0.4}},
        "client_ds": {"latency": {"dist": "constant", "value": 0.2}},
    }
    groups = [{"name": "g", "size": 10, "workload": {"update_rate": 0.2}}]
    w = World(
        small(network=net, groups=groups, retry={"backoff": "exponential", "delay": 0.2, "max_retries": 20})
    )
    w.run()
    s = w.summary()
    # every attempt is one commit upload, answered by the ordering DS with one accept or reject
    answers = Counter((t.msg_type, t.role) for t in w.recorder.transmissions)
    assert s["commits"]["sent"] == sum(
        n for (mt, role), n in answers.items() if mt.startswith("commit:") and role == "upload"
    )
    assert s["commits"]["rejected"] == answers[("commit_reject", "download")] > 0
    assert s["commits"]["accepted"] == answers[("commit_accept", "download")] > 0
    assert (
        s["commits"]["sent"] == s["commits"]["accepted"] + s["commits"]["rejected"] + s["commits"]["gave_up"]
    )
    assert s["all_converged"]


def test_run_folder_and_no_silent_overwrite(tmp_path: Path) -> None:
    scen = small()
    folder, _summary = run_scenario(scen, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["seed"] == scen.seed
    for f in ("summary.json", "transmissions.csv", "events.jsonl", "scenario.json"):
        assert (folder / f).stat().st_size > 0
    # the files hold the whole record: a header and one row per transmission, one line per event
    summary = json.loads((folder / "summary.json").read_text())
    with (folder / "transmissions.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == list(TRANSMISSION_FIELDS)
    assert len(rows) - 1 == summary["transmissions"] > 0
    assert sum(int(r[TRANSMISSION_FIELDS.index("bytes")]) for r in rows[1:]) == sum(
        summary["bytes_by_type_and_role"][mt][role]["bytes"]
        for mt in summary["bytes_by_type_and_role"]
        for role in summary["bytes_by_type_and_role"][mt]
    )
    with pytest.raises(RunExistsError):
        run_scenario(scen, tmp_path)
    run_scenario(scen, tmp_path, force=True)
