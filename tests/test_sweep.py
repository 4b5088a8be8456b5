"""Sweeps: grid expansion, seeds, executors, resumption, failures (issue 9)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlssim.cli import main
from mlssim.runner.sweep import derive_seed, estimated_cost, expand, run_sweep
from mlssim.sim.world import World

SWEEP = """\
name: tiny-sweep
seed: 3
duration: 20
drain: 10
crypto: {family: model}
providers: [{name: a}, {name: b}]
network: {ds_ds: {latency: {dist: constant, value: 0.03}}}
groups: [{size: 4, workload: {app_rate: 0.1, update_rate: 0.05}}]
sweep:
  grid:
    groups[0].size: [3, 5]
    network.ds_ds.latency.value: [0.01, 0.2]
  replications: 2
  seeds: independent
"""


def write(tmp_path: Path, text: str = SWEEP) -> Path:
    f = tmp_path / "sweep.yaml"
    f.write_text(text)
    return f


def test_expand_orders_points_and_derives_distinct_seeds(tmp_path: Path) -> None:
    _, specs = expand(write(tmp_path))
    assert [(dict(s.point)["groups[0].size"], s.replication) for s in specs] == [
        (3, 0),
        (3, 1),
        (3, 0),
        (3, 1),
        (5, 0),
        (5, 1),
        (5, 0),
        (5, 1),
    ]
    assert len({s.seed for s in specs}) == 8
    assert specs[0].seed == derive_seed(3, specs[0].point, 0)
    assert all(
        s.scenario.sweep is None and s.scenario.groups[0].size == dict(s.point)["groups[0].size"]
        for s in specs
    )
    assert specs[2].scenario.network.ds_ds.latency.value == 0.2  # type: ignore[union-attr]


def test_results_are_identical_across_executors_and_repeats(tmp_path: Path) -> None:
    f = write(tmp_path)
    outs = []
    with ProcessPoolExecutor(max_workers=2) as pool:
        outs.append(run_sweep(f, tmp_path / "pool", pool)[0].read_bytes())
    with ThreadPoolExecutor(max_workers=1) as threads:
        outs.append(run_sweep(f, tmp_path / "serial", threads)[0].read_bytes())
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        pass
    else:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster, Client(cluster) as c:
            outs.append(run_sweep(f, tmp_path / "dask", c.get_executor())[0].read_bytes())
    assert all(o == outs[0] for o in outs)
    rows = outs[0].decode().splitlines()
    assert len(rows) == 1 + 8 and all(",complete," in r for r in rows[1:])


def test_longest_runs_are_submitted_first_and_rows_stay_in_grid_order(tmp_path: Path) -> None:
    sizes: list[int] = []

    class Recording(ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
            sizes.append(args[0].groups[0].size)
            return super().submit(fn, *args, **kwargs)

    f = write(tmp_path)
    with Recording(max_workers=1) as ex:
        results, specs, _ = run_sweep(f, tmp_path / "out", ex)
    assert sizes == [5, 5, 5, 5, 3, 3, 3, 3]
    assert estimated_cost(specs[4].scenario) > estimated_cost(specs[0].scenario)
    rows = [row["groups[0].size"] for row in csv.DictReader(results.open())]
    assert rows == ["3", "3", "3", "3", "5", "5", "5", "5"]


def test_rerun_skips_complete_runs(tmp_path: Path) -> None:
    f = write(tmp_path)
    with ThreadPoolExecutor(max_workers=1) as ex:
        _, _, first = run_sweep(f, tmp_path / "out", ex)
        results, _, second = run_sweep(f, tmp_path / "out", ex)
    assert first == {"skipped": 0, "complete": 8, "failed": 0}
    assert second == {"skipped": 8, "complete": 0, "failed": 0}
    assert len(results.read_text().splitlines()) == 9


def test_a_failing_run_is_recorded_and_the_sweep_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = write(tmp_path)
    _, specs = expand(f)
    doomed = specs[3].seed
    real_run = World.run

    def run(self: World, progress: object = None) -> None:
        if self.scenario.seed == doomed:
            raise RuntimeError("injected failure")
        real_run(self)

    monkeypatch.setattr(World, "run", run)
    with ThreadPoolExecutor(max_workers=1) as ex:
        results, _, counts = run_sweep(f, tmp_path / "out", ex)
    assert counts == {"skipped": 0, "complete": 7, "failed": 1}
    rows = results.read_text().splitlines()[1:]
    assert sum(",failed," in r for r in rows) == 1 and str(doomed) in next(r for r in rows if ",failed," in r)
    manifest = next((tmp_path / "out" / "tiny-sweep").glob(f"seed{doomed}-*/manifest.json"))
    assert "injected failure" in json.loads(manifest.read_text())["exception"]
    monkeypatch.setattr(World, "run", real_run)
    with ThreadPoolExecutor(max_workers=1) as ex:
        _, _, again = run_sweep(f, tmp_path / "out", ex)
    assert again == {"skipped": 7, "complete": 1, "failed": 0}


def test_killed_sweep_resumes_with_each_run_exactly_once(tmp_path: Path) -> None:
    f = write(tmp_path, SWEEP.replace("duration: 20", "duration: 60"))
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "mlssim.cli",
        "sweep",
        str(f),
        "--out",
        str(out),
        "--jobs",
        "1",
        "--no-progress",
    ]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            done = [m for m in out.glob("tiny-sweep/*/manifest.json") if '"complete"' in m.read_text()]
            if len(done) >= 2:
                break
            if proc.poll() is not None:
                pytest.fail("the sweep finished before it could be killed")
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = len([m for m in out.glob("tiny-sweep/*/manifest.json") if '"complete"' in m.read_text()])
    assert 2 <= before < 8
    r = CliRunner().invoke(main, ["sweep", str(f), "--out", str(out), "--jobs", "2", "--no-progress"])
    assert r.exit_code == 0, r.output
    assert f"{before} already complete" in r.output
    folders = list((out / "tiny-sweep").glob("seed*"))
    assert len(folders) == 8
    with (out / "tiny-sweep" / "results.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 8 and all(row["status"] == "complete" for row in rows)
    assert len({row["run_key"] for row in rows}) == 8
    assert {row["run_key"] for row in rows} == {p.name for p in folders}


def test_bad_grid_key_names_the_file(tmp_path: Path) -> None:
    f = write(tmp_path, SWEEP.replace("groups[0].size", "groups[0].sise"))
    r = CliRunner().invoke(main, ["sweep", str(f), "--no-progress"])
    assert r.exit_code == 2 and "sise" in r.output and str(f) in r.output


def test_cli_runs_part_of_a_grid_first_and_the_whole_sweep_skips_it(tmp_path: Path) -> None:
    f, out = write(tmp_path), tmp_path / "runs"
    runner = CliRunner()
    part = runner.invoke(
        main,
        ["sweep", str(f), "--out", str(out), "--jobs", "1", "--no-progress",
         "--only", "groups[0].size=5", "--only", "network.ds_ds.latency.value=0.2", "--replications", "1"],
    )  # fmt: skip
    assert part.exit_code == 0, part.output
    assert "1 runs: 1 run now, 0 already complete" in part.output
    rows = list(csv.DictReader((out / "tiny-sweep" / "results.csv").open()))
    assert [(r["groups[0].size"], r["network.ds_ds.latency.value"], r["replication"]) for r in rows] == [
        ("5", "0.2", "0")
    ]
    whole = runner.invoke(main, ["sweep", str(f), "--out", str(out), "--jobs", "1", "--no-progress"])
    assert whole.exit_code == 0, whole.output
    assert "8 runs: 7 run now, 1 already complete" in whole.output  # the same run, the same seed
    assert rows[0]["run_key"] in (out / "tiny-sweep" / "results.csv").read_text()


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("groups[0].size=4", "sweep.grid.groups[0].size has no value 4 (it has: [3, 5])"),
        ("crypto.suite=1", "sweep.grid has no key 'crypto.suite'"),
        ("groups[0].size", "expected KEY=V1,V2"),
        ("groups[0].size=[3", "the values are not YAML"),
    ],
)
def test_cli_only_names_what_the_grid_lacks(tmp_path: Path, option: str, expected: str) -> None:
    r = CliRunner().invoke(main, ["sweep", str(write(tmp_path)), "--only", option, "--no-progress"])
    assert r.exit_code == 2 and expected in r.output and "Traceback" not in r.output, r.output


def test_cli_refuses_zero_jobs_without_a_traceback(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["sweep", str(write(tmp_path)), "--jobs", "0", "--no-progress"])
    assert r.exit_code == 2 and "'--jobs'" in r.output and "Traceback" not in r.output, r.output


def test_cli_only_on_a_file_without_a_grid_says_so(tmp_path: Path) -> None:
    f = write(tmp_path, SWEEP.split("sweep:")[0])
    r = CliRunner().invoke(main, ["sweep", str(f), "--only", "groups[0].size=3", "--no-progress"])
    assert r.exit_code == 2 and "no sweep: section, so no grid key 'groups[0].size'" in r.output, r.output
