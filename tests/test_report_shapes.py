"""Reports for every sweep shape (issues 18 and 24): a categorical axis with paired
differences, a sweep without a grid as a pooled table, one-run points as n/a, unknown names as
errors, and healing as Kaplan–Meier survival."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlssim.cli import main
from mlssim.report.stats import bootstrap, kaplan_meier, mean_t
from mlssim.report.survival import closed_form
from mlssim.runner.sweep import run_sweep

BASE = """\
name: {name}
seed: 7
duration: 30
drain: 10
crypto: {{family: model}}
providers: [{{name: a}}, {{name: b}}]
groups: [{{size: 5, workload: {{app_rate: 0.1, update_rate: 0.05}}}}]
"""


def sweep(tmp_path: Path, name: str, section: str) -> Path:
    f = tmp_path / f"{name}.yaml"
    f.write_text(BASE.format(name=name) + section)
    with ThreadPoolExecutor(max_workers=1) as ex:
        run_sweep(f, tmp_path / "runs", ex)
    return tmp_path / "runs" / name


def report(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["report", *args])
    return r.exit_code, r.output


@pytest.fixture(scope="module")
def categorical(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cat")
    return sweep(
        tmp, "cat", "sweep:\n  grid:\n    federation.fanout: [plain, split, pre]\n  replications: 3\n"
    )


def test_a_categorical_axis_draws_points_and_paired_differences(categorical: Path, tmp_path: Path) -> None:
    code, out = report(str(categorical), "--out", str(tmp_path), "--metric", "commits.download_bytes_mean")
    assert code == 0, out
    names = {p.name for p in tmp_path.iterdir()}
    assert {"cat--commits_download_bytes_mean.png", "cat--commits_download_bytes_mean--paired.png"} <= names
    md = (tmp_path / "cat.md").read_text()
    for cat in ("plain", "split", "pre"):  # categories are x values of one series
        assert f"| commits.download_bytes_mean | {cat} | " in md
    assert "### Paired differences against plain" in md and "split − plain" in md and "pre − plain" in md
    assert "paired across points (common random numbers)" in md
    assert "A quick set: fewer than 20 replications per point." in md
    caption = (tmp_path / "cat--commits_download_bytes_mean--paired.caption.txt").read_text()
    assert "the run with the same seed at plain" in caption and "Student-t 95% interval" in caption


def test_independent_seeds_give_no_paired_differences(tmp_path: Path) -> None:
    d = sweep(
        tmp_path,
        "ind",
        "sweep:\n  grid:\n    federation.fanout: [plain, split]\n  replications: 2\n  seeds: independent\n",
    )
    code, out = report(str(d), "--out", str(tmp_path / "r"), "--metric", "commits.download_bytes_mean")
    assert code == 0, out
    assert not list((tmp_path / "r").glob("*--paired.png"))
    assert "independent per point" in (tmp_path / "r" / "ind.md").read_text()


def test_a_sweep_without_a_grid_gives_a_pooled_table(tmp_path: Path) -> None:
    d = sweep(tmp_path, "pool", "sweep:\n  replications: 3\n")
    code, out = report(str(d), "--out", str(tmp_path / "r"), "--metric", "transmissions")
    assert code == 0, out
    md = (tmp_path / "r" / "pool.md").read_text()
    assert "| `transmissions` |" in md and "(bootstrap)" in md and "(Student t)" in md
    assert not list((tmp_path / "r").glob("*.png"))  # no figure "against replication"


def test_one_run_per_point_shows_n_a(tmp_path: Path) -> None:
    d = sweep(tmp_path, "one", "sweep:\n  grid:\n    groups[0].size: [3, 5]\n")
    code, out = report(str(d), "--out", str(tmp_path / "r"), "--metric", "transmissions")
    assert code == 0, out
    md = (tmp_path / "r" / "one.md").read_text()
    rows = [line for line in md.splitlines() if line.startswith("| transmissions |")]
    assert len(rows) == 2 and all("| n/a | 1 |" in line for line in rows) and "± 0" not in md


def test_an_unknown_metric_or_x_is_an_error_with_a_suggestion(categorical: Path, tmp_path: Path) -> None:
    code, out = report(str(categorical), "--out", str(tmp_path), "--metric", "commits.download_bytes_maen")
    assert code == 2 and "did you mean 'commits.download_bytes_mean'" in out and "available:" in out
    code, out = report(str(categorical), "--out", str(tmp_path), "--x", "federation.fanuot")
    assert code == 2 and "did you mean 'federation.fanout'" in out


def test_kaplan_meier_against_a_hand_computed_example() -> None:
    # times 1..5; 2 has one event and one censored case; 4 is censored
    curve = kaplan_meier([1, 2, 2, 3, 4, 5], [True, True, False, True, False, True])
    want = [(0, 1.0), (1, 5 / 6), (2, 5 / 6 * 4 / 5), (3, 5 / 6 * 4 / 5 * 2 / 3), (5, 0.0)]
    assert [t for t, _ in curve] == [t for t, _ in want]
    assert all(math.isclose(s, w) for (_, s), (_, w) in zip(curve, want, strict=True))
    assert kaplan_meier([3, 4], [False, False]) == [(0.0, 1.0)]  # nobody healed: S stays 1


def test_intervals() -> None:
    e = mean_t([1.0, 2.0, 3.0])
    assert (
        e.value == 2.0
        and e.low is not None
        and math.isclose(2.0 - e.low, 4.303 * 1 / math.sqrt(3), rel_tol=1e-3)
    )
    one = mean_t([5.0])
    assert one.low is None and one.half_width is None
    b = bootstrap([1.0, 2.0, 3.0, 4.0, 100.0], lambda xs: sorted(xs)[len(xs) // 2])
    assert b.value == 3.0 and b.low is not None and b.high is not None and b.low <= 3.0 <= b.high
    assert b == bootstrap([1.0, 2.0, 3.0, 4.0, 100.0], lambda xs: sorted(xs)[len(xs) // 2])  # reproducible


def test_the_closed_form_applies_only_where_healing_is_the_victims_own_updates() -> None:
    scenario = {
        "groups": [{"name": "g", "workload": {"update_rate": 0.02, "update_mode": "commit"}}],
        "adversary": {
            "compromises": [
                {"at": 60, "kind": "member", "group": "g", "member": 7, "instance": 0},
                {"at": 60, "kind": "randomness", "group": "g", "member": 7, "instance": 0, "duration": 90},
            ]
        },
    }
    case = {"group": "g", "at": 60, "kind": "member"}
    assert closed_form(scenario, case) == (0.02, 90.0)
    scenario["adversary"]["compromises"][0]["victim_update_after"] = 10  # type: ignore[index]
    assert closed_form(scenario, case) is None


@pytest.fixture(scope="module")
def two_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("pair")
    grid = (
        "sweep:\n  grid:\n    groups[0].size: [4, 6]\n    federation.fanout: [plain, split]\n"
        "  replications: 3\n"
    )
    return sweep(tmp, "pair", grid)


def test_pair_draws_each_value_minus_the_first_run_for_run_against_x(two_keys: Path, tmp_path: Path) -> None:
    import csv
    import statistics

    metric = "commits.download_bytes_mean"
    code, out = report(
        str(two_keys), "--out", str(tmp_path), "--x", "groups[0].size", "--pair", "federation.fanout",
        "--metric", metric,
    )  # fmt: skip
    assert code == 0, out
    stem = tmp_path / f"pair--{metric.replace('.', '_')}--paired-fanout"
    assert stem.with_suffix(".png").is_file() and stem.with_suffix(".pdf").is_file()
    caption = stem.with_suffix(".caption.txt").read_text()
    assert "minus the run with the same seed at plain" in caption and "--pair federation.fanout" in caption
    rows = list(csv.DictReader((two_keys / "results.csv").open()))
    by = {(r["groups[0].size"], r["federation.fanout"], r["replication"]): float(r[metric]) for r in rows}
    md = (tmp_path / "pair.md").read_text()
    assert "### Paired differences along federation.fanout" in md
    for size in ("4", "6"):
        diffs = [by[(size, "split", str(k))] - by[(size, "plain", str(k))] for k in range(3)]
        assert any(d != 0 for d in diffs)  # split changes the download: the check can fail
        expected = statistics.fmean(diffs)
        line = next(x for x in md.splitlines() if x.startswith(f"| fanout: split − plain | {float(size)} |"))
        assert math.isclose(float(line.split("|")[3]), expected, rel_tol=1e-5), (line, expected)


def test_pair_refuses_the_x_key_and_unknown_keys(two_keys: Path, tmp_path: Path) -> None:
    for bad in ("groups[0].size", "crypto.suite"):
        code, out = report(str(two_keys), "--out", str(tmp_path), "--x", "groups[0].size", "--pair", bad)
        assert code == 2 and "--pair key (another grid key of this sweep)" in out, out


def test_runs_without_a_value_are_counted_in_the_caption(tmp_path: Path) -> None:
    """A run whose group never committed has no collision rate (``null``, not 0): its point
    averages the other runs, and the caption says how many were left out and where."""
    import csv
    import json

    (tmp_path / "src").mkdir()
    grid = "sweep:\n  grid:\n    groups[0].size: [4, 6]\n  replications: 3\n"
    folder = sweep(tmp_path / "src", "gap", grid)
    rows = list(csv.DictReader((folder / "results.csv").open()))
    metric = "commits.collisions_per_1000_attempts"
    # what a run without any attempt writes (the summary's rule, tested in test_summary_accounting)
    gap = next(r for r in rows if r["groups[0].size"] == "6" and r["replication"] == "1")
    path = folder / gap["run_key"] / "summary.json"
    s = json.loads(path.read_text())
    s["commits"]["collisions_per_1000_attempts"] = None
    path.write_text(json.dumps(s))
    code, out = report(str(folder), "--out", str(tmp_path / "r"), "--x", "groups[0].size", "--metric", metric)
    assert code == 0, out
    caption = (tmp_path / "r" / "gap--commits_collisions_per_1000_attempts.caption.txt").read_text()
    assert "1 complete runs have no value here" in caption and "size=6: 1 of 3" in caption, caption
    assert "size=4" not in caption.split("have no value here")[1].split("Runs:")[0]
    md = (tmp_path / "r" / "gap.md").read_text()
    line = next(x for x in md.splitlines() if x.startswith(f"| {metric} | 6.0 |"))
    assert line.rstrip(" |").endswith("| 2"), line  # n: the two runs with a value
