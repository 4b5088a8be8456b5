"""results.csv holds every summary key, flattened, in a fixed order (issue 24, item 3)."""

from __future__ import annotations

import csv
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mlssim.runner.summaries import flatten
from mlssim.runner.sweep import HEADLINE, RUN_COLUMNS, expand, run_sweep, write_results

SWEEP = """\
name: csv-sweep
seed: 5
duration: 30
drain: 5
crypto: {family: model}
providers: [{name: a}, {name: b}]
groups: [{name: g, size: 4, workload: {app_rate: 0.2, update_rate: 0.05}}]
adversary:
  compromises:
    - {at: 10, kind: member, group: g, member: 1}
sweep:
  grid:
    groups[0].count: [1, 2]
"""


def _table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def _cell(v: Any) -> str:
    return "" if v is None else str(v)


def test_every_flattened_summary_key_is_a_column(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(SWEEP)
    out = tmp_path / "runs"
    with ThreadPoolExecutor(max_workers=1) as ex:
        results, _, counts = run_sweep(f, out, ex)
    assert counts["complete"] == 2
    header, rows = _table(results)
    assert header[:5] == ["groups[0].count", *RUN_COLUMNS]
    flats = [
        flatten(json.loads((out / "csv-sweep" / r["run_key"] / "summary.json").read_text())) for r in rows
    ]
    scalar = {k for flat in flats for k, v in flat.items() if not isinstance(v, list)}
    assert header[5:] == sorted(scalar | set(HEADLINE))
    assert len(header) == len(set(header))
    # what issue 24 found missing, now there; lists stay in summary.json
    for key in ("healing.time_s_median", "commit_latency_s.p50", "lost_bytes", "forks.switches"):
        assert key in header
    assert all(isinstance(flat["healing.cases"], list) for flat in flats)
    assert not any(h.startswith("healing.cases") for h in header)
    for row, flat in zip(rows, flats, strict=True):
        for key in header[5:]:
            assert row[key] == (_cell(flat[key]) if key in flat else ""), key
    # one group named g, two named g0.0 and g0.1: each run leaves the other's columns empty
    one, two = rows
    assert one["groups.g.members"] != "" and one["groups.g0.0.members"] == ""
    assert two["groups.g.members"] == "" and two["groups.g0.1.members"] != ""


def test_missing_run_keeps_its_row_with_empty_metrics(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(SWEEP)
    out = tmp_path / "runs"
    with ThreadPoolExecutor(max_workers=1) as ex:
        results, specs, _ = run_sweep(f, out, ex)
    _, before = _table(results)
    shutil.rmtree(out / "csv-sweep" / before[1]["run_key"])
    base, _ = expand(f)
    header, rows = _table(write_results(base, specs, out, tmp_path))
    assert [r["status"] for r in rows] == ["complete", "missing"]
    assert all(rows[1][k] == "" for k in header[5:])
    assert "groups.g0.0.members" not in header  # only the complete run's keys (and HEADLINE)
    assert set(HEADLINE) <= set(header)
