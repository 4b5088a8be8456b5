"""mlssim report: reproducible figures and a Markdown report from run folders only (issue 9)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from click.testing import CliRunner

from mlssim.cli import main
from mlssim.report.data import Sweep, series
from mlssim.report.stats import t_quantile
from mlssim.runner.sweep import run_sweep

from .test_sweep import SWEEP


def test_report_files_are_byte_identical_and_captioned(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(SWEEP)
    with ThreadPoolExecutor(max_workers=1) as ex:
        run_sweep(f, tmp_path / "runs", ex)
    sweep_dir = tmp_path / "runs" / "tiny-sweep"
    outs = []
    for i in range(2):
        r = CliRunner().invoke(
            main,
            [
                "report",
                str(sweep_dir),
                "--out",
                str(tmp_path / f"rep{i}"),
                "--x",
                "network.ds_ds.latency.value",
            ],
        )
        assert r.exit_code == 0, r.output
        outs.append(tmp_path / f"rep{i}")
    figures = sorted(p.name for p in outs[0].iterdir() if p.suffix in (".png", ".pdf"))
    assert len(figures) == 8  # four default metrics, PNG and PDF each
    for name in figures:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
        assert (outs[0] / name).with_suffix(".caption.txt").is_file()
    md = (outs[0] / "tiny-sweep.md").read_text()
    assert "Student-t 95% interval" in md and "## Scenario" in md and "| series |" in md
    pdf = (outs[0] / figures[0]).read_bytes() if figures[0].endswith(".pdf") else b""
    assert b"CreationDate" not in pdf


def test_confidence_intervals_use_student_t() -> None:
    assert abs(t_quantile(1) - 12.706) < 1e-3 and abs(t_quantile(19) - 2.093) < 2e-3
    assert abs(t_quantile(1000) - 1.962) < 1e-3
    rows = [
        {"k": "1", "m": 10, "replication": 0, "seed": 1},
        {"k": "1", "m": 12, "replication": 1, "seed": 2},
        {"k": "2", "m": 20, "replication": 0, "seed": 1},
    ]
    (s,) = series(Sweep(Path("x"), ["k"], rows, 0), "k", "m")
    assert s.x == (1.0, 2.0) and s.mean == (11.0, 20.0) and s.n == (2, 1)
    half = s.half_width[0]
    assert half is not None and abs(half - 12.706 * 2**0.5 / 2**0.5) < 1e-2
    assert s.half_width[1] is None  # one run: no interval, not ± 0


def test_report_without_results_is_a_usage_error(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert r.exit_code == 2 and "results.csv" in r.output


def test_metrics_outside_results_csv_come_from_summaries(tmp_path: Path) -> None:
    """A metric that is not a results.csv column (here `application.received`, removed from the
    file: results.csv now holds every summary key) is read from each run's summary.json, so any
    summary key can be plotted."""
    import csv

    f = tmp_path / "s.yaml"
    f.write_text(SWEEP)
    with ThreadPoolExecutor(max_workers=1) as ex:
        run_sweep(f, tmp_path / "runs", ex)
    sweep_dir = tmp_path / "runs" / "tiny-sweep"
    with (sweep_dir / "results.csv").open() as fh:
        table = list(csv.reader(fh))
    assert "application.received" in table[0]
    drop = table[0].index("application.received")
    with (sweep_dir / "results.csv").open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([r[:drop] + r[drop + 1 :] for r in table])
    r = CliRunner().invoke(
        main,
        ["report", str(sweep_dir), "--out", str(tmp_path / "rep"), "--metric", "application.received"],
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "rep" / "tiny-sweep--application_received.png").is_file()
    # without the fallback the metric has no values and no figure is drawn
    assert "application_received" in (tmp_path / "rep" / "tiny-sweep.md").read_text()


def test_the_model_note_names_a_varied_suite_instead_of_one_runs_suite() -> None:
    """A caption's model line comes from one run's scenario; a choice the grid varies (here the
    cipher suite, as in scenarios/bandwidth-pq.yaml) must not be stated as that run's value."""
    from mlssim.report.report import _model_note

    scenario = {"crypto": {"suite": 1, "family": "model"}, "network": {}}
    assert "Model: suite 1 (model family); links without rate limits" in _model_note(scenario, ())
    varied = _model_note(scenario, ("crypto.suite", "groups[0].size"))
    assert "suite 1" not in varied and "crypto.suite varies" in varied
    rated = _model_note(scenario, ("network.client_ds.bandwidth",))
    assert "links with the rates the grid sets" in rated
    # a grid of latencies does not vary the rates: the base scenario's are stated
    timed = _model_note(scenario, ("network.ds_ds.latency.value",))
    assert "links without rate limits" in timed and "grid sets" not in timed


def test_private_use_suites_are_labelled_in_hex() -> None:
    from mlssim.report.data import key_value

    assert key_value("crypto.suite", "61441") == "0xF001"
    assert key_value("crypto.suite", "1") == "1"
    assert key_value("groups[0].size", "61441") == "61441"


def test_a_switch_is_named_after_what_it_switches_in_legends() -> None:
    from mlssim.report.data import short_key

    assert short_key("faults.failover.enabled") == "failover"
    assert short_key("adversary.compromises[0].remove_after") == "remove_after"
    assert short_key("federation.fanout") == "fanout"


def test_a_mix_of_weights_is_labelled_by_its_names() -> None:
    from mlssim.report.data import key_value

    assert key_value("hardware.mix.clients", '{"phone": 1}') == "phone"
    assert key_value("hardware.mix.clients", '{"phone": 3, "laptop": 1}') == "phone:3 + laptop:1"
    assert key_value("groups[0].workload.app_size", '{"dist": "constant", "value": 5}') == "5"


def test_the_model_note_follows_the_hardware_section() -> None:
    from mlssim.report.report import _model_note

    base = {"crypto": {"suite": 1, "family": "model"}, "network": {}}
    on = {**base, "hardware": {"processing_time": True, "calibration": "default"}}
    assert "processing time not simulated" in _model_note(base)
    note = _model_note(on)
    assert "processing time on" in note and "hardware profiles" in note and "not simulated" not in note
    varied = _model_note(on, ("hardware.processing_time", "crypto.suite"))
    assert "on or off per series" in varied and "pure-Python ML-KEM" in varied


def test_the_model_note_names_the_ds_queue_and_the_native_kem_price() -> None:
    from mlssim.report.report import _model_note

    base = {"crypto": {"suite": 0xF001, "family": "model"}, "network": {}}
    plain = {**base, "hardware": {"processing_time": True}}
    note = _model_note(plain)
    assert "the DS's processing takes no time" in note and "pure-Python ML-KEM" in note
    queued = {**base, "hardware": {"processing_time": True, "ds": {"workers": 4}, "kem_cost": "native"}}
    note = _model_note(queued)
    assert "each DS a queue of 4 worker(s)" in note and "takes no time" not in note
    assert "published native ML-KEM" in note and "pure-Python" not in note
