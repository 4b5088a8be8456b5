"""Figures and a Markdown report from a sweep's run folders (``mlssim report``).

Reads only ``<sweep>/results.csv`` and the run folders it names. One figure per metric: the
metric's mean over replications against one grid key (x), one line per combination of the other
grid keys, with 95% confidence intervals (Student t over replications; none with a single
replication). Files are reproducible: the shipped style (``mlssim.mplstyle``: Type-42 fonts,
Okabe-Ito colours), fixed metadata (no creation date), fixed hash salt — the same runs give
byte-identical PNG and PDF files.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__

__all__ = ["Series", "load_results", "series", "plot", "write_report", "t_quantile", "DEFAULT_METRICS"]

STYLE = Path(__file__).with_name("mlssim.mplstyle")

#: metric → axis label (with unit); the default figures of a report
DEFAULT_METRICS = {
    "commits.collisions_per_1000_attempts": "collisions per 1,000 commit attempts",
    "convergence_s.p95": "commit → all members merged, p95 (s)",
    "client_download_bytes.mean": "download per client (bytes)",
    "inter_provider_bytes": "inter-provider bytes",
}
LABELS = {
    **DEFAULT_METRICS,
    "commit_latency_s.p95": "commit latency p95 (s)",
    "convergence_s.p50": "commit → all members merged, p50 (s)",
    "client_upload_bytes.mean": "upload per client (bytes)",
    "ds_egress_to_clients_bytes": "DS egress to clients (bytes)",
    "commits.wasted_bytes": "bytes of losing commit attempts",
    "commits.retries_per_accepted": "retries per accepted commit",
    "forks.epochs": "forked epochs",
    "commits.download_bytes_mean": "commit download per member (bytes)",
    "commits.upload_bytes_mean": "commit upload per committer (bytes)",
    "joins.download_bytes_mean": "joiner's download per join (bytes)",
    "joins.adder_upload_bytes_mean": "adding member's upload per join (bytes)",
    "healing.time_s_median": "healing time, median (s)",
    "healing.epochs_mean": "epochs until healed, mean",
    "healing.bytes_mean": "handshake bytes until healed, mean",
    "healing.app_exposed": "application messages exposed",
    "ds_storage_bytes_mean": "DS storage per group (bytes)",
    "pre.reencryptions_per_epoch_mean": "PRE re-encryptions per epoch",
    "devices.bytes_per_add_mean": "bytes per device add (all groups)",
    "devices.completion_s.p95": "device add → in all groups, p95 (s)",
    "devices.groups_per_add_mean": "groups per device add",
}
#: grid key → axis label with its unit
X_LABELS = {
    "network.ds_ds.latency": "DS–DS one-way latency (s)",
    "network.ds_ds.latency.value": "DS–DS one-way latency (s)",
    "network.client_ds.latency.value": "client–DS one-way latency (s)",
    "groups[0].size": "group size (members)",
    "groups[0].workload.update_rate": "updates per member per second",
    "groups[0].workload.app_rate": "application messages per member per second",
    "groups[0].workload.update_group_rate": "path updates per group per second",
    "groups[0].count": "groups (scenarios/devices.yaml: a user is in about count / 2)",
}
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def t_quantile(df: int) -> float:
    """Two-sided 95% Student t quantile (table for small df, Cornish-Fisher beyond)."""
    if df in _T975:
        return _T975[df]
    z = 1.959964
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    return z + g1 / df + g2 / df**2


@dataclass(frozen=True)
class Series:
    label: str
    x: tuple[float, ...]
    mean: tuple[float, ...]
    half_width: tuple[float, ...]  # 95% CI half width; 0 with one replication
    n: tuple[int, ...]


def load_results(sweep_dir: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Grid keys and rows of ``results.csv`` (complete runs only)."""
    with (sweep_dir / "results.csv").open(newline="") as f:
        reader = csv.DictReader(f)
        fields = list(reader.fieldnames or [])
        rows = [r for r in reader if r["status"] == "complete"]
    grid = fields[: fields.index("replication")]
    return grid, rows


def _num(v: str) -> float | None:
    try:
        x = float(v)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _label_value(v: str) -> str:
    try:
        d = json.loads(v)
    except ValueError:
        return v
    if isinstance(d, dict) and "value" in d:
        return str(d["value"])
    return v


