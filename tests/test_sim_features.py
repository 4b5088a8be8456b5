"""Workload features of the engine: Update proposals with a designated committer, external-commit
joins, Welcomes without the tree, private handshakes, churn; and the shipped scenarios."""

from __future__ import annotations

import typing
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from pydantic import BaseModel

from mlssim.cli import main
from mlssim.scenario import load_scenario
from mlssim.scenario.schema import Constant, Empirical, Exponential, LogNormal, Normal, Scenario, Uniform
from mlssim.sim.world import World

ROOT = Path(__file__).resolve().parents[1]
DIST_TYPES = (Constant, Uniform, Normal, LogNormal, Exponential, Empirical)


def scenario(**workload: Any) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "features",
            "seed": 11,
            "duration": 90,
            "drain": 30,
            "crypto": {"suite": 1, "family": "model"},
            "mls": {"handshake": "private", "ratchet_tree_in_welcome": False},
            "providers": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
            "churn": {"enabled": True, "mean_online": 40, "mean_offline": 8},
            "groups": [
                {
                    "name": "g",
                    "size": 10,
                    "workload": {
                        "app_rate": 0.05,
                        "update_rate": 0.02,
                        "add_rate": 0.05,
                        "remove_rate": 0.02,
                        **workload,
                    },
                }
            ],
        }
    )


def kinds(w: World) -> Counter[str]:
    return Counter(e["kind"] for e in w.recorder.events)


def check_healthy(w: World) -> dict[str, Any]:
    s = w.summary()
    k = kinds(w)
    assert s["all_converged"], s["groups"]
    assert k["process_error"] == 0 and k["join_failed"] == 0
    assert s["application"]["undecryptable"] == 0
    for t in w.recorder.transmissions:
        assert (t.recv_time is not None) != t.lost
    return s


def test_update_proposals_are_committed_by_the_designated_committer() -> None:
    w = World(scenario(update_mode="propose"))
    w.run()
    s = check_healthy(w)
    k = kinds(w)
    assert k["proposal_sent"] > 5
    # every proposal ends committed, voided by a concurrent commit (then proposed again), or
    # given up; none is left dangling
    assert k["proposal_sent"] == k["proposal_committed"] + k["proposal_voided"] + k["proposal_gave_up"]
    assert k["proposal_committed"] > 0
    assert s["bytes_by_type_and_role"]["proposal:update"]["upload"]["count"] == k["proposal_sent"]
    committed_by = Counter(e["op"] for e in w.recorder.of_kind("commit_merged"))
    assert committed_by["proposals"] > 0 and committed_by["update"] == 0


def test_external_commit_joins_and_tree_downloads() -> None:
    w = World(scenario(join_mode="external-commit"))
    w.run()
    s = check_healthy(w)
    k = kinds(w)
    merged = Counter(e["op"] for e in w.recorder.of_kind("commit_merged"))
    assert merged["external-join"] > 0 and merged["add"] == 0
    # each external joiner downloaded a GroupInfo and a tree per attempt, and uploaded its commit
    by_type = s["bytes_by_type_and_role"]
    attempts = sum(1 for e in w.recorder.of_kind("commit_sent") if e["op"] == "external-join")
    assert by_type["group_info"]["download"]["count"] == attempts >= merged["external-join"]
    assert by_type["commit:external-join"]["upload"]["count"] == attempts
    assert by_type["ratchet_tree"]["download"]["count"] >= merged["external-join"]
    assert k["joined"] >= merged["external-join"]
    # committers upload the GroupInfo the DS serves (and, with private handshakes, the tree)
    # (each upload on the wire is the commit, its Welcome and that public state)
    uploads = {
        (t.sender, round(t.send_time, 6)): t.bytes
        for t in w.recorder.transmissions
        if t.role == "upload" and t.msg_type.startswith("commit:")
    }
    sent = list(w.recorder.of_kind("commit_sent"))
    assert len(uploads) == len(sent)
    for e in sent:
        wire = uploads[(f"c:{e['client']}", e["t"])]
        assert e["public_state_bytes"] == wire - e["upload_bytes"] - e["welcome_bytes"] > 0


