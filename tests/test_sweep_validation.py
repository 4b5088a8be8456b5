"""The ``sweep:`` grid is checked when the file is loaded: keys and values at their lines (issue 18).

Key problems read ``file:line: sweep.grid["KEY"]: message``, value problems
``file:line: sweep.grid["KEY"][i]: key: message`` at the value's list item, and a point whose
values clash reads ``file:line: sweep.grid["KEY"]: at sweep point k=v, …: key: message``.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from mlssim.cli import main
from mlssim.runner.sweep import derive_seed, expand
from mlssim.scenario import Scenario, ScenarioError, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parent.parent

BASE = """\
name: grid
duration: 30
providers:
  - name: alpha
  - name: beta
groups:
  - name: team
    size: 4
    providers: {alpha: 1, beta: 1}
"""

# the example of the issue: a misspelt key and a misspelt value
EXAMPLE = (
    BASE
    + """\
sweep:
  replications: 2
  grid:
    groups[0].sise: [3, 4]
    federation.fanout: [plain, spilt]
"""
)


def write(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "grid.yaml"
    f.write_text(text, encoding="utf-8")
    return f


def issues_of(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(text, "x.yaml")
    return [(i.line, i.key, i.message) for i in exc.value.issues]


def test_bad_grid_key_is_reported_at_its_line_with_did_you_mean() -> None:
    text = BASE + "sweep:\n  grid:\n    groups[0].size: [3]\n    groups[0].sise: [3, 4]\n"
    ((line, key, message),) = issues_of(text)
    assert (line, key) == (13, 'sweep.grid["groups[0].sise"]')
    assert message.startswith("unknown key 'sise'; did you mean 'size'?")


def test_bad_grid_value_is_reported_at_its_item_line_with_the_files_message() -> None:
    text = BASE + "sweep:\n  grid:\n    federation.fanout:\n      - plain\n      - spilt\n      - pre\n"
    assert issues_of(text) == [
        (
            14,
            'sweep.grid["federation.fanout"][1]',
            "federation.fanout: must be 'plain', 'split', 'pre' or 'pre-join-store' (got 'spilt')",
        )
    ]


def test_a_value_is_judged_with_the_rest_of_the_file() -> None:
    # join_mode pre is a valid value, but not on this file (its fan-out is plain)
    text = BASE + "sweep:\n  grid:\n    groups[0].workload.join_mode: [welcome-with-tree, pre]\n"
    ((line, key, message),) = issues_of(text)
    assert (line, key) == (12, 'sweep.grid["groups[0].workload.join_mode"][1]')
    assert message == "groups[0].workload.join_mode: pre needs federation.fanout: pre-join-store"


def test_every_grid_problem_is_reported_together_in_line_order() -> None:
    text = (
        BASE
        + "sweep:\n  grid:\n"
        + "    network.ds_ds.loss: [0.1, 1.5]\n"  # line 12: a bad value
        + "    groups[0].sise: [3]\n"  # line 13: a bad key
        + "    sweep.replications: [2]\n"  # line 14: a sweep cannot sweep itself
        + "    groups[0].size:\n      - 1\n      - 3\n"  # line 16: a bad value
    )
    got = [(line, key) for line, key, _ in issues_of(text)]
    assert got == [
        (12, 'sweep.grid["network.ds_ds.loss"][1]'),
        (13, 'sweep.grid["groups[0].sise"]'),
        (14, 'sweep.grid["sweep.replications"]'),
        (16, 'sweep.grid["groups[0].size"][0]'),
    ]


def test_grid_keys_are_checked_beside_the_files_own_problems() -> None:
    text = BASE.replace("duration: 30", "duration: -1") + "sweep:\n  grid:\n    groups[0].sise: [3]\n"
    got = [(line, key) for line, key, _ in issues_of(text)]
    assert got == [(2, "duration"), (12, 'sweep.grid["groups[0].sise"]')]


def test_validate_cli_reports_the_grid_as_file_line_key_message(tmp_path: Path) -> None:
    f = write(tmp_path, EXAMPLE)
    result = CliRunner().invoke(main, ["validate", str(f)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.splitlines() == [
        f"{f}:13: sweep.grid[\"groups[0].sise\"]: unknown key 'sise'; did you mean 'size'? "
        "(allowed: name, count, size, providers, owner, devices_per_user, from_population, workload, "
        "steady_state, light_share, reinit)",
        f"{f}:14: sweep.grid[\"federation.fanout\"][1]: federation.fanout: must be 'plain', 'split', 'pre' "
        "or 'pre-join-store' (got 'spilt')",
    ]


def test_sweep_cli_reports_the_grid_lines_too(tmp_path: Path) -> None:
    f = write(tmp_path, EXAMPLE)
    result = CliRunner().invoke(main, ["sweep", str(f), "--no-progress", "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert f'{f}:13: sweep.grid["groups[0].sise"]: unknown key' in result.output
    assert f'{f}:14: sweep.grid["federation.fanout"][1]' in result.output
    assert not (tmp_path / "runs").exists()


def test_each_value_is_one_validation_and_leaves_the_base_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    base = BASE + "federation: {fanout: plain}\nmls: {handshake: public}\n"
    grid = (
        "sweep:\n  grid:\n"
        "    federation.fanout: [pre, split]\n"
        "    network.ds_ds.latency: [{dist: constant, value: 0.5}]\n"
        "    network.ds_ds.latency.value: [0.7]\n"
        "    groups[0].size: [3, 9]\n"
        "    mls.handshake: [private]\n"  # fine with the file's plain fan-out, not with a leaked split
    )
    validated: list[object] = []
    real = Scenario.model_validate

    def counting(obj: Any, *args: Any, **kwargs: Any) -> Scenario:
        validated.append(obj)
        return real(obj, *args, **kwargs)

    monkeypatch.setattr(Scenario, "model_validate", counting)
    s = parse_scenario(base + grid, "x.yaml")
    assert len(validated) == 1 + 7  # the base, then each value alone
    monkeypatch.undo()
    assert s.model_copy(update={"sweep": None}) == parse_scenario(base, "x.yaml")
    assert (s.federation.fanout, s.mls.handshake, s.groups[0].size) == ("plain", "public", 4)
    assert s.sweep is not None and s.sweep.grid == yaml.safe_load(grid)["sweep"]["grid"]


def test_shipped_sweep_validates_and_expands_to_the_same_runs(tmp_path: Path) -> None:
    shipped = ROOT / "scenarios" / "wg-bandwidth.yaml"
    text = shipped.read_text(encoding="utf-8")
    broken = write(
        tmp_path,
        text.replace(
            "federation.fanout: [plain, split, pre, pre-join-store]", "federation.fanout: [plain, splt]"
        ),
    )
    with pytest.raises(ScenarioError, match=r'sweep\.grid\["federation\.fanout"\]\[1\]'):
        load_scenario(broken)

    base, specs = expand(shipped)
    grid = base.sweep.grid if base.sweep is not None else {}
    reps = base.sweep.replications if base.sweep is not None else 0
    assert reps == 20 and len(specs) == 4 * 5 * reps
    points = [tuple(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    assert [(s.point, s.replication) for s in specs] == [(p, r) for p in points for r in range(reps)]
    for spec in specs:  # the same seeds and scenarios as loading each point with overrides
        assert spec.seed == derive_seed(base.seed, (), spec.replication)  # sweep.seeds: common
        overrides = {**dict(spec.point), "seed": spec.seed, "sweep": None}
        assert spec.scenario == load_scenario(shipped, overrides)


COMBO = (
    BASE
    + """\
sweep:
  grid:
    mls.handshake: [public, private]
    federation.fanout: [plain, split]
    groups[0].size: [3, 5]
"""
)


def test_a_combination_error_names_the_grid_line_and_the_point(tmp_path: Path) -> None:
    f = write(tmp_path, COMBO)
    load_scenario(f)  # each value is valid alone
    with pytest.raises(ScenarioError) as exc:
        expand(f)
    point = "mls.handshake=private, federation.fanout=split, groups[0].size={}"
    rule = "federation.fanout: split needs mls.handshake public and a DS that splits"
    assert [str(i) for i in exc.value.issues] == [
        f'{f}:13: sweep.grid["federation.fanout"]: at sweep point {point.format(n)}: {rule}' for n in (3, 5)
    ]


def test_sweep_cli_reports_a_combination_error_with_its_line(tmp_path: Path) -> None:
    f = write(tmp_path, COMBO)
    result = CliRunner().invoke(main, ["sweep", str(f), "--no-progress", "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert f'{f}:13: sweep.grid["federation.fanout"]: at sweep point mls.handshake=private' in result.output