def series(grid: list[str], rows: list[dict[str, str]], x_key: str, metric: str) -> list[Series]:
    """Mean and 95% CI of ``metric`` against ``x_key``, one series per value of the other keys."""
    others = [k for k in grid if k != x_key]
    cells: dict[tuple[str, ...], dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        x = _num(_label_value(r[x_key]))
        y = _num(r.get(metric, ""))
        if x is None or y is None:
            continue
        cells[tuple(r[k] for k in others)][x].append(y)
    out = []
    for key in sorted(cells):
        if len(others) == 1:
            label = _label_value(key[0])  # the legend's title names the key
        else:
            label = ", ".join(f"{k}={_label_value(v)}" for k, v in zip(others, key, strict=True)) or metric
        xs = sorted(cells[key])
        means, halves, ns = [], [], []
        for x in xs:
            ys = cells[key][x]
            means.append(statistics.fmean(ys))
            ns.append(len(ys))
            halves.append(
                t_quantile(len(ys) - 1) * statistics.stdev(ys) / math.sqrt(len(ys)) if len(ys) > 1 else 0.0
            )
        out.append(Series(label, tuple(xs), tuple(means), tuple(halves), tuple(ns)))
    return out


def _spans_decades(values: Sequence[float]) -> bool:
    pos = [v for v in values if v > 0]
    return len(pos) >= 2 and max(pos) / min(pos) >= 10  # a decade or more: log axis


def plot(
    data: list[Series],
    x_label: str,
    y_label: str,
    title: str,
    out_stem: Path,
    legend_title: str | None = None,
) -> list[Path]:
    """Draw ``data`` and save ``out_stem``.png and .pdf reproducibly; returns the files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.style.context(str(STYLE)):
        fig, ax = plt.subplots()
        markers = "osD^v<>p"
        for i, s in enumerate(data):
            ax.errorbar(
                s.x, s.mean, yerr=s.half_width, label=s.label, marker=markers[i % len(markers)], capsize=3
            )
        xs = [x for s in data for x in s.x]
        ys = [y for s in data for y in s.mean]
        if _spans_decades(xs):
            ax.set_xscale("log")
        if _spans_decades(ys):
            ax.set_yscale("log")
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        ax.set_title(title)
        if len(data) > 1:
            ax.legend(frameon=False, title=legend_title)
        files = []
        for ext, meta in (("png", {"Software": None}), ("pdf", {"CreationDate": None, "Producer": None})):
            path = out_stem.with_suffix(f".{ext}")
            fig.savefig(path, format=ext, metadata=meta)
            files.append(path)
        plt.close(fig)
    return files


def write_report(
    sweep_dir: Path, out_dir: Path, *, x_key: str | None = None, metrics: Sequence[str] | None = None
) -> Path:
    """Figures, caption files and ``report.md`` for the sweep in ``sweep_dir``."""
    grid, rows = load_results(sweep_dir)
    if not rows:
        raise ValueError(f"{sweep_dir / 'results.csv'}: no complete runs")
    x = x_key or (grid[0] if grid else "replication")
    if x not in grid and x != "replication":
        raise ValueError(f"{x}: not a grid key of this sweep (grid: {', '.join(grid) or 'none'})")
    chosen = list(metrics or DEFAULT_METRICS)
    _fill_from_summaries(sweep_dir, rows, chosen)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = sweep_dir.name
    first = _manifest(sweep_dir / rows[0]["run_key"])
    seeds = sorted({int(r["seed"]) for r in rows})
    wall = sum(float(_manifest(sweep_dir / r["run_key"]).get("wall_time_s", 0.0)) for r in rows)
    scenario_text = (sweep_dir / rows[0]["run_key"] / "scenario.json").read_text()
    grid_text = ", ".join(f"`{k}`" for k in grid) or "none"
    lines = [
        f"# {name}",
        "",
        f"{len(rows)} complete runs from `{name}/results.csv`; grid: {grid_text}; "
        f"replications per point: {max(_count_reps(grid, rows).values())}.",
        f"mlssim {first.get('mlssim_version', __version__)}, Python {first.get('python', '?')}; "
        f"total wall time of the runs {wall:.1f} s. Seeds: {', '.join(map(str, seeds[:20]))}"
        + (" …" if len(seeds) > 20 else "")
        + ".",
        "",
        "Each point is the mean over replications with a 95% confidence interval (Student t).",
        "",
    ]
    for metric in chosen:
        data = series(grid, rows, x, metric)
        if not data:
            continue
        stem = out_dir / f"{name}--{metric.replace('.', '_')}"
        y_label = LABELS.get(metric, metric)
        x_label = X_LABELS.get(x, x)
        others = [k for k in grid if k != x]
        legend_title = others[0] if len(others) == 1 else None
        files = plot(data, x_label, y_label, f"{name}: {y_label}", stem, legend_title)
        caption = (
            f"{y_label} against {x} ({name}). Mean over replications, 95% CI. "
            f"Runs: {sweep_dir.name}/results.csv ({len(rows)} runs, seeds {seeds[0]}…{seeds[-1]}); "
            f"regenerate with `mlssim sweep` on the scenario, then `mlssim report`."
        )
        stem.with_suffix(".caption.txt").write_text(caption + "\n")
        lines += [f"## {y_label}", "", f"![{y_label}]({files[0].name})", "", caption, ""]
        lines += ["| series | " + x + " | mean | ± 95% | n |", "|---|---|---|---|---|"]
        for s in data:
            for xv, m, h, n in zip(s.x, s.mean, s.half_width, s.n, strict=True):
                lines.append(f"| {s.label} | {xv:g} | {m:.6g} | {h:.3g} | {n} |")
        lines.append("")
    lines += ["## Scenario (first run, resolved)", "", "```json", scenario_text.strip(), "```", ""]
    report = out_dir / f"{name}.md"
    report.write_text("\n".join(lines))
    return report


def _fill_from_summaries(sweep_dir: Path, rows: list[dict[str, str]], metrics: Sequence[str]) -> None:
    """Metrics that are not ``results.csv`` columns are read from each run's ``summary.json``
    (a dotted path; missing or non-numeric values stay empty)."""
    wanted = [m for m in metrics if rows and m not in rows[0]]
    if not wanted:
        return
    for r in rows:
        summary = json.loads((sweep_dir / r["run_key"] / "summary.json").read_text())
        for m in wanted:
            v: Any = summary
            for part in m.split("."):
                v = v.get(part) if isinstance(v, dict) else None
            r[m] = "" if v is None or isinstance(v, dict | list) else str(v)


def _manifest(folder: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((folder / "manifest.json").read_text()))
    except (OSError, ValueError):
        return {}


def _count_reps(grid: list[str], rows: list[dict[str, str]]) -> dict[tuple[str, ...], int]:
    counts: dict[tuple[str, ...], int] = defaultdict(int)
    for r in rows:
        counts[tuple(r[k] for k in grid)] += 1
    return counts