def test_welcome_without_tree_downloads_it_from_the_ds() -> None:
    w = World(scenario())
    w.run()
    s = check_healthy(w)
    by_type = s["bytes_by_type_and_role"]
    joiners = by_type["welcome"]["download"]["count"]
    assert joiners == kinds(w)["joined"] > 0  # every join here is by Welcome
    assert by_type["ratchet_tree"]["download"]["count"] == joiners


@pytest.mark.parametrize("resync", ["readd", "external-commit"])
def test_public_state_is_uploaded_only_when_someone_needs_it(resync: str) -> None:
    """Welcome with the tree, Welcome joins and re-add re-syncs: the DS needs no GroupInfo."""
    base = scenario().model_dump()
    base["mls"] = {"handshake": "public", "ratchet_tree_in_welcome": True}
    base["federation"] = {"resync": resync}
    w = World(Scenario.model_validate(base))
    w.run()
    s = check_healthy(w)
    assert "ratchet_tree" not in s["bytes_by_type_and_role"]
    uploaded = [e["public_state_bytes"] for e in w.recorder.of_kind("commit_sent")]
    if resync == "readd":
        assert not any(uploaded)
    else:  # external-commit re-syncs need the GroupInfo at the DS, at every epoch
        assert all(uploaded)


# ---- shipped scenarios and the CLI ---------------------------------------------------------------

SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
#: shipped scenarios with more simulated members than this run only in the slow suite
#: (scenarios/scale-10k.yaml takes about 3.5 minutes)
SLOW_MEMBERS = 2_000


def _shipped_param(path: Path) -> object:
    s = load_scenario(path)
    big = sum(g.count * g.size for g in s.groups) > SLOW_MEMBERS
    return pytest.param(path, id=path.stem, marks=[pytest.mark.slow] if big else [])


