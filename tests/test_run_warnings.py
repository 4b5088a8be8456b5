"""A run that completes but measured nothing ends with warnings (issue 24, item 2).

A group never created (a DS–DS latency of 150 meant as ms, read as s) and a workload whose
Poisson processes never fired are named in the table ``mlssim run`` prints and in
``manifest.json``; ``--strict`` makes them a non-zero exit after the run is written, and
``summary.json`` stays free of them.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from mlssim.cli import main
from mlssim.report.table import summary_table

NEVER_CREATED = """\
name: never-created
duration: 60
providers: [{name: a}, {name: b}]
network:
  ds_ds:
    latency: {dist: constant, value: 150}
crypto: {family: model}
groups:
  - name: g
    size: 4
    providers: {a: 1, b: 1}
    workload: {app_rate: 0.1}
"""

NEVER_FIRES = """\
name: never-fires
duration: 10
providers: [{name: a}]
crypto: {family: model}
groups:
  - name: g
    size: 3
    workload: {app_rate: 0.0001, remove_rate: 0.00001}
"""

FINE = NEVER_FIRES.replace("never-fires", "fine").replace("app_rate: 0.0001", "app_rate: 0.5")


def _run(tmp_path: Path, text: str, *extra: str) -> tuple[int, str, Path]:
    f = tmp_path / "s.yaml"
    f.write_text(text)
    out = tmp_path / "runs"
    r = CliRunner().invoke(main, ["run", str(f), "--out", str(out), "--no-progress", *extra])
    manifests = list(out.glob("*/*/manifest.json"))
    assert len(manifests) == 1, r.output
    return r.exit_code, r.output, manifests[0].parent


def test_never_created_group_warns_in_table_and_manifest(tmp_path: Path) -> None:
    code, output, folder = _run(tmp_path, NEVER_CREATED)
    assert code == 0, output
    line = next(x for x in output.splitlines() if x.startswith("warning: "))
    assert "group g was never created" in line and "in seconds" in line
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert len(manifest["warnings"]) == 1 and "group g was never created" in manifest["warnings"][0]
    assert "warning" not in (folder / "summary.json").read_text()


def test_strict_run_exits_non_zero_after_writing(tmp_path: Path) -> None:
    code, output, folder = _run(tmp_path, NEVER_CREATED, "--strict")
    assert code == 1, output
    assert "--strict" in output
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["warnings"]
    assert (folder / "summary.json").is_file() and (folder / "events.jsonl").is_file()


def test_workload_that_never_fires_warns(tmp_path: Path) -> None:
    code, output, folder = _run(tmp_path, NEVER_FIRES)
    assert code == 0, output
    warnings = json.loads((folder / "manifest.json").read_text())["warnings"]
    assert len(warnings) == 1
    assert warnings[0].startswith("group g: the workload never fired")
    assert "app_rate 0.0001" in warnings[0]
    assert f"warning: {warnings[0]}" in output


def test_a_run_that_works_has_no_warnings(tmp_path: Path) -> None:
    code, output, folder = _run(tmp_path, FINE, "--strict")
    assert code == 0, output
    assert json.loads((folder / "manifest.json").read_text())["warnings"] == []
    assert "warning:" not in output


def test_table_lists_warnings_last(tmp_path: Path) -> None:
    _, _, folder = _run(tmp_path, FINE)
    summary = json.loads((folder / "summary.json").read_text())
    assert "warning" not in summary_table(summary)
    lines = summary_table(summary, ["one", "two"]).splitlines()
    assert lines[-3:] == ["", "warning: one", "warning: two"]
