"""The WG figure set in two tiers (issue 23 item 5): the quick tier's reduced sweeps are the full
set's first runs, the manifest's errors name file, line and key, and a tier run draws the
reports, runs the extras, records its times and resumes without redoing a run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlssim.cli import main
from mlssim.report.figure_set import load_figure_set, run_figure_set
from mlssim.runner.sweep import Reduction, expand, run_key
from mlssim.scenario import ScenarioError, load_scenario

SWEEP = """\
name: tiny-set
seed: 5
duration: 20
drain: 10
crypto: {family: model}
providers: [{name: a}, {name: b}]
groups: [{size: 4, workload: {app_rate: 0.1, update_rate: 0.05}}]
sweep:
  grid:
    groups[0].size: [3, 4, 5]
  replications: 3
"""

MANIFEST = """\
root: .
jobs: 1
figures:
  tiny:
    scenario: sweep.yaml
    report:
      x: groups[0].size
      metrics: [commits.accepted]
    extra:
      - command: >-
          python -c "import sys, pathlib; pathlib.Path(sys.argv[1], 'extra.txt').write_text(sys.argv[2])"
          {reports} {runs}
        quick: true
      - command: python -c "raise SystemExit(3)"
    quick:
      replications: 2
      values:
        "groups[0].size": [3, 5]
    budget_s: {quick: 60, full: 120}
