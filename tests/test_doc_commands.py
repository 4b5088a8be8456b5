"""The shell commands quoted in README.md, docs/ and reports/README.md parse and point at what
exists (issue 24, item 5): every ``mlssim`` subcommand and option, every scenario file, every
``--x`` (a grid key of the swept scenario) and ``--metric`` (a documented summary key), every
benchmark script and its options. The first-hour guide's commands are also run
(tests/test_first_hour.py); the others would take minutes to hours, so they are checked here."""

from __future__ import annotations

import itertools
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml

from mlssim.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "reports" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
METRICS = (ROOT / "docs" / "metrics.md").read_text()


def commands() -> list[tuple[str, str]]:
    """(document, command) for every command line of every ``sh`` block."""
    out = []
    for doc in DOCS:
        for block in re.findall(r"```sh\n(.*?)```", doc.read_text(), re.S):
            pending = ""
            for line in block.replace("\\\n", " ").splitlines():
                pending += line + "\n"
                try:  # a quoted argument may span lines: read on until it closes
                    shlex.split(pending, comments=True)
                except ValueError:
                    continue
                for part in pending.split("&&"):
                    words = shlex.split(part, comments=True)
                    if words:
                        out.append((doc.relative_to(ROOT).as_posix(), shlex.join(words)))
                pending = ""
    return out


def scenario_named(name: str) -> Path | None:
    found = sorted(ROOT.glob(f"scenarios/**/{name}.yaml"))
    return found[0] if found else None


def documented(metric: str) -> bool:
    parent, _, leaf = metric.rpartition(".")
    return f"`{metric}`" in METRICS or (bool(parent) and f"`{parent}`" in METRICS and f"`{leaf}`" in METRICS)


def check_mlssim(words: list[str]) -> None:
    group = main
    assert isinstance(group, click.Group)
    cmd = group.commands.get(words[1])
    assert cmd is not None, f"no command {words[1]!r}"
    opts = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
    args = words[2:]
    for w in args:
        if w.startswith("-"):
            assert w.split("=", 1)[0] in opts, f"{words[1]}: no option {w!r}"
        elif w.endswith(".yaml"):
            assert (ROOT / w).is_file(), f"no file {w}"
    if words[1] == "report":
        sweep_dir = next(w for w in args if not w.startswith("-"))
        scenario = scenario_named(Path(sweep_dir).name)
        assert scenario is not None, f"{sweep_dir}: no scenario of that name"
        grid = (yaml.safe_load(scenario.read_text()).get("sweep") or {}).get("grid") or {}
        for opt, value in itertools.pairwise(args):
            if opt == "--x":
                assert value in grid, f"--x {value}: not a grid key of {scenario.name} ({list(grid)})"
            if opt == "--metric":
                assert documented(value), f"--metric {value}: not in docs/metrics.md"


@pytest.mark.parametrize(("doc", "command"), commands())
def test_a_quoted_command_parses_and_points_at_what_exists(doc: str, command: str) -> None:
    words = shlex.split(command)
    if words[0] == "mlssim":
        check_mlssim(words)
    elif words[:1] == ["python"] and words[1].startswith("benchmarks/"):
        script = ROOT / words[1]
        assert script.is_file(), f"no script {words[1]}"
        flags = [w.split("=", 1)[0] for w in words[2:] if w.startswith("--")]
        if flags:
            help_text = subprocess.run(
                [sys.executable, str(script), "--help"], capture_output=True, text=True, cwd=ROOT, check=True
            ).stdout
            for f in flags:
                assert f in help_text, f"{words[1]}: no option {f}"


def test_the_checker_finds_the_commands_and_catches_a_bad_one() -> None:
    found = commands()
    assert sum(c.startswith("mlssim report") for _, c in found) >= 8
    with pytest.raises(AssertionError, match="not a grid key"):
        check_mlssim(shlex.split("mlssim report runs/wg-federation --x network.ds_ds.loss"))
    with pytest.raises(AssertionError, match=r"not in docs/metrics\.md"):
        check_mlssim(shlex.split("mlssim report runs/wg-federation --metric commits.sentt"))
    with pytest.raises(AssertionError, match="no option"):
        check_mlssim(shlex.split("mlssim sweep scenarios/wg-federation.yaml --job 2"))
