"""The DS as a queue (``hardware.ds``, ``sim/ds_processing.py``): jobs wait first in first out
for one of ``workers`` servers, each costs exactly its counted work × calibration × the DS's
cpu_factor, a group's output leaves in the order its jobs started; the fan-out strategies'
costs follow their counts; without the key nothing changes; ``kem_cost: native`` prices the
post-quantum KEMs by the published numbers; bad keys are named at their lines."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import simpy
from click.testing import CliRunner

from mlssim.calibration import (
    DEFAULT_PATH,
    GROUP_OPS,
    PrimitiveCost,
    cost_of,
    default_calibration,
    ds_cost_of,
    load_calibration,
    machine_description,
    native_pq_calibration,
)
from mlssim.calibration.native_pq import MLKEM_OPS_PER_SECOND
from mlssim.cli import main
from mlssim.mls.crypto import get_suite
from mlssim.mls.crypto.counting import CountingSuite, WorkCounts, counting
from mlssim.scenario import ScenarioError, load_scenario
from mlssim.scenario.schema import HardwareSpec, Scenario
from mlssim.sim.ds_processing import DSQueue, Outbox
from mlssim.sim.recorder import Recorder
from mlssim.sim.records import CONTROL_BYTES
from mlssim.sim.world import World

from .group_harness import Harness
from .test_metrics_doc import _covered, key_paths

ROOT = Path(__file__).resolve().parents[1]
CAL = default_calibration()


# ---- the queue alone ---------------------------------------------------------------------------


class FakeDS:
    """A DS as the queue sees it: its sends are noted with the time they leave."""

    def __init__(self, env: simpy.Environment, provider: str = "p") -> None:
        self.env = env
        self.provider = provider
        self.held: Outbox | None = None
        self.sent: list[tuple[str, float]] = []

    def _fan_out(
        self,
        members: Sequence[Any],
        sizes: Sequence[int],
        calls: Sequence[Callable[[], None]],
        msg_type: str,
        group: str,
        wire_size: int,
    ) -> int:
        self.sent.append((msg_type, self.env.now))
        return sum(sizes)

    def to_client(
        self, client: str, size: int, msg_type: str, group: str, deliver: Callable[[], None]
    ) -> None:
        if self.held is not None:
            self.held.to_client(self, client, size, msg_type, group, deliver)
            return
        self.sent.append((msg_type, self.env.now))


class NoBuilder:
    def take_ds_work(self) -> WorkCounts:
        return WorkCounts()


def job_cost(size: int, copy_bytes: int, factor: float) -> float:
    """One job's cost by hand: a decode of ``size`` bytes and one copy of ``copy_bytes``."""
    dec, cp = CAL.suite(1).costs["decode"], CAL.ds.costs()["copy"] if CAL.ds else None
    assert cp is not None
    return factor * math.fsum([dec.per_call, size * dec.per_byte, cp.per_call, copy_bytes * cp.per_byte])


def queue_of(workers: int, factor: float = 1000.0) -> tuple[simpy.Environment, DSQueue, FakeDS, Recorder]:
    env = simpy.Environment()
    rec = Recorder()
    return env, DSQueue(env, rec, CAL, 1, factor, workers, NoBuilder()), FakeDS(env), rec


def message(ds: FakeDS, name: str, size: int) -> Callable[[], bool]:
    def body() -> bool:
        ds.to_client("c", size, name, "g", lambda: None)
        return True

    return body


@pytest.mark.parametrize("workers", [1, 2])
def test_two_jobs_wait_for_one_worker_and_not_for_two(workers: int) -> None:
    env, q, ds, rec = queue_of(workers)
    q.handle(ds, "g", "application", 5000, message(ds, "big", 5000))
    q.handle(ds, "h", "application", 100, message(ds, "small", 100))  # another group
    env.run()
    big, small = job_cost(5000, 5000, 1000.0), job_cost(100, 100, 1000.0)
    events = list(rec.of_kind("ds_processing"))
    assert [e["group"] for e in events] == ["g", "h"]
    assert events[0]["waited"] == 0 and events[0]["seconds"] == round(big, 9)
    at = dict(ds.sent)
    assert abs(at["big"] - big) < 1e-12
    if workers == 1:  # first in, first out: the second waits for the first
        assert events[1]["waited"] == round(big, 9) and abs(at["small"] - (big + small)) < 1e-12
        assert [n for n, _ in ds.sent] == ["big", "small"]
    else:  # a worker each: no wait, the small one leaves first
        assert events[1]["waited"] == 0 and abs(at["small"] - small) < 1e-12
        assert [n for n, _ in ds.sent] == ["small", "big"]


