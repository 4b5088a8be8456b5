"""docs/first-hour.md runs: every command block of the guide, on its scenario made small (short
runs, two replications, small groups), so that the guide's commands stay true (issue 24, item 6)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from mlssim.cli import main

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "first-hour.md"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", GUIDE.read_text(), re.S)


def shrink(src: Path, dst: Path) -> None:
    """The scenario at a test's size: 40 s of workload, 2 replications, groups of at most 8."""
    doc: dict[str, Any] = yaml.safe_load(src.read_text())
    doc["duration"], doc["drain"] = 40, 10
    for g in doc["groups"]:
        g["size"] = min(g["size"], 8)
    for c in doc.get("adversary", {}).get("compromises", []):
        c["at"] = 5
    sweep = doc["sweep"]
    sweep["replications"] = 2
    if "groups[0].size" in sweep.get("grid", {}):
        sweep["grid"]["groups[0].size"] = [4, 8]
    dst.write_text(yaml.safe_dump(doc))


@pytest.mark.parametrize("block", blocks("sh"), ids=lambda b: b.split()[2].rsplit("/", 1)[-1])
def test_each_command_block_of_the_guide_runs(block: str, tmp_path: Path) -> None:
    lines = [line for line in block.splitlines() if line.strip()]
    assert lines and all(line.startswith("mlssim ") for line in lines)
    runs = tmp_path / "runs"
    for line in lines:
        args = shlex.split(line)[1:]
        if args[0] == "sweep":
            small = tmp_path / Path(args[1]).name
            shrink(ROOT / args[1], small)
            args[1] = str(small)
        args = [str(runs) if a == "runs" else a.replace("runs/", f"{runs}/", 1) for a in args]
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 0, f"{line}\n{r.output}"
    report = next((runs).glob("*/report/*.md"))
    text = report.read_text()
    assert "Student-t" in text and "A quick set" in text
    assert list(report.parent.glob("*.png")), "the report draws its figures"


def test_the_pandas_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (code,) = blocks("python")
    small = tmp_path / "q4-loss.yaml"
    shrink(ROOT / "scenarios" / "first-hour" / "q4-loss.yaml", small)
    r = CliRunner().invoke(main, ["sweep", str(small), "--out", str(tmp_path / "runs"), "--jobs", "1"])
    assert r.exit_code == 0, r.output
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/first-hour.md", "exec"), {})
    assert (tmp_path / "runs" / "q4-loss" / "my-plot.png").is_file()
