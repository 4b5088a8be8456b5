"""The scenario's ``hardware`` section (issue 19): built-in profiles, mixes, the calibration file
it names, and that a scenario without it dumps (and so hashes) exactly as before it existed.
The bad-file cases with their lines are in ``tests/scenarios_bad/hardware_*.yaml``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlssim.calibration import DEFAULT_PATH
from mlssim.scenario import ScenarioError, load_scenario, parse_scenario
from mlssim.scenario.schema import DEFAULT_PROFILES

BASE = """\
name: hw
duration: 10
providers: [{name: alpha}, {name: beta}]
groups: [{size: 3}]
"""


def _issues(text: str, tmp_path: Path) -> list[str]:
    f = tmp_path / "s.yaml"
    f.write_text(text)
    with pytest.raises(ScenarioError) as exc:
        load_scenario(f)
    return [str(i).removeprefix(f"{f}:") for i in exc.value.issues]


def test_without_a_hardware_section_the_dump_has_no_trace_of_it() -> None:
    s = parse_scenario(BASE, "s.yaml")
    assert s.hardware is None
    assert "hardware" not in s.model_dump() and "hardware" not in s.model_dump_json()


def test_builtin_profiles_are_kept_and_a_profile_of_the_same_name_replaces_one() -> None:
    s = parse_scenario(BASE + "hardware: {}\n", "s.yaml")
    assert s.hardware is not None and s.hardware.processing_time is False
    assert s.hardware.profiles == DEFAULT_PROFILES and s.hardware.mix.clients == {"phone": 1.0}
    assert "hardware" in s.model_dump_json()
    text = BASE + (
        "hardware:\n  processing_time: on\n  profiles:\n    phone: {cpu_factor: 6}\n"
        "    tablet: {cpu_factor: 3, link: {up_mbps: 5, down_mbps: 20,\n"
        "                                   latency: {dist: constant, value: 0.03}}}\n"
        "  mix: {clients: {phone: 2, tablet: 1}, providers: {beta: {server: 1}}, population: {laptop: 1}}\n"
    )
    hw = parse_scenario(text, "s.yaml").hardware
    assert hw is not None and hw.processing_time is True
    assert list(hw.profiles) == ["phone", "laptop", "server", "tablet"]
    assert hw.profiles["phone"].cpu_factor == 6 and hw.profiles["phone"].link is None
    assert hw.profiles["laptop"] == DEFAULT_PROFILES["laptop"]
    link = hw.profiles["tablet"].link
    assert link is not None and (link.up_mbps, link.down_mbps) == (5, 20)


def test_builtin_links_are_the_sourced_numbers() -> None:
    """Ookla medians (see schema_hardware.py): mobile 29/9 Mbit/s, 14 ms one way; fixed 58/31, 5 ms."""
    phone, laptop = DEFAULT_PROFILES["phone"].link, DEFAULT_PROFILES["laptop"].link
    assert phone is not None and laptop is not None
    assert (phone.down_mbps, phone.up_mbps, phone.latency.model_dump()["value"]) == (29, 9, 0.014)
    assert (laptop.down_mbps, laptop.up_mbps, laptop.latency.model_dump()["value"]) == (58, 31, 0.005)


def test_mix_errors_name_the_key(tmp_path: Path) -> None:
    text = BASE + "hardware:\n  mix:\n    providers:\n      gamma: {phone: 1}\n      beta: {tablet: 1}\n"
    issues = _issues(text, tmp_path)
    assert issues == [
        "9: hardware.mix.providers.beta.tablet: unknown profile 'tablet' (known: phone, laptop, server)"
    ]
    issues = _issues(BASE + "hardware:\n  mix:\n    providers:\n      gamma: {phone: 1}\n", tmp_path)
    assert issues == ["8: hardware.mix.providers.gamma: unknown provider 'gamma' (known: alpha, beta)"]
    issues = _issues(BASE + "hardware:\n  mix:\n    clients: {phone: 0}\n", tmp_path)
    assert issues == ["7: hardware.mix.clients: weights must be ≥ 0 with a positive sum"]


def test_a_calibration_file_is_found_relative_to_the_scenario_and_checked(tmp_path: Path) -> None:
    (tmp_path / "cal").mkdir()
    (tmp_path / "cal" / "mine.json").write_text(DEFAULT_PATH.read_text())
    f = tmp_path / "s.yaml"
    f.write_text(BASE + "hardware: {calibration: cal/mine.json}\n")
    s = load_scenario(f)
    assert s.hardware is not None and s.hardware.calibration == "cal/mine.json"  # kept relative
    data = json.loads(DEFAULT_PATH.read_text())
    del data["suites"]["1"]
    (tmp_path / "cal" / "mine.json").write_text(json.dumps(data))
    assert _issues(f.read_text(), tmp_path) == [
        "5: hardware.calibration: cal/mine.json has no costs for cipher suite 1 (crypto.suite)"
    ]
    (tmp_path / "cal" / "mine.json").write_text('{"format": 1}')
    (issue,) = _issues(f.read_text(), tmp_path)
    assert issue.startswith(
        "5: hardware.calibration: not a usable calibration: machine: Field required (and "
    )


def test_a_sweep_can_turn_processing_time_on_in_an_absent_section() -> None:
    s = parse_scenario(BASE, "s.yaml", {"hardware.processing_time": True})
    assert s.hardware is not None and s.hardware.processing_time and s.hardware.profiles == DEFAULT_PROFILES