def test_a_groups_output_leaves_in_the_order_its_jobs_started() -> None:
    env, q, ds, _ = queue_of(2)
    q.handle(ds, "g", "application", 5000, message(ds, "big", 5000))
    q.handle(ds, "g", "application", 100, message(ds, "small", 100))  # same group, done first
    env.run()
    big = job_cost(5000, 5000, 1000.0)
    assert [n for n, _ in ds.sent] == ["big", "small"]
    assert ds.sent[1][1] == ds.sent[0][1] == pytest.approx(big, abs=1e-12)  # held until then


def test_three_jobs_on_two_workers_take_the_first_free_one_in_arrival_order() -> None:
    env, q, ds, rec = queue_of(2)
    for name, size in (("a", 4000), ("b", 1000), ("c", 10)):
        q.handle(ds, name, "application", size, message(ds, name, size))
    env.run()
    a, b, c = (job_cost(s, s, 1000.0) for s in (4000, 1000, 10))
    waited = {e["group"]: e["waited"] for e in rec.of_kind("ds_processing")}
    assert waited == {"a": 0, "b": 0, "c": round(b, 9)}  # c takes b's worker, the first free
    assert dict(ds.sent)["c"] == pytest.approx(b + c, abs=1e-12)
    assert dict(ds.sent)["a"] == pytest.approx(a, abs=1e-12)


# ---- in a world ---------------------------------------------------------------------------------


def scenario(fanout: str = "plain", ds: dict[str, Any] | None = None, **extra: Any) -> Scenario:
    hardware: dict[str, Any] = {"processing_time": True, "mix": {"clients": {"server": 1}}}
    if ds is not None:
        hardware["ds"] = ds
    doc: dict[str, Any] = {
        "name": "dsq",
        "seed": 5,
        "duration": 20,
        "drain": 10,
        "crypto": {"suite": 1, "family": "model"},
        "providers": [{"name": "a"}],
        "federation": {"ordering": "single", "fanout": fanout},
        "hardware": hardware,
        "groups": [{"name": "g", "size": 24, "workload": {"update_group_rate": 0.5, "app_rate": 0.01}}],
        **extra,
    }
    return Scenario.model_validate(doc)


def ran(s: Scenario) -> World:
    w = World(s)
    w.run()
    return w


def predicted(e: dict[str, Any], factor: float, reencryptions: int = 0) -> float:
    """A ``ds_processing`` event's cost from its counts, by hand."""
    costs = {**CAL.suite(1).costs, **(CAL.ds.costs() if CAL.ds else {})}
    terms = [
        costs["decode"].per_call,
        e["decode_bytes"] * costs["decode"].per_byte,
        e["copies"] * costs["copy"].per_call,
        e["copy_bytes"] * costs["copy"].per_byte,
        e["encodes"] * costs["encode"].per_call,
        e["encode_bytes"] * costs["encode"].per_byte,
        reencryptions * costs["pre_reencrypt"].per_call,
    ]
    return factor * math.fsum(terms)


def test_a_jobs_cost_is_its_counted_work_times_calibration_times_cpu_factor_exactly() -> None:
    w = ran(scenario(ds={"workers": 1, "cpu_factor": 3.0}))
    events = list(w.recorder.of_kind("ds_processing"))
    assert {e["op"] for e in events} >= {"commit", "application"}
    for e in events:
        assert e["seconds"] == round(predicted(e, 3.0), 9), e
    # the counts are the DS's real output: a commit's copies are its fan-out and the verdict
    fanouts = list(w.recorder.of_kind("commit_fanout"))
    commits = [e for e in events if e["op"] == "commit"]
    assert len(commits) == len(fanouts) > 5
    for e, f in zip(commits, fanouts, strict=True):
        assert e["copy_bytes"] == f["bytes"] + CONTROL_BYTES
    # and the ds_cost_of of that tally (the summary's busy time is their sum)
    tally = WorkCounts({"decode": 1, "decode_bytes": 700, "copy": 3, "copy_bytes": 2100})
    assert ds_cost_of(tally, CAL, 1, 3.0) == 3.0 * ds_cost_of(tally, CAL, 1, 1.0)
    s = w.summary()["processing"]["ds"]
    assert s["jobs"] == len(events)
    assert s["by_ds"]["a"]["busy_s"] == round(math.fsum(e["seconds"] for e in events), 9)


