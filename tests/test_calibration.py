"""Calibration (issue 19, ``mlssim/calibration/``): the shipped file covers every primitive of
every real suite, a measurement has the right shape, bad files are refused naming file and
field, and ``cost_of`` is exactly counts × calibrated cost × cpu_factor. No wall-clock bounds:
``benchmarks/calibration_check.py`` compares timings."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlssim.calibration import (
    DEFAULT_PATH,
    Calibration,
    CalibrationError,
    PrimitiveCost,
    SuiteCosts,
    cost_of,
    default_calibration,
    load_calibration,
    machine_description,
    measure,
    real_suite_ids,
    save_calibration,
)
from mlssim.cli import main
from mlssim.mls.crypto import PQ_SUITES, SUPPORTED_SUITES
from mlssim.mls.crypto.counting import BYTE_COUNTED, PRIMITIVES, WorkCounts


def _hand_made() -> Calibration:
    """Costs that are powers of two, so every sum below is exact in binary floating point."""
    costs = {p: PrimitiveCost(per_call=2.0**-i, per_byte=2.0**-(i + 20) if p in BYTE_COUNTED else 0.0)
             for i, p in enumerate(PRIMITIVES, start=4)}  # fmt: skip
    return Calibration(
        machine=machine_description(),
        date="2026-01-01T00:00:00+00:00",
        repeat=1,
        suites={1: SuiteCosts(name="suite one", costs=costs)},
    )


def test_the_shipped_file_covers_every_primitive_of_every_real_suite() -> None:
    cal = load_calibration(DEFAULT_PATH)
    assert cal == default_calibration()
    assert set(real_suite_ids()) == set(SUPPORTED_SUITES) | set(PQ_SUITES)  # this cryptography build
    assert set(cal.suites) == set(real_suite_ids())
    for suite in cal.suites.values():
        assert tuple(suite.costs) == PRIMITIVES
        for name, c in suite.costs.items():
            assert c.per_call > 0 and math.isfinite(c.per_call), name
            assert c.per_byte == 0 or name in BYTE_COUNTED
    assert cal.machine.cpu_model and cal.machine.python and cal.date.startswith("20")


def test_measure_one_suite_once_gives_positive_finite_costs() -> None:
    cal = measure([1], repeat=1)
    assert list(cal.suites) == [1] and cal.repeat == 1
    costs = cal.suites[1].costs
    assert tuple(costs) == PRIMITIVES
    for name, c in costs.items():
        assert c.per_call > 0 and math.isfinite(c.per_call), name
        assert c.per_byte >= 0 and math.isfinite(c.per_byte), name
        assert c.per_byte == 0 or name in BYTE_COUNTED


def test_measure_refuses_a_suite_without_a_real_implementation() -> None:
    with pytest.raises(ValueError, match="no real implementation"):
        measure([0x7777], repeat=1)


def test_cost_of_is_counts_times_costs_times_the_factor_exactly() -> None:
    cal = _hand_made()
    c = cal.suites[1].costs
    counts = WorkCounts({"hash": 7, "hash_bytes": 640, "kem_decap": 3, "verify": 2, "verify_bytes": 1000})
    expected = (
        7 * c["hash"].per_call + 640 * c["hash"].per_byte + 3 * c["kem_decap"].per_call
        + 2 * c["verify"].per_call + 1000 * c["verify"].per_byte
    )  # fmt: skip
    assert cost_of(counts, cal, 1) == expected
    assert cost_of(counts, cal, 1, cpu_factor=4.0) == 4 * expected
    assert cost_of(counts, cal, 1, cpu_factor=0.5) == expected / 2
    assert cost_of(WorkCounts(), cal, 1) == 0.0
    # the order a tally was filled in does not matter
    assert cost_of(dict(reversed(list(counts.items()))), cal, 1) == expected


def test_cost_of_prices_each_calibration_by_its_own_costs() -> None:
    """Unit costs are kept per cost table (by identity, beside it): two calibrations priced in
    turn, and a table made anew for every call, each get their own prices."""
    a = _hand_made()
    b = a.model_copy(
        update={"suites": {1: SuiteCosts(name="twice", costs={k: PrimitiveCost(per_call=2 * v.per_call,
                per_byte=2 * v.per_byte) for k, v in a.suites[1].costs.items()})}}
    )  # fmt: skip
    counts = {"hash": 3, "hash_bytes": 100, "sign": 1}
    for _ in range(3):
        assert cost_of(counts, b, 1) == 2 * cost_of(counts, a, 1) > 0
    for i in range(100):  # more tables than the unit-cost cache keeps
        fresh = _hand_made()
        assert cost_of({"sign": i}, fresh, 1) == i * fresh.suites[1].costs["sign"].per_call


def test_cost_of_refuses_what_it_cannot_price() -> None:
    cal = _hand_made()
    with pytest.raises(ValueError, match="unknown primitive 'rsa'"):
        cost_of({"rsa": 1}, cal, 1)
    with pytest.raises(ValueError, match="unknown primitive 'rsa_bytes'"):
        cost_of({"hash": 2, "rsa_bytes": 1}, cal, 1)  # after a name it knows
    with pytest.raises(CalibrationError, match="no costs for cipher suite 0xF001"):
        cost_of({"hash": 1}, cal, 0xF001)
    with pytest.raises(ValueError, match="cpu_factor"):
        cost_of({"hash": 1}, cal, 1, cpu_factor=0)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    cal = _hand_made()
    f = tmp_path / "c.json"
    save_calibration(cal, f)
    assert load_calibration(f) == cal


def _broken(tmp_path: Path, edit: object) -> CalibrationError:
    data = json.loads(DEFAULT_PATH.read_text())
    assert callable(edit)
    edit(data)
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(data))
    with pytest.raises(CalibrationError) as exc:
        load_calibration(f)
    assert str(exc.value).startswith(f"{f}: ")
    return exc.value


def test_bad_files_name_the_file_and_the_field(tmp_path: Path) -> None:
    err = _broken(tmp_path, lambda d: d["suites"]["1"]["costs"].pop("verify"))
    assert "suites.1.costs: no cost for verify" in str(err)
    err = _broken(tmp_path, lambda d: d["suites"]["2"]["costs"]["hash"].update(per_call=-1))
    assert "suites.2.costs.hash.per_call: Input should be greater than or equal to 0" in str(err)
    err = _broken(tmp_path, lambda d: d["machine"].update(gpu="none"))
    assert "machine.gpu: Extra inputs are not permitted" in str(err)
    err = _broken(tmp_path, lambda d: d.update(format=99))
    assert "format: format 99 is not the one" in str(err)
    err = _broken(tmp_path, lambda d: d["suites"]["1"]["costs"]["kdf_expand"].update(per_byte=1e-9))
    assert "per_byte for a primitive counted by calls only: kdf_expand" in str(err)
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(CalibrationError, match=r"x\.json: not JSON"):
        load_calibration(tmp_path / "x.json")
    with pytest.raises(CalibrationError, match=r"nope\.json: no such file"):
        load_calibration(tmp_path / "nope.json")


def test_cli_calibrate_writes_a_file_and_prints_the_wall_time(tmp_path: Path) -> None:
    out = tmp_path / "cal.json"
    result = CliRunner().invoke(
        main, ["calibrate", "--out", str(out), "--suites", "1", "--repeat", "1", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "s wall time" in result.output and str(out) in result.output
    assert list(load_calibration(out).suites) == [1]
    bad = CliRunner().invoke(main, ["calibrate", "--out", str(out), "--suites", "1,99"])
    assert bad.exit_code == 2 and "not a real suite here: [99]" in bad.output


def test_cli_calibrate_refuses_an_output_it_cannot_write_before_measuring(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "cal.json"
    r = CliRunner().invoke(main, ["calibrate", "--out", str(missing), "--suites", "1", "--repeat", "1"])
    assert r.exit_code == 2 and f"no folder {missing.parent}" in r.output and "wall time" not in r.output
    blocked = tmp_path / "file"
    blocked.write_text("")
    r = CliRunner().invoke(main, ["calibrate", "--out", str(blocked / "cal.json"), "--suites", "1"])
    assert r.exit_code == 2 and "no folder" in r.output and "Traceback" not in r.output
