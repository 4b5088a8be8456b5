"""`mlssim validate` warns of legal values that are almost surely wrong, and reports every
independent cross-reference error of a file at once (issue 24, item 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mlssim.cli import main
from mlssim.scenario import ScenarioError, load_scenario
from mlssim.scenario.plausibility import scenario_warnings, setup_time

ROOT = Path(__file__).resolve().parents[1]

IMPLAUSIBLE = """\
name: implausible
duration: 60
providers: [{name: alpha}, {name: beta}, {name: gamma}]
federation:
  ordering: hub
  orderer: gamma
network:
  ds_ds:
    latency: {dist: constant, value: 150}
  client_ds:
    latency: {dist: uniform, low: 20, high: 40}
groups:
  - name: g
    size: 4
    workload: {app_rate: 0.1}
"""

LATE_START = """\
name: late-start
duration: 60
providers: [{name: alpha}]
groups:
  - name: g
    size: 4
    workload: {app_rate: 0.1, start: 59.9}
"""

GRID = """\
name: grid
duration: 60
providers: [{name: alpha}, {name: beta}]
groups:
  - {name: g, size: 4, workload: {app_rate: 0.1}}
sweep:
  grid:
    network.ds_ds.latency.value:
      - 0.03
      - 150
"""

CLEAN = """\
name: clean
duration: 60
providers: [{name: alpha}, {name: beta}]
federation: {ordering: single, orderer: beta}
groups:
  - {name: g, size: 4, workload: {app_rate: 0.1}}
"""


def _validate(tmp_path: Path, text: str, *extra: str) -> tuple[int, list[str], Path]:
    f = tmp_path / "s.yaml"
    f.write_text(text)
    r = CliRunner().invoke(main, ["validate", *extra, str(f)])
    return r.exit_code, r.output.splitlines(), f


def test_each_plausibility_warning_names_file_line_and_key(tmp_path: Path) -> None:
    code, lines, f = _validate(tmp_path, IMPLAUSIBLE)
    assert code == 0, lines
    assert lines[0] == f"{f}: ok (1 group, 4 members)"
    warned = {line.split(": warning: ")[0]: line for line in lines[1:]}
    assert set(warned) == {
        f"{f}:2: duration",
        f"{f}:6: federation.orderer",
        f"{f}:9: network.ds_ds.latency.value",
        f"{f}:11: network.client_ds.latency",
    }, lines
    assert "ignored under ordering: hub" in warned[f"{f}:6: federation.orderer"]
    assert "150 s (above 10 s)" in warned[f"{f}:9: network.ds_ds.latency.value"]
    assert "group's setup" in warned[f"{f}:2: duration"]


def test_strict_makes_warnings_an_error(tmp_path: Path) -> None:
    code, lines, _ = _validate(tmp_path, IMPLAUSIBLE, "--strict")
    assert code == 1 and any(": warning: " in line for line in lines)


def test_clean_file_has_no_warnings_even_strict(tmp_path: Path) -> None:
    code, lines, f = _validate(tmp_path, CLEAN, "--strict")
    assert code == 0 and lines == [f"{f}: ok (1 group, 4 members)"]


def test_workload_start_past_its_window_warns(tmp_path: Path) -> None:
    code, lines, f = _validate(tmp_path, LATE_START)
    assert code == 0
    assert [line.split(": warning: ")[0] for line in lines[1:]] == [f"{f}:7: groups[0].workload.start"]


def test_grid_value_warns_at_its_line(tmp_path: Path) -> None:
    code, lines, f = _validate(tmp_path, GRID)
    assert code == 0
    shown = f'{f}:10: sweep.grid["network.ds_ds.latency.value"][1]: warning: at sweep point'
    warned = [line for line in lines[1:]]
    assert warned and all(line.startswith(shown) for line in warned), lines
    assert any("network.ds_ds.latency.value: a one-way latency" in line for line in warned)


def test_setup_time_counts_ds_ds_only_across_providers(tmp_path: Path) -> None:
    f = tmp_path / "one.yaml"
    f.write_text(LATE_START)
    one = load_scenario(f)
    assert setup_time(one, tmp_path) == pytest.approx(4 * 0.05 + 2 * 0.002)
    f.write_text(CLEAN)
    two = load_scenario(f)
    assert setup_time(two, tmp_path) == pytest.approx(4 * 0.05 + 4 * 0.03 + 2 * 0.002)


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_scenarios_have_no_warnings(path: Path) -> None:
    assert scenario_warnings(path) == []


TWO_ERRORS = """\
name: two-errors
duration: 60
providers: [{name: alpha}, {name: beta}]
federation:
  ordering: single
  orderer: gamma
groups:
  - name: g
    size: 4
    owner: delta
script:
  - {at: 5, action: offline, group: nope, member: 1}
"""


def test_every_independent_cross_reference_error_at_once(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(TWO_ERRORS)
    with pytest.raises(ScenarioError) as err:
        load_scenario(f)
    assert [str(i) for i in err.value.issues] == [
        f"{f}:6: federation.orderer: unknown provider 'gamma' (known: alpha, beta)",
        f"{f}:10: groups[0].owner: unknown provider 'delta' (known: alpha, beta)",
        f"{f}:12: script[0].group: no groups entry named 'nope'",
    ]
    r = CliRunner().invoke(main, ["validate", str(f)])
    assert r.exit_code == 1 and len(r.output.splitlines()) == 3


def test_one_cross_reference_error_reads_as_before(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(
        TWO_ERRORS.replace("orderer: gamma", "orderer: beta").replace("owner: delta", "owner: alpha")
    )
    with pytest.raises(ScenarioError) as err:
        load_scenario(f)
    assert [str(i) for i in err.value.issues] == [f"{f}:12: script[0].group: no groups entry named 'nope'"]


def test_an_orderer_used_by_the_sweep_is_not_ignored(tmp_path: Path) -> None:
    """Under hub the orderer is ignored, unless the sweep also runs a design that uses it."""
    hub = CLEAN.replace("ordering: single", "ordering: hub")
    f = tmp_path / "hub.yaml"
    f.write_text(hub)
    assert any("federation.orderer" in i.key for i in scenario_warnings(f))
    f.write_text(hub + "sweep:\n  grid:\n    federation.ordering: [hub, single]\n")
    assert not scenario_warnings(f)


def test_hardware_keys_without_processing_time_warn(tmp_path: Path) -> None:
    """``hardware.ds`` and ``kem_cost: native`` price work: with processing time off they do
    nothing, unless the sweep also runs processing time on."""
    off = CLEAN + "hardware:\n  processing_time: off\n  kem_cost: native\n  ds: {workers: 2}\n"
    f = tmp_path / "off.yaml"
    f.write_text(off)
    warned = {i.key: (i.line, i.message) for i in scenario_warnings(f)}
    assert set(warned) == {"hardware.ds", "hardware.kem_cost"}
    assert all("no effect with hardware.processing_time off" in m for _, m in warned.values())
    assert warned["hardware.kem_cost"][0] == off.splitlines().index("  kem_cost: native") + 1
    f.write_text(off.replace("processing_time: off", "processing_time: on"))
    assert not scenario_warnings(f)
    f.write_text(off + "sweep:\n  grid:\n    hardware.processing_time: [true, false]\n")
    assert not scenario_warnings(f)