def test_the_ds_factor_is_the_keys_else_the_server_profiles() -> None:
    assert HardwareSpec.model_validate({"ds": {"workers": 2}}).ds_cpu_factor() == 1.0
    server = {"server": {"cpu_factor": 7.0}}
    assert HardwareSpec.model_validate({"ds": {}, "profiles": server}).ds_cpu_factor() == 7.0
    both = HardwareSpec.model_validate({"ds": {"cpu_factor": 2.5}, "profiles": server})
    assert both.ds_cpu_factor() == 2.5 and both.ds is not None and both.ds.workers == 1


def first_path_commit(fanout: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The DS job of the first update commit of the same history under ``fanout``, and the
    strategy's own record of what it built for it (``ds_split``/``ds_reencrypt``, or {})."""
    w = ran(scenario(fanout, ds={"workers": 1, "cpu_factor": 1.0}))
    commits = [e for e in w.recorder.of_kind("ds_processing") if e["op"] == "commit"]
    job = commits[1]  # after the group's creation
    built = {
        "split": "ds_split",
        "pre": "ds_reencrypt",
    }.get(fanout)
    record = list(w.recorder.of_kind(built))[1] if built else {}
    return job, record


def test_plain_split_and_pre_costs_are_what_their_counts_say() -> None:
    jobs = {f: first_path_commit(f) for f in ("plain", "split", "pre")}
    for fanout, (job, record) in jobs.items():
        r = record.get("reencryptions", 0)
        # every count is the strategy's own record of the commit...
        assert job["encodes"] == record.get("downloads", 0) and job["encode_bytes"] == record.get("bytes", 0)
        assert job["reencryptions"] == r
        # ...and the cost is that count priced, nothing else
        assert job["seconds"] == round(predicted(job, 1.0, r), 9), fanout
    plain, split, pre = (jobs[f][0] for f in ("plain", "split", "pre"))
    assert pre["reencryptions"] == split["encodes"] == plain["copies"] - 1 > 10  # one per member
    # the order the counts give: plain copies whole commits, split builds and copies small ones
    # (the Python encode per message costs more than the copy it saves at this size), and pre
    # adds a re-encryption per member (Umbral: ~0.8 ms each on the calibration machine)
    costs = {f: predicted(jobs[f][0], 1.0, jobs[f][0]["reencryptions"]) for f in jobs}
    assert sorted(costs, key=costs.__getitem__) == sorted(jobs, key=lambda f: jobs[f][0]["seconds"])
    assert costs["pre"] > costs["split"] + 10 * (CAL.ds.costs()["pre_reencrypt"].per_call if CAL.ds else 0)
    assert plain["copy_bytes"] > split["copy_bytes"]


def test_without_the_key_nothing_changes() -> None:
    """No queue, no event, no summary key, and the scenario dumps as before (run keys kept);
    byte-identity of the shipped scenarios is benchmarks/compare_outputs.py's check."""
    base = ran(scenario())
    assert "ds" not in base.summary()["processing"] and not list(base.recorder.of_kind("ds_processing"))
    assert all(p.ds.queue is None and p.ds.held is None for p in base.providers.values())
    # the key with processing time off changes nothing either
    with_key, without = scenario(ds={"workers": 2, "cpu_factor": 9.0}), scenario()
    off = [
        s.model_copy(update={"hardware": s.hardware.model_copy(update={"processing_time": False})})
        for s in (with_key, without)
        if s.hardware is not None
    ]
    assert ran(off[0]).summary() == ran(off[1]).summary()
    every = load_scenario(ROOT / "scenarios" / "every-key.yaml")
    assert every.hardware is not None
    assert {"ds", "kem_cost"}.isdisjoint(every.model_dump()["hardware"])


def test_a_slower_ds_delays_convergence_and_widens_the_collision_window() -> None:
    fast = ran(scenario()).summary()
    slow = ran(scenario(ds={"workers": 1, "cpu_factor": 20_000.0})).summary()
    assert slow["all_converged"] and slow["processing"]["ds"]["by_ds"]["a"]["utilisation"] > 0.01
    commit = slow["processing"]["ds"]["seconds"]["commit"]["mean"]
    assert slow["convergence_s"]["p50"] > fast["convergence_s"]["p50"] + 0.5 * commit > 0


# ---- native ML-KEM -------------------------------------------------------------------------------


def pq_commit_tally(suite: int) -> WorkCounts:
    """The counted work of a path commit in a group of 8 (model twin, counted)."""
    h = Harness(CountingSuite(get_suite(suite, "model")), seed=3)
    h.create("a")
    h.add("a", *[f"m{i}" for i in range(1, 8)])
    tally = WorkCounts()
    with counting(tally):
        h.members["a"].commit(h.rand)
    return tally


def test_native_pq_prices_a_hybrid_commit_lower_by_the_ratio_its_numbers_imply() -> None:
    native = native_pq_calibration(CAL)
    tally = pq_commit_tally(0xF001)
    assert tally["kem_encap"] > 0
    measured, nat = cost_of(tally, CAL, 0xF001, 1.0), cost_of(tally, native, 0xF001, 1.0)
    assert nat < measured
    # the difference is the KEM primitives' counts times the change of their costs, exactly
    kems = ("kem_encap", "kem_decap", "kem_derive_key_pair", "kem_public_key")
    old, new = CAL.suite(0xF001).costs, native.suite(0xF001).costs
    delta = math.fsum(tally.get(p, 0) * (old[p].per_call - new[p].per_call) for p in kems)
    assert measured - nat == pytest.approx(delta, rel=1e-12)
    assert nat / measured == pytest.approx((measured - delta) / measured, rel=1e-12)
    # the native encapsulation is the published ML-KEM-768 number plus X25519 measured here
    ops = CAL.group_ops
    assert ops is not None
    encaps = 1 / MLKEM_OPS_PER_SECOND["ML-KEM-768"]["encaps"]
    assert new["kem_encap"].per_call == pytest.approx(
        encaps + ops["x25519_keygen"].per_call + ops["x25519_dh"].per_call, rel=1e-12
    )
    # the RFC 9420 suites and the other primitives are untouched; scale moves only the ML-KEM part
    assert native.suite(1) == CAL.suite(1)
    assert {p: c for p, c in new.items() if p not in kems} == {p: c for p, c in old.items() if p not in kems}
    half = native_pq_calibration(CAL, 0.5).suite(0xF001).costs["kem_encap"].per_call
    assert new["kem_encap"].per_call - half == pytest.approx(encaps / 2, rel=1e-12)
    assert isinstance(new["kem_encap"], PrimitiveCost)


def test_kem_cost_native_is_what_the_world_prices_with() -> None:
    base = {
        "name": "pq",
        "seed": 2,
        "duration": 15,
        "drain": 5,
        "crypto": {"suite": 0xF001, "family": "model"},
        "providers": [{"name": "a"}],
        "groups": [{"name": "g", "size": 6, "workload": {"update_group_rate": 0.3}}],
    }
    runs = {}
    for kem in ("measured", "native"):
        hw = {"processing_time": True, "mix": {"clients": {"server": 1}}, "kem_cost": kem}
        runs[kem] = ran(Scenario.model_validate({**base, "hardware": hw})).summary()["processing"]
    create = {k: v["seconds"]["commit_create"]["p50"] for k, v in runs.items()}
    assert create["native"] < create["measured"] / 5  # milliseconds of Python ML-KEM gone


# ---- scenario keys ------------------------------------------------------------------------------

BASE = """\
name: dsq
duration: 10
providers: [{name: alpha}]
groups: [{size: 3}]
hardware:
  processing_time: on
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  ds: {workers: 0}\n", "7: hardware.ds.workers: must be ≥ 1"),
        ("  ds: {cpu_factor: -2}\n", "7: hardware.ds.cpu_factor: must be > 0"),
        ("  ds: {worker: 2}\n", "7: hardware.ds.worker: unknown key 'worker'; did you mean 'workers'?"),
        ("  kem_cost: fast\n", "7: hardware.kem_cost: must be 'measured' or 'native' (got 'fast')"),
        ("  ds: {workers: 1.5}\n", "7: hardware.ds.workers: must be a whole number (got 1.5)"),
    ],
)
def test_bad_keys_are_named_at_their_lines(text: str, expected: str, tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(BASE + text)
    with pytest.raises(ScenarioError) as exc:
        load_scenario(f)
    issues = [str(i).removeprefix(f"{f}:") for i in exc.value.issues]
    assert len(issues) == 1 and issues[0].startswith(expected), issues


def test_a_calibration_without_the_ds_section_is_refused_for_hardware_ds(tmp_path: Path) -> None:
    import json

    data = json.loads((ROOT / "mlssim" / "calibration" / "default.json").read_text())
    del data["ds"], data["group_ops"]
    (tmp_path / "old.json").write_text(json.dumps(data))
    f = tmp_path / "s.yaml"
    f.write_text(BASE + "  calibration: old.json\n  ds: {workers: 2}\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(f)
    (issue,) = [str(i).removeprefix(f"{f}:") for i in exc.value.issues]
    assert issue.startswith("7: hardware.calibration: old.json has no costs for the DS's primitives")
    f.write_text(BASE + "  calibration: old.json\n  kem_cost: native\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(f)
    (issue,) = [str(i).removeprefix(f"{f}:") for i in exc.value.issues]
    assert issue.startswith("7: hardware.calibration: old.json has no curve timings")
    f.write_text(BASE + "  calibration: old.json\n")  # an old file still serves clients
    assert load_scenario(f).hardware is not None


def test_the_every_key_dsq_scenario_runs_and_its_summary_keys_are_documented() -> None:
    w = World(load_scenario(ROOT / "scenarios" / "every-key-dsq.yaml"), base_dir=ROOT / "scenarios")
    w.run()
    s = w.summary()
    assert s["processing"]["ds"]["jobs"] > 0
    doc = (ROOT / "docs" / "metrics.md").read_text()
    paths = [p for p in key_paths(s) if p.startswith("processing.ds")]
    missing = sorted(p for p in paths if f"`{p}`" not in doc and not _covered(p, doc))
    assert paths and not missing, f"docs/metrics.md lacks: {missing}"


# ---- the calibration's DS section ---------------------------------------------------------------


def test_the_shipped_calibration_prices_the_ds_and_the_curve_halves() -> None:
    assert CAL.ds is not None and CAL.group_ops is not None
    assert CAL.ds.pre_scheme == "umbral-secp256k1-xchacha20poly1305"  # measured with umbral-pre
    for name, c in {**CAL.ds.costs(), **CAL.group_ops}.items():
        assert 0 < c.per_call < 1e-2, name
    assert CAL.ds.costs()["copy"].per_byte > 0 and CAL.ds.costs()["pre_reencrypt"].per_byte == 0
    assert set(CAL.group_ops) == set(GROUP_OPS)


def test_calibrate_add_ds_measures_only_the_new_primitives(tmp_path: Path) -> None:
    import json

    data = json.loads(DEFAULT_PATH.read_text())
    data["machine"] = machine_description().model_dump()
    del data["ds"], data["group_ops"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    out = tmp_path / "new.json"
    r = CliRunner().invoke(main, ["calibrate", "--add-ds", str(old), "--out", str(out), "--repeat", "1"])
    assert r.exit_code == 0, r.output
    before, after = load_calibration(old), load_calibration(out)
    assert after.suites == before.suites and after.date == before.date and after.machine == before.machine
    assert after.ds is not None and after.group_ops is not None and before.ds is None
    data["machine"]["cpu_model"] = "elsewhere"
    old.write_text(json.dumps(data))
    r = CliRunner().invoke(main, ["calibrate", "--add-ds", str(old), "--out", str(out), "--repeat", "1"])
    assert r.exit_code != 0 and "another machine" in r.output