@pytest.mark.parametrize("path", [_shipped_param(p) for p in SHIPPED])
def test_every_shipped_scenario_validates_and_runs(path: Path, tmp_path: Path) -> None:
    s = load_scenario(path)
    if s.crypto.family == "real" and sum(g.count * g.size for g in s.groups) > 100:
        pytest.skip("large real-crypto scenario: run by its own command")
    r = CliRunner().invoke(main, ["run", str(path), "--out", str(tmp_path), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert "converged" in r.output and "commit latency" in r.output


def test_run_cli_refuses_to_overwrite_and_reports_bad_files(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(
        "name: tiny\nduration: 20\ncrypto: {family: model}\nproviders: [{name: a}, {name: b}]\n"
        "groups: [{size: 3, workload: {app_rate: 0.1}}]\n"
    )
    runner = CliRunner()
    out = tmp_path / "runs"
    first = runner.invoke(main, ["run", str(f), "--out", str(out), "--no-progress"])
    assert first.exit_code == 0, first.output
    folder = next((out / "tiny").iterdir())
    assert {p.name for p in folder.iterdir()} >= {"manifest.json", "summary.json", "transmissions.csv"}
    again = runner.invoke(main, ["run", str(f), "--out", str(out), "--no-progress"])
    assert again.exit_code == 1 and "already holds a complete run" in again.output
    forced = runner.invoke(main, ["run", str(f), "--out", str(out), "--no-progress", "--force"])
    assert forced.exit_code == 0
    other_seed = runner.invoke(main, ["run", str(f), "--out", str(out), "--no-progress", "--seed", "9"])
    assert other_seed.exit_code == 0 and len(list((out / "tiny").iterdir())) == 2
    f.write_text("name: tiny\nduration: -1\nproviders: []\ngroups: []\n")
    bad = runner.invoke(main, ["run", str(f), "--out", str(out), "--no-progress"])
    assert bad.exit_code == 2
    assert f"{f}:2: duration:" in bad.output and "Traceback" not in bad.output


def _schema_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every key path a scenario can hold; list items as ``[]``, distributions as ``<dist>``."""
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        keys.add(path)
        for arg in _leaf_types(field.annotation):
            if arg in DIST_TYPES:
                keys |= {f"<{arg.__name__}>.{k}" for k in arg.model_fields}
            elif isinstance(arg, type) and issubclass(arg, BaseModel):
                keys |= _schema_keys(arg, f"{path}.")
    return keys


def _leaf_types(tp: Any) -> list[Any]:
    args = typing.get_args(tp)
    if not args:
        return [tp]
    if typing.get_origin(tp) is dict:
        return []
    out: list[Any] = []
    for a in args:
        out.extend(_leaf_types(a))
    return out


def _data_keys(data: Any, model: type[BaseModel], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, value in data.items():
        path = f"{prefix}{name}"
        keys.add(path)
        types = _leaf_types(model.model_fields[name].annotation)
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, dict):
                continue
            dist = next((t for t in DIST_TYPES if t in types and item.get("dist") == _dist_name(t)), None)
            if dist is not None:
                keys |= {f"<{dist.__name__}>.{k}" for k in item}
                continue
            sub = next((t for t in types if isinstance(t, type) and issubclass(t, BaseModel)), None)
            if sub is not None:
                keys |= _data_keys(item, sub, f"{path}.")
    return keys


def _dist_name(t: type[BaseModel]) -> str:
    return str(typing.get_args(t.model_fields["dist"].annotation)[0])


def test_every_key_scenario_uses_every_key() -> None:
    """every-key.yaml, plus an every-key-<topic>.yaml for the keys it cannot be combined with
    (steady state, forged commits, ReInit, the DS as a queue)."""
    files = sorted((ROOT / "scenarios").glob("every-key*.yaml"))
    assert [f.name for f in files] == [
        "every-key-dsq.yaml",
        "every-key-forge.yaml",
        "every-key-reinit.yaml",
        "every-key-steady.yaml",
        "every-key.yaml",
    ]
    used: set[str] = set()
    for f in files:
        used |= _data_keys(yaml.safe_load(f.read_text()), Scenario)
    missing = _schema_keys(Scenario) - used
    assert not missing, f"scenarios/every-key*.yaml do not use: {sorted(missing)}"


# ---- ordering and fan-out topology ---------------------------------------------------------------


def _federated(ordering: str, orderer: str | None = None) -> World:
    base = scenario().model_dump()
    base["churn"] = {"enabled": False}
    base["federation"] = {"ordering": ordering, "orderer": orderer}
    base["groups"][0]["owner"] = "b"
    w = World(Scenario.model_validate(base))
    w.run()
    check_healthy(w)
    return w


@pytest.mark.parametrize(("ordering", "orderer", "expected"), [("hub", None, "b"), ("single", "c", "c")])
def test_the_ordering_ds_is_the_hub_or_the_single_orderer(ordering: str, orderer: str, expected: str) -> None:
    w = _federated(ordering, orderer)
    assert w.ds_groups == {"g": expected}
    # every commit fanned out over DS-DS links leaves from the orderer
    fanned = [t for t in w.recorder.transmissions if t.role == "fanout"]
    assert fanned and {t.sender for t in fanned} == {f"ds:{expected}"}
    # commits of clients homed elsewhere are forwarded to it
    forwarded = {
        t.receiver for t in w.recorder.transmissions if t.role == "forward" and "commit" in t.msg_type
    }
    assert forwarded == {f"ds:{expected}"}


def test_server_fan_out_sends_one_copy_per_provider() -> None:
    w = _federated("hub")
    accepted = len(list(w.recorder.of_kind("commit_accepted")))
    copies = Counter(
        (t.receiver, t.send_time)
        for t in w.recorder.transmissions
        if t.role == "fanout" and t.msg_type == "commit"
    )
    assert accepted > 3
    # never more than one copy of a commit to a provider at one instant, and at most one per other
    # provider per accepted commit
    assert max(copies.values()) == 1
    assert sum(copies.values()) <= accepted * 2
    downloads = sum(1 for t in w.recorder.transmissions if t.role == "download" and t.msg_type == "commit")
    assert downloads > sum(copies.values())  # providers deliver each copy to several members
