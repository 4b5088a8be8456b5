"""Processing time as queues (``sim/processing.py``): one job at a time per client in the order
asked, each costing exactly its counted work × calibrated cost × cpu_factor, its effects after
that time; profiles drawn stably per client; without a hardware section nothing is counted."""

from __future__ import annotations

from typing import Any

import simpy

from mlssim.calibration import cost_of, default_calibration
from mlssim.mls.crypto import get_suite
from mlssim.mls.crypto.counting import CountingSuite, WorkCounts, counting
from mlssim.scenario.schema import HardwareSpec, Scenario
from mlssim.sim.processing import Hardware, Instant, Queued
from mlssim.sim.recorder import Recorder
from mlssim.sim.world import World

SUITE = CountingSuite(get_suite(1, "model"))


def hashing(n: int) -> WorkCounts:
    """Work of ``n`` hashes of 1 KB, as the suite counts it."""
    for _ in range(n):
        SUITE.hash(bytes(1024))
    tally = WorkCounts()
    with counting(tally):
        for _ in range(n):
            SUITE.hash(bytes(1024))
    return tally


def test_a_client_handles_one_job_at_a_time_each_for_its_counted_cost() -> None:
    env = simpy.Environment()
    rec = Recorder()
    cal = default_calibration()
    q = Queued(env, rec, cal, 1, lambda c: {"a": 2.0, "b": 1.0}[c])
    done: list[tuple[str, float]] = []

    def job(name: str, n: int) -> tuple[Any, Any]:
        return (lambda: SUITE_work(n)), (lambda _r: done.append((name, env.now)))

    def SUITE_work(n: int) -> int:
        for _ in range(n):
            SUITE.hash(bytes(1024))
        return n

    c1 = cost_of(hashing(10), cal, 1, 2.0)
    c2 = cost_of(hashing(30), cal, 1, 2.0)
    c3 = cost_of(hashing(5), cal, 1, 1.0)
    assert 0 < c1 < c2
    q.run("a", "commit", *job("a1", 10))
    q.run("a", "commit", *job("a2", 30))  # waits for a1
    q.run("b", "commit", *job("b1", 5))  # another client: in parallel
    assert q.busy("a") and q.busy("b")
    env.run()
    assert not q.busy("a")
    assert [n for n, _ in done] == ["b1", "a1", "a2"]
    at = dict(done)
    assert abs(at["a1"] - c1) < 1e-12 and abs(at["a2"] - (c1 + c2)) < 1e-12 and abs(at["b1"] - c3) < 1e-12
    events = list(rec.of_kind("processing"))
    assert [e["client"] for e in events] == ["a", "b", "a"]
    assert events[2]["waited"] == round(c1, 9) and events[0]["waited"] == 0
    assert events[2]["seconds"] == round(c2, 9)


def test_instant_runs_the_effects_at_once() -> None:
    out: list[int] = []
    p = Instant()
    p.run("a", "commit", lambda: 3, out.append)
    assert out == [3] and not p.busy("a")


def test_profiles_are_drawn_by_weight_and_stably_per_name() -> None:
    spec = HardwareSpec.model_validate(
        {"mix": {"clients": {"phone": 3, "laptop": 1}, "providers": {"b": {"server": 1}}}}
    )
    hw = Hardware(spec, seed=7)
    names = [f"c{i}@a" for i in range(400)]
    drawn = [hw.profile_name(n, "a", False) for n in names]
    assert 0.68 < drawn.count("phone") / len(drawn) < 0.82
    assert set(drawn) == {"phone", "laptop"}
    again = Hardware(spec, seed=7)
    assert [again.profile_name(n, "a", False) for n in reversed(names)][::-1] == drawn  # order-free
    assert hw.profile_name("x@b", "b", False) == "server"
    assert Hardware(spec, seed=8).profile_name("c1@a", "a", False) in ("phone", "laptop")


def base(**extra: Any) -> Scenario:
    doc: dict[str, Any] = {
        "name": "hw",
        "seed": 3,
        "duration": 40,
        "drain": 10,
        "crypto": {"suite": 1, "family": "model"},
        "providers": [{"name": "a"}, {"name": "b"}],
        "groups": [{"size": 12, "workload": {"update_rate": 0.02, "app_rate": 0.02, "add_rate": 0.02}}],
        **extra,
    }
    return Scenario.model_validate(doc)


def test_processing_time_delays_effects_and_is_summarised() -> None:
    off = World(base())
    off.run()
    # a profile without a link: the same network as ``off``, only the processing differs
    cpu = {"cpu_factor": 4.0}
    on = World(
        base(hardware={"processing_time": True, "profiles": {"cpu": cpu}, "mix": {"clients": {"cpu": 1}}})
    )
    on.run()
    assert "processing" not in off.summary() and not list(off.recorder.of_kind("processing"))
    s = on.summary()
    assert s["all_converged"]
    jobs = list(on.recorder.of_kind("processing"))
    assert s["processing"]["jobs"] == len(jobs) > 100
    assert set(s["processing"]["seconds"]) >= {"commit", "commit_create", "application", "welcome"}
    # a commit is sent when built: each commit_sent follows its committer's commit_create by its cost
    creates = [e for e in jobs if e["op"] == "commit_create"]
    sent = list(on.recorder.of_kind("commit_sent"))
    assert len(creates) == len(sent)
    for c, e in zip(creates, sent, strict=True):
        assert e["client"] == c["client"] and abs(e["t"] - (c["t"] + c["seconds"])) < 2e-6
    # the same workload takes longer to converge, by at least the processing of the commit
    commit_p50 = s["processing"]["seconds"]["commit"]["p50"]
    assert s["convergence_s"]["p50"] > off.summary()["convergence_s"]["p50"] + commit_p50 > 0
