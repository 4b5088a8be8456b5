"""The cluster path as users deploy it (issue 23): ``dask scheduler`` and two ``dask worker``
processes on loopback, ``mlssim sweep --dask tcp://…`` as a subprocess, and results.csv byte for
byte the process pool's. The slow tier kills a worker mid-sweep, when the sweep's own progress
(the k-th run's ``summary.json``) says so, and checks every run is still there exactly once.

The workers start in folders of their own, and the sweep is started with relative paths from
another folder: on a cluster the workers' working directory is not the client's, so only the
shared output folder (absolute) ties them together (``docs/cluster.md``).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed", reason="dask[distributed] is in the dev extra")

from distributed import Client  # noqa: E402

SWEEP = """\
name: cluster-sweep
seed: 3
duration: {duration}
drain: 10
crypto: {{family: model}}
providers: [{{name: a}}, {{name: b}}]
network: {{ds_ds: {{latency: {{dist: constant, value: 0.03}}}}}}
groups: [{{size: {size}, workload: {{app_rate: 0.1, update_rate: 0.05}}}}]
sweep:
  grid:
    groups[0].size: [{size}, {size2}]
    network.ds_ds.latency.value: [0.01, 0.2]
  replications: {reps}
  seeds: independent
"""

STARTUP_S = 90.0  # a scheduler or worker that is not up by then has failed


@dataclass
class Cluster:
    """A scheduler and its workers, each a process group of its own (so a kill takes the nanny too)."""

    root: Path
    address: str = ""
    scheduler: subprocess.Popen[bytes] | None = None
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        cwd = self.root / name
        cwd.mkdir(parents=True, exist_ok=True)
        with (cwd / "log.txt").open("wb") as log:
            return subprocess.Popen(
                [sys.executable, "-m", *args],
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.parent.name}\n{p.read_text()[-3000:]}" for p in sorted(self.root.glob("*/log.txt"))
        )

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the process group: no shutdown handshake, as when a machine drops off."""
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self) -> None:
        procs = [*self.workers.values(), *([self.scheduler] if self.scheduler else [])]
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.kill(p)
            else:  # the group may still hold a worker the nanny started
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """``dask scheduler`` on a free loopback port, then two single-threaded ``dask worker``\\ s."""
    c = Cluster(tmp_path / "cluster")
    try:
        sched_file = c.root / "scheduler.json"
        c.scheduler = c.spawn(
            "scheduler",
            [
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(sched_file),
            ],
        )
        deadline = time.monotonic() + STARTUP_S
        while not sched_file.exists():
            if c.scheduler.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the scheduler did not start\n{c.logs()}")
            time.sleep(0.05)
        while not c.address:
            try:
                c.address = str(json.loads(sched_file.read_text())["address"])
            except (ValueError, KeyError):  # written but not flushed yet
                time.sleep(0.05)
        assert c.address.startswith("tcp://127.0.0.1:"), c.address
        for name in ("w0", "w1"):
            c.workers[name] = c.spawn(
                name,
                [
                    "distributed.cli.dask_worker",
                    c.address,
                    "--host",
                    "127.0.0.1",
                    "--name",
                    name,
                    "--nworkers",
                    "1",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--local-directory",
                    str(c.root / name / "dask"),
                ],
            )
        with Client(c.address, timeout=STARTUP_S) as client:
            try:
                client.wait_for_workers(2, timeout=STARTUP_S)
            except TimeoutError:
                pytest.fail(f"the workers did not join\n{c.logs()}")
        yield c
    finally:
        c.stop()


def sweep_cli(cwd: Path, *args: str) -> list[str]:
    """``mlssim sweep`` as a user types it (relative paths, from ``cwd``)."""
    return [sys.executable, "-m", "mlssim.cli", "sweep", "sweep.yaml", "--no-progress", *args]


def run_cli(cwd: Path, *args: str, timeout: float = 300) -> None:
    r = subprocess.run(sweep_cli(cwd, *args), cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr


def rows(out: Path) -> list[dict[str, str]]:
    with (out / "cluster-sweep" / "results.csv").open() as fh:
        return list(csv.DictReader(fh))


def test_dask_cluster_sweep_matches_the_process_pool(tmp_path: Path, cluster: Cluster) -> None:
    work = tmp_path / "project"
    work.mkdir()
    (work / "sweep.yaml").write_text(SWEEP.format(duration=20, size=3, size2=5, reps=2))
    run_cli(work, "--out", "pool", "--jobs", "2")
    run_cli(work, "--out", "dask", "--dask", cluster.address)
    pool = (work / "pool" / "cluster-sweep" / "results.csv").read_bytes()
    dask = (work / "dask" / "cluster-sweep" / "results.csv").read_bytes()
    assert dask == pool
    got = rows(work / "dask")
    assert len(got) == 8 and all(r["status"] == "complete" for r in got)
    assert not list(cluster.root.glob("w*/cluster-sweep")), "a worker wrote into its own working directory"


@pytest.mark.slow
def test_dask_sweep_survives_a_killed_worker(tmp_path: Path, cluster: Cluster) -> None:
    work = tmp_path / "project"
    work.mkdir()
    (work / "sweep.yaml").write_text(SWEEP.format(duration=150, size=30, size2=40, reps=4))
    runs, trigger = 16, 4
    out = work / "dask"
    proc = subprocess.Popen(
        sweep_cli(work, "--out", "dask", "--dask", cluster.address),
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 600
        while len(list(out.glob("cluster-sweep/*/summary.json"))) < trigger:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the sweep ended before {trigger} runs were done\n{cluster.logs()}")
            time.sleep(0.02)
        with Client(cluster.address, timeout=STARTUP_S) as client:
            names = {a: w["name"] for a, w in client.scheduler_info(n_workers=-1)["workers"].items()}
            busy: list[str] = []
            while not busy and proc.poll() is None:  # a worker may be between two runs
                busy = sorted(names[a] for a, tasks in client.processing().items() if tasks)
            assert busy, "no worker was running a run when the trigger fired"
            victim = busy[0]
            cluster.kill(cluster.workers[victim])
            done_at_kill = len(list(out.glob("cluster-sweep/*/summary.json")))
            assert done_at_kill < runs, "the sweep finished before the kill"
            client.wait_for_workers(1)
        output, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, output.decode() + cluster.logs()
    assert f"{runs} runs: {runs} run now, 0 already complete, 0 failed" in output.decode()
    got = rows(out)
    folders = {p.name for p in (out / "cluster-sweep").glob("seed*")}
    assert len(got) == runs and all(r["status"] == "complete" for r in got)
    assert len({r["run_key"] for r in got}) == runs and {r["run_key"] for r in got} == folders
    # and the rows are the process pool's, byte for byte
    run_cli(work, "--out", "pool", "--jobs", "2", timeout=600)
    assert (out / "cluster-sweep" / "results.csv").read_bytes() == (
        work / "pool" / "cluster-sweep" / "results.csv"
    ).read_bytes()
