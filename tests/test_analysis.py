"""The analysis API (issue 18, item 8): a sweep's runs as DataFrames."""

from __future__ import annotations

import csv
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

import mlssim.analysis as ma
from mlssim.runner.summaries import flatten
from mlssim.runner.sweep import run_sweep
from mlssim.sim.world import World

SWEEP = """\
name: tiny-analysis
seed: 5
duration: 20
drain: 10
crypto: {family: model}
providers: [{name: a}, {name: b}]
groups: [{size: 4, workload: {app_rate: 0.1, update_rate: 0.05}}]
sweep:
  grid:
    federation.fanout: [plain, split]
  replications: 2
"""


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("analysis")
    f = tmp / "s.yaml"
    f.write_text(SWEEP)
    real_run = World.run
    doomed = {"seen": 0}

    def run(self: World, progress: object = None) -> None:
        # the last run (split, replication 1) fails: its row must stay in the table
        if self.scenario.federation.fanout == "split" and doomed["seen"] == 1:
            raise RuntimeError("injected")
        if self.scenario.federation.fanout == "split":
            doomed["seen"] += 1
        real_run(self)

    World.run = run  # type: ignore[method-assign]
    try:
        with ThreadPoolExecutor(max_workers=1) as ex:
            run_sweep(f, tmp / "out", ex)
    finally:
        World.run = real_run  # type: ignore[method-assign]
    return tmp / "out" / "tiny-analysis"


def test_flatten_joins_keys_and_keeps_lists() -> None:
    assert flatten({"b": {"y": 1, "x": {"z": None}}, "a": [1, {"k": 2}], "e": {}}) == {
        "a": [1, {"k": 2}],
        "b.x.z": None,
        "b.y": 1,
    }


def test_load_runs_has_one_row_per_run_with_every_summary_key(sweep: Path) -> None:
    df = ma.load_runs(sweep)
    assert list(df["federation.fanout"]) == ["plain", "plain", "split", "split"]
    assert list(df["replication"]) == [0, 1, 0, 1]
    assert list(df["status"]) == ["complete", "complete", "complete", "failed"]
    for _, row in df[df["status"] == "complete"].iterrows():
        summary = json.loads((sweep / row["run_key"] / "summary.json").read_text())
        flat = flatten(summary)
        assert set(flat) <= set(df.columns)  # every key...
        wrong = {
            k: (row[k], v) for k, v in flat.items() if not (row[k] == v or (v is None and pd.isna(row[k])))
        }
        assert not wrong  # ...and every value (a None in the summary is NaN in the table)
    failed = df[df["status"] == "failed"].iloc[0]
    assert failed["commits.sent"] != failed["commits.sent"]  # NaN: no metric invented for a failure
    assert (df["wall_time_s"] >= 0).all()


def test_load_runs_of_one_run_folder(sweep: Path) -> None:
    key = ma.load_runs(sweep)["run_key"][0]
    one = ma.load_runs(sweep / key)
    assert len(one) == 1 and one["run_key"][0] == key and one["status"][0] == "complete"


def test_load_transmissions_tags_rows_with_their_run(sweep: Path) -> None:
    df = ma.load_runs(sweep)
    tx = ma.load_transmissions(sweep)
    complete = df[df["status"] == "complete"]
    counts = tx.groupby("run_key").size()
    assert {k: int(v) for k, v in counts.items()} == dict(
        zip(complete["run_key"], complete["transmissions"], strict=True)
    )
    with (sweep / complete["run_key"].iloc[0] / "transmissions.csv").open() as f:
        header = next(csv.reader(f))
    assert list(tx.columns) == ["federation.fanout", "replication", "seed", "run_key", *header]


def test_a_folder_that_is_neither_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="neither a sweep folder"):
        ma.load_runs(tmp_path)