"""


def _files(tmp_path: Path, manifest: str = MANIFEST) -> Path:
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    m = tmp_path / "set.yaml"
    m.write_text(manifest)
    return m


def test_a_reduced_sweep_is_the_full_sweeps_first_runs(tmp_path: Path) -> None:
    f = _files(tmp_path).parent / "sweep.yaml"
    _, full = expand(f)
    _, quick = expand(f, Reduction(2, (("groups[0].size", (3, 5)),)))
    assert [(dict(s.point)["groups[0].size"], s.replication) for s in quick] == [
        (3, 0),
        (3, 1),
        (5, 0),
        (5, 1),
    ]
    same = {(s.point, s.replication): (s.seed, run_key(s.scenario, tmp_path)) for s in full}
    for s in quick:
        assert same[(s.point, s.replication)] == (s.seed, run_key(s.scenario, tmp_path))
    # more replications than the sweep has: the sweep's
    assert len(expand(f, Reduction(50))[1]) == 9


@pytest.mark.parametrize(
    ("reduction", "message"),
    [
        (Reduction(1, (("groups[0].count", (1,)),)), "sweep.grid has no key 'groups[0].count'"),
        (Reduction(1, (("groups[0].size", (3, 7)),)), "sweep.grid.groups[0].size has no value 7"),
    ],
)
def test_a_reduction_outside_the_grid_is_an_error(tmp_path: Path, reduction: Reduction, message: str) -> None:
    f = _files(tmp_path).parent / "sweep.yaml"
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        expand(f, reduction)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("replications: 2", "replications: 0"), "set.yaml:16: figures.tiny.quick.replications:"),
        (("jobs: 1", "jobs: two"), "set.yaml:2: jobs:"),
        (
            ("scenario: sweep.yaml", "scenario: nowhere.yaml"),
            "set.yaml:5: figures.tiny.scenario: no such file",
        ),
        (("    budget_s: {quick: 60, full: 120}\n", ""), "set.yaml:4: figures.tiny.budget_s: Field required"),
        (
            ("      x: groups[0].size", "      x: groups[0].size\n      colour: red"),
            "figures.tiny.report.colour",
        ),
    ],
)
def test_manifest_errors_name_file_line_and_key(tmp_path: Path, edit: tuple[str, str], expected: str) -> None:
    assert edit[0] in MANIFEST
    m = _files(tmp_path, MANIFEST.replace(*edit))
    with pytest.raises(ScenarioError) as err:
        load_figure_set(m)
    assert expected in str(err.value)
    result = CliRunner().invoke(main, ["figures", str(m), "--no-progress"])
    assert result.exit_code == 2 and expected in result.output and "Traceback" not in result.output


def test_the_quick_tier_draws_runs_extras_records_and_resumes(tmp_path: Path) -> None:
    m = _files(tmp_path)
    said: list[str] = []
    out = tmp_path / "runs-quick"
    times = run_figure_set(m, "quick", out, say=said.append)
    t = times["tiny"]
    assert (t.runs_done, t.runs_skipped) == (4, 0)
    assert t.failed == []  # the failing extra is full-tier only
    report = out / "quick-reports" / "tiny"
    caption = (report / "tiny-set--commits_accepted.caption.txt").read_text()
    assert "A quick set" in caption and "mlssim figures set.yaml --tier quick --only tiny" in caption
    assert "runs/" not in caption.split("Regenerate:")[1]  # the quick command, not the full sweep's
    assert (report / "extra.txt").read_text() == str(out / "tiny-set")
    record = json.loads((out / "figure-set-quick.json").read_text())
    assert record["figures"]["tiny"]["runs_done"] == 4 and record["total_budget_s"] == 60
    assert any("budget 60 s" in line for line in said)
    # resumed: nothing is run again, and the report is the same
    before = (report / "tiny-set.md").read_bytes()
    again = run_figure_set(m, "quick", out, say=said.append)["tiny"]
    assert (again.runs_done, again.runs_skipped) == (0, 4)
    assert (report / "tiny-set.md").read_bytes() == before
    # the work is the runs' measured time, whichever invocation ran them
    walls = [json.loads(p.read_text())["wall_time_s"] for p in (out / "tiny-set").glob("*/manifest.json")]
    assert len(walls) == 4 and again.run_s == pytest.approx(sum(walls)) == t.run_s > 0
    assert json.loads((out / "figure-set-quick.json").read_text())["total_run_s"] == round(sum(walls), 1)
    assert any("run time of its complete runs" in line for line in said)


def test_the_full_tier_runs_every_run_and_reports_a_failing_extra(tmp_path: Path) -> None:
    m = _files(tmp_path)
    # the quick tier's runs are reused by the full tier when they share the output folder
    run_figure_set(m, "quick", tmp_path / "runs", say=lambda _: None)
    result = CliRunner().invoke(
        main, ["figures", str(m), "--tier", "full", "--out", str(tmp_path / "runs"), "--no-progress"]
    )
    assert result.exit_code == 1, result.output
    assert "9 runs: 5 run now, 4 already complete" in result.output
    assert "FAILED" in result.output and "exited with 3" in result.output
    caption = (tmp_path / "reports" / "tiny" / "tiny-set--commits_accepted.caption.txt").read_text()
    assert "A quick set" in caption  # 3 replications: the report says so whatever the tier
    assert "mlssim report runs/tiny-set --x groups[0].size --metric commits.accepted" in caption


def test_an_unknown_figure_is_a_usage_error(tmp_path: Path) -> None:
    m = _files(tmp_path)
    result = CliRunner().invoke(main, ["figures", str(m), "--only", "nope", "--no-progress"])
    assert result.exit_code == 2 and "no figure 'nope' (it has: tiny)" in result.output


def test_the_shipped_manifest_loads_and_its_reductions_fit_the_sweeps() -> None:
    root = Path(__file__).resolve().parent.parent
    manifest, where = load_figure_set(root / "reports" / "figure-set.yaml")
    assert where == root
    for name, spec in manifest.figures.items():
        sweep = load_scenario(root / spec.scenario).sweep
        assert sweep is not None and sweep.replications >= 20, name  # the full tier: WG figures
        values = tuple((k, tuple(v)) for k, v in spec.quick.values.items())
        grid, reps = Reduction(spec.quick.replications, values).apply(root / spec.scenario, sweep.grid, 20)
        assert reps < 20 and math.prod(len(v) for v in grid.values()) >= 1, name
    assert sum(s.budget_s.quick for s in manifest.figures.values()) <= 1800  # the quick tier's target


def test_a_figure_whose_report_fails_is_counted_and_the_rest_go_on(tmp_path: Path) -> None:
    bad = MANIFEST.replace("metrics: [commits.accepted]", "metrics: [no.such.metric]").replace(
        "figures:\n",
        "figures:\n  first:\n    scenario: sweep.yaml\n    report: {x: nope}\n"
        "    quick: {replications: 1}\n    budget_s: {quick: 1, full: 1}\n",
        1,
    )
    m = _files(tmp_path, bad)
    result = CliRunner().invoke(main, ["figures", str(m), "--out", str(tmp_path / "q"), "--no-progress"])
    assert result.exit_code == 1, result.output
    assert "[first]" in result.output and "unknown x key (a grid key of this sweep) 'nope'" in result.output
    assert "[tiny]" in result.output and "unknown metric 'no.such.metric'" in result.output
    record = json.loads((tmp_path / "q" / "figure-set-quick.json").read_text())
    assert set(record["figures"]) == {"first", "tiny"} and all(
        f["failed"] for f in record["figures"].values()
    )
