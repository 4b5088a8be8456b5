"""``mlssim report``: figures, captions and a Markdown report from a sweep's run folders.

Reads only ``<sweep>/results.csv`` and the run folders it names. Every sweep shape gets an
answer: a numeric x axis draws a line per combination of the other grid keys; a categorical one
draws points per category and, when replications share their seeds (``sweep.seeds: common``),
the paired differences against the first category; a sweep without a grid gives a pooled table.
Every figure's numbers are also a table in the report, and every caption names the runs, the
seeds, the statistic and its interval method, and the model choices the numbers depend on.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from .data import (
    Series,
    Sweep,
    check_name,
    load_sweep,
    numeric_axis,
    paired_along,
    paired_differences,
    pooled,
    series,
    short_key,
    without_value,
)
from .figures import DEFAULT_METRICS, label_of, note_of, plot
from .stats import BOOTSTRAP_RESAMPLES
from .survival import healing_survival

__all__ = ["report_command", "write_report", "QUICK"]

#: replications per point below which a figure is a quick set (the WG figures use at least 20)
QUICK = 20
METHOD = {
    "mean": "mean over replications with its Student-t 95% interval",
    "median": (
        f"median over replications with its percentile-bootstrap 95% interval ({BOOTSTRAP_RESAMPLES} "
        "resamples)"
    ),
}


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.6g}"


def _interval(e_low: float | None, e_high: float | None) -> str:
    return "n/a" if e_low is None or e_high is None else f"[{e_low:.6g}, {e_high:.6g}]"


def _model_note(scenario: dict[str, Any], grid: Sequence[str] = ()) -> str:
    """The model choices every number of the sweep depends on, from one run's resolved scenario;
    a choice the grid varies is named as varying (one run's value would be wrong for the rest)."""
    crypto = scenario.get("crypto", {})
    net = scenario.get("network", {})
    rates = [k for k in ("client_ds", "ds_ds", "ds_as") if (net.get(k) or {}).get("bandwidth")]
    suite = (
        "the suite of each series (crypto.suite varies)"
        if "crypto.suite" in grid
        else f"suite {crypto.get('suite')}"
    )
    family = "crypto.family varies" if "crypto.family" in grid else f"{crypto.get('family')} family"
    links = (
        "with the rates the grid sets"
        if any(k.startswith("network.") and "bandwidth" in k for k in grid)
        else ("rate-limited on " + ", ".join(rates) if rates else "without rate limits")
    )
    hw = scenario.get("hardware")
    if hw:
        links = "from the clients' hardware profiles on client–DS links (rates each way), DS–DS " + (
            "rate-limited" if (net.get("ds_ds") or {}).get("bandwidth") else "without rate limits"
        )
    if "hardware.processing_time" in grid:
        processing = "processing time on or off per series (on: counted work × calibrated cost × cpu_factor)"
    elif hw and hw.get("processing_time"):
        cal = hw.get("calibration", "default")
        processing = (
            f"processing time on: counted work × calibrated cost (calibration {cal}) "
            "× the client's cpu_factor"
        )
    else:
        processing = "processing time not simulated (a message is processed the instant it arrives)"
    if not processing.startswith("processing time not"):
        ds = (hw or {}).get("ds")
        processing += (
            f"; each DS a queue of {ds.get('workers', 1)} worker(s) whose jobs (ordering, building and "
            "copying the fan-out) cost counted work (hardware.ds)"
            if ds
            else "; the DS's processing takes no time"
        )
    pq = "crypto.suite" in grid or int(crypto.get("suite") or 0) >= 0xF000
    if pq and not processing.startswith("processing time not"):
        processing += (
            "; a post-quantum KEM is priced at a published native ML-KEM (hardware.kem_cost: native, "
            "mlssim/calibration/native_pq.py)"
            if (hw or {}).get("kem_cost") == "native"
            else "; a post-quantum KEM is priced at this project's pure-Python ML-KEM "
            "(docs/model.md: far slower than a native one)"
        )
    steady = [g.get("steady_state") for g in scenario.get("groups", []) if g.get("steady_state")]
    if steady:
        st = steady[0]
        tree = (
            "each group starts on a steady-state tree: after its creation commit the members replay, "
            "unmeasured, the rounds that shape the tree of a random history of "
            f"{st.get('rounds_per_member', 4.0):g} N rounds ({st.get('proposals_per_commit', 1)} Update "
            "proposal(s) by random members per commit by another random member; groups[].steady_state), "
            "then the workload is measured."
        )
    else:
        tree = "each group's tree is built by one Add commit of all its initial members, then the workload."
    return f"Model: {suite} ({family}); links {links}; {processing}; {tree}"


def _runs_note(sweep: Sweep, paired: bool) -> str:
    reps = Counter(tuple(str(r[k]) for k in sweep.grid) for r in sweep.rows)
    lo, hi = min(reps.values()), max(reps.values())
    seeds = sorted({r["seed"] for r in sweep.rows})
    quick = f" A quick set: fewer than {QUICK} replications per point." if lo < QUICK else ""
    lost = (
        f"; {sweep.incomplete} listed runs did not complete and are not included" if sweep.incomplete else ""
    )
    return (
        f"Runs: {sweep.name}/results.csv, {len(sweep.rows)} complete{lost}; "
        f"{lo if lo == hi else f'{lo}–{hi}'} replications per point; "
        f"seeds {'paired across points (common random numbers)' if paired else 'independent per point'}: "
        f"{', '.join(map(str, seeds[:4]))}{' …' if len(seeds) > 4 else ''}.{quick}"
    )


#: grid points a caption names one by one before it refers to the tables
_GAPS_LISTED = 8


def _missing_note(sweep: Sweep, metric: str) -> str:
    """What a point's average leaves out: runs with no number for ``metric`` (a metric of a
    design the run does not have, no commit attempt for a rate, no merged commit for a
    percentile), counted point by point."""
    gaps = without_value(sweep, metric)
    if not gaps:
        return ""
    total = sum(n for _, n, _ in gaps)
    listed = "; ".join(f"{where}: {n} of {m}" for where, n, m in gaps[:_GAPS_LISTED])
    more = len(gaps) - _GAPS_LISTED
    rest = f"; and {more} more points (the report's tables)" if more > 0 else ""
    return (
        f"{total} complete runs have no value here (nothing to count in them: no attempt for a rate, "
        f"no merged commit or healed compromise for a percentile or mean, or a metric of a design "
        f"the run does not have), and their points average only the others (n in the report's "
        f"table); a point with none left is not drawn: {listed}{rest}. "
    )


def _table(data: list[Series], x_key: str) -> list[str]:
    lines = [f"| series | {x_key} | value | 95% interval | n |", "|---|---|---|---|---|"]
    for s in data:
        for i, xv in enumerate(s.x):
            lo = s.low[i] if s.low else None
            hi = s.high[i] if s.high else None
            lines.append(f"| {s.label} | {xv} | {s.mean[i]:.6g} | {_interval(lo, hi)} | {s.n[i]} |")
    return lines


def _paired_seeds(sweep: Sweep) -> bool:
    seeds: dict[int, set[int]] = {}
    for r in sweep.rows:
        seeds.setdefault(r["replication"], set()).add(r["seed"])
    return bool(sweep.grid) and all(len(v) == 1 for v in seeds.values())


def report_command(
    sweep_dir: Path,
    x_key: str | None,
    metrics: Sequence[str],
    stat: str,
    survival: bool,
    pair: str | None = None,
) -> str:
    """The ``mlssim report`` command line for these options, as a caption names it (never a
    path of this machine)."""
    where = f"runs/{sweep_dir.name}" if sweep_dir.is_absolute() else sweep_dir.as_posix()
    return " ".join(
        [f"mlssim report {where}"]
        + ([f"--x {x_key}"] if x_key else [])
        + [f"--metric {m}" for m in metrics]
        + ([f"--stat {stat}"] if stat != "mean" else [])
        + (["--survival"] if survival else [])
        + ([f"--pair {pair}"] if pair else [])
    )


def write_report(
    sweep_dir: Path,
    out_dir: Path,
    *,
    x_key: str | None = None,
    metrics: Sequence[str] | None = None,
    stat: str = "mean",
    survival: bool = False,
    command: str = "",
    regenerate: str = "",
    pair: str | None = None,
) -> Path:
    """Figures, caption files and ``<name>.md`` for the sweep in ``sweep_dir``.

    Captions end with how to regenerate the figure: ``regenerate`` when given (the figure set's
    command), else the sweep and this report's ``command``."""
    sweep = load_sweep(sweep_dir)
    if not sweep.rows:
        raise ValueError(f"{sweep_dir / 'results.csv'}: no complete runs")
    known = sweep.metrics()
    chosen = list(metrics or [m for m in DEFAULT_METRICS if m in known])
    for m in chosen:
        check_name(m, known, "metric")
    x = x_key or (sweep.grid[0] if sweep.grid else None)
    if x is not None:
        check_name(x, sweep.grid, "x key (a grid key of this sweep)")
    if pair is not None:
        check_name(pair, [k for k in sweep.grid if k != x], "--pair key (another grid key of this sweep)")
    out_dir.mkdir(parents=True, exist_ok=True)
    first = sweep.rows[0]
    manifest = json.loads((sweep_dir / first["run_key"] / "manifest.json").read_text())
    scenario = json.loads((sweep_dir / first["run_key"] / "scenario.json").read_text())
    paired = _paired_seeds(sweep)
    runs, model = _runs_note(sweep, paired), _model_note(scenario, sweep.grid)
    wall = sum(
        float(json.loads((sweep_dir / r["run_key"] / "manifest.json").read_text()).get("wall_time_s", 0.0))
        for r in sweep.rows
    )
    lines = [
        f"# {sweep.name}",
        "",
        runs,
        "",
        model,
        "",
        f"mlssim {manifest.get('mlssim_version', __version__)}, Python {manifest.get('python', '?')}; "
        f"total wall time of the runs {wall:.1f} s. Each point is the {METHOD[stat]}; a point from "
        "one run has no interval (n/a).",
        "",
    ]
    source = (
        f"scenarios/{sweep.name}.yaml" if Path("scenarios", f"{sweep.name}.yaml").is_file() else "<scenario>"
    )
    regen = regenerate or (
        f"mlssim sweep {source} --jobs 2 --out runs; " + (command or f"mlssim report runs/{sweep.name}")
    )
    for metric in chosen:
        label = label_of(metric)
        if x is None:
            lines += _pooled_section(sweep, metric, label)
            continue
        notes = f"{_missing_note(sweep, metric)}{runs} {model} Regenerate: {regen}."
        lines += _figure_section(sweep, x, metric, label, stat, out_dir, notes)
        if pair is not None:
            lines += _paired_along_section(sweep, pair, x, metric, label, out_dir, notes)
    if survival:
        lines += healing_survival(sweep, x, out_dir, f"{runs} {model} Regenerate: {regen}.")
    lines += [
        "## Scenario (first run, resolved)",
        "",
        "```json",
        json.dumps(scenario, indent=2, sort_keys=True),
        "```",
        "",
    ]
    report = out_dir / f"{sweep.name}.md"
    report.write_text("\n".join(lines))
    return report


def _pooled_section(sweep: Sweep, metric: str, label: str) -> list[str]:
    got = pooled(sweep, metric)
    if got is None:
        return [f"## {label}", "", "No run has this metric.", ""]
    mean, median = got
    return [
        f"## {label}",
        "",
        "| metric | mean | 95% interval (Student t) | n | median | 95% interval (bootstrap) |",
        "|---|---|---|---|---|---|",
        f"| `{metric}` | {_fmt(mean.value)} | {_interval(mean.low, mean.high)} | {mean.n} | "
        f"{_fmt(median.value)} | {_interval(median.low, median.high)} |",
        "",
    ]


def _figure_section(
    sweep: Sweep, x: str, metric: str, label: str, stat: str, out_dir: Path, notes: str
) -> list[str]:
    data = series(sweep, x, metric, stat)
    if not data:
        return [f"## {label}", "", f"No complete run has a number for `{metric}`.", ""]
    others = [k for k in sweep.grid if k != x]
    stem = out_dir / f"{sweep.name}--{metric.replace('.', '_')}"
    files = plot(
        data, label_of(x), label, f"{sweep.name}: {label}", stem, others[0] if len(others) == 1 else None
    )
    note = note_of(metric)
    caption = f"{label} against {x} ({sweep.name}); {METHOD[stat]}. {note + ' ' if note else ''}{notes}"
    stem.with_suffix(".caption.txt").write_text(caption + "\n")
    lines = [f"## {label}", "", f"![{label}]({files[0].name})", "", caption, "", *_table(data, x), ""]
    diff = None if numeric_axis(sweep.rows, x) else paired_differences(sweep, x, metric)
    if diff is not None:
        ref, dseries = diff
        dstem = stem.with_name(stem.name + "--paired")
        dlabel = f"{label}: difference against {ref}"
        dfiles = plot(
            dseries,
            label_of(x),
            _delta(label),
            f"{sweep.name}: paired differences against {ref}",
            dstem,
            zero_line=True,
        )
        dcap = (
            f"{dlabel} ({sweep.name}): per replication, the run at each {x} minus the run with the same "
            f"seed at {ref}; mean of the differences with its Student-t 95% interval. {notes}"
        )
        dstem.with_suffix(".caption.txt").write_text(dcap + "\n")
        lines += [f"### Paired differences against {ref}", "", f"![{dlabel}]({dfiles[0].name})", "", dcap, ""]
        lines += [*_table(dseries, x), ""]
    return lines


def _paired_along_section(
    sweep: Sweep, pair: str, x: str, metric: str, label: str, out_dir: Path, notes: str
) -> list[str]:
    """``--pair``: the difference each category of ``pair`` makes against its first, run for
    run on the same seed, drawn against ``x`` (what one design changes, with the tighter
    interval that common random numbers give)."""
    got = paired_along(sweep, pair, x, metric)
    if got is None:
        return [f"### Paired differences along {pair}", "", "The seeds are not paired: no differences.", ""]
    ref, data = got
    short = short_key(pair).split("[")[0]
    stem = out_dir / f"{sweep.name}--{metric.replace('.', '_')}--paired-{short}"
    dlabel = f"{label}: difference against {pair} = {ref}"
    title = f"{sweep.name}: {short}, paired differences against {ref}"
    files = plot(data, label_of(x), _delta(label), title, stem, zero_line=True)
    caption = (
        f"{dlabel}, against {x} ({sweep.name}): per replication and {x}, the run at each other value "
        f"of {pair} minus the run with the same seed at {ref}; mean of the differences with its "
        f"Student-t 95% interval. {note + ' ' if (note := note_of(metric)) else ''}{notes}"
    )
    stem.with_suffix(".caption.txt").write_text(caption + "\n")
    return [f"### Paired differences along {pair}", "", f"![{dlabel}]({files[0].name})", "", caption, "",
            *_table(data, x), ""]  # fmt: skip


def _delta(label: str) -> str:
    """The y label of a difference: ``Δ label``, on two lines when too long for the axis."""
    text = f"Δ {label}"
    if len(text) <= 48:
        return text
    cut = text.rfind(" ", 0, len(text) // 2 + 8)
    return text[:cut] + "\n" + text[cut + 1 :] if cut > 0 else text
