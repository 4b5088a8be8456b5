"""What the post-quantum KEM's price does to the processing figure (issue 19): the hybrid 0xF001
with processing time on, its ML-KEM priced at this project's pure-Python implementation
(``scenarios/wg-processing.yaml``, ``hardware.kem_cost: measured``, an upper bound) and at a
published native one (``scenarios/wg-processing-native.yaml``, ``kem_cost: native``), beside
suite 1 with processing on and 0xF001 with processing off (the access links alone), on phones and
on laptops.

The two sweeps share their seed, so replication r of a point is the same seed in both: the table
gives native − measured run for run. Every complete run counts; a run without a value (a group
that never committed has no collision rate) is counted in the table's ``no value`` column, and
``accepted`` is the mean number of commits accepted per run (the creation commit included), so a
group that barely commits is visible. Usage, after both sweeps:

    python benchmarks/processing_kem_price.py --runs runs --out reports/processing
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from mlssim.report.data import load_sweep
from mlssim.report.stats import mean_t

ROOT = Path(__file__).resolve().parent.parent
SIZE, SUITE, MIX, ON = "groups[0].size", "crypto.suite", "hardware.mix.clients", "hardware.processing_time"
METRICS = (
    ("commits.collisions_per_1000_attempts", "collisions per 1,000 attempts"),
    ("convergence_s.p95", "commit → all merged p95 (s)"),
)
PROFILES = (("phone", "phones"), ("laptop", "laptops"))
#: (label, sweep, filter on the sweep's rows)
SERIES: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("suite 1, processing on", "wg-processing", {SUITE: "1", ON: "true"}),
    ("0xF001, processing off (links only)", "wg-processing", {SUITE: "61441", ON: "false"}),
    ("0xF001, on, pure-Python ML-KEM (measured)", "wg-processing", {SUITE: "61441", ON: "true"}),
    ("0xF001, on, native ML-KEM (published)", "wg-processing-native", {}),
)


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=Path, default=Path("runs"), help="folder holding both sweeps")
    ap.add_argument("--out", type=Path, default=Path("reports/processing"))
    args = ap.parse_args()
    sweeps = {}
    for name in ("wg-processing", "wg-processing-native"):
        if not (args.runs / name / "results.csv").is_file():
            raise SystemExit(
                f"{args.runs / name}: no results.csv "
                f"(run: mlssim sweep scenarios/{name}.yaml --out {args.runs})"
            )
        sweeps[name] = load_sweep(args.runs / name)
    sizes = sorted({int(r[SIZE]) for r in sweeps["wg-processing-native"].rows})
    # (series, profile, size) -> {replication: row}
    cells: dict[tuple[str, str, int], dict[int, dict[str, Any]]] = defaultdict(dict)
    for label, name, where in SERIES:
        for r in sweeps[name].rows:
            if int(r[SIZE]) in sizes and all(str(r[k]).lower() == v for k, v in where.items()):
                profile = next(iter(json.loads(str(r[MIX]))))  # {"phone": 1} -> phone
                cells[(label, profile, int(r[SIZE]))][r["replication"]] = r
    plt.style.use(ROOT / "mlssim" / "report" / "mlssim.mplstyle")
    fig, axes = plt.subplots(len(METRICS), len(PROFILES), figsize=(10, 7.2), sharex=True)
    table = [
        "| profile | series | size | metric | mean | 95 % interval | n | no value | accepted per run |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    paired = [
        "| profile | size | metric | native − measured | 95 % interval | pairs |",
        "|---|---|---|---|---|---|",
    ]
    reps: set[int] = set()
    for row_i, (metric, mlabel) in enumerate(METRICS):
        for col, (mix, pname) in enumerate(PROFILES):
            ax = axes[row_i][col]
            for i, (label, _name, _where) in enumerate(SERIES):
                xs, ys, lo, hi = [], [], [], []
                for n in sizes:
                    runs = cells[(label, mix, n)]
                    if not runs:  # a point one of the sweeps has not run (yet)
                        continue
                    reps.add(len(runs))
                    vals = [v for r in runs.values() if (v := _num(r.get(metric))) is not None]
                    acc = statistics.fmean(float(r["commits.accepted"]) for r in runs.values())
                    if not vals:
                        table.append(
                            f"| {pname} | {label} | {n} | {metric} | – | – | 0 | {len(runs)} | {acc:.1f} |"
                        )
                        continue
                    e = mean_t(vals)
                    interval = f"[{e.low:.4g}, {e.high:.4g}]" if e.low is not None else "n/a"
                    table.append(
                        f"| {pname} | {label} | {n} | {metric} | {e.value:.4g} | {interval} | {len(vals)} | "
                        f"{len(runs) - len(vals)} | {acc:.1f} |"
                    )
                    xs.append(n)
                    ys.append(e.value)
                    lo.append(e.value - (e.low if e.low is not None else e.value))
                    hi.append((e.high if e.high is not None else e.value) - e.value)
                ax.errorbar(xs, ys, yerr=[lo, hi], marker="osD^"[i], capsize=3, label=label)
            for n in sizes:
                native, measured = cells[(SERIES[3][0], mix, n)], cells[(SERIES[2][0], mix, n)]
                diffs = [
                    a - b
                    for rep in sorted(native.keys() & measured.keys())
                    if (a := _num(native[rep].get(metric))) is not None
                    and (b := _num(measured[rep].get(metric))) is not None
                ]
                if len(diffs) >= 2:
                    e = mean_t(diffs)
                    paired.append(
                        f"| {pname} | {n} | {metric} | {e.value:+.4g} | "
                        f"[{e.low:+.4g}, {e.high:+.4g}] | {len(diffs)} |"
                    )
            ax.set_xscale("log")
            ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
            ax.minorticks_off()
            if metric.startswith("convergence"):
                ax.set_yscale("log")
            ax.set_title(f"{pname}")
            ax.set_ylabel(mlabel)
            if row_i == len(METRICS) - 1:
                ax.set_xlabel("group size (members)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0.0, 0.06, 1.0, 1.0))  # room for the legend below the panels
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / "processing--kem-price"
    fig.savefig(stem.with_suffix(".png"), dpi=150, metadata={"Software": None})  # reproducible bytes
    fig.savefig(stem.with_suffix(".pdf"), metadata={"CreationDate": None, "Producer": None})
    plt.close(fig)
    quick = " (a quick set: fewer than 20)" if min(reps) < 20 else ""
    caption = (
        "Commit collisions per 1,000 attempts (top) and commit → all merged p95 (bottom, log) against "
        "group size, on phones (left) and laptops (right): suite 1 with processing time on, the hybrid "
        "0xF001 with processing off (links only), and 0xF001 with processing on, its ML-KEM priced at "
        "this project's pure-Python implementation (hardware.kem_cost: measured, "
        "scenarios/wg-processing.yaml) "
        "and at a published native one (kem_cost: native, scenarios/wg-processing-native.yaml; AWS-LC "
        "figures, mlssim/calibration/native_pq.py). One thing changes between the two 0xF001 'on' "
        f"series: the KEM's price. {'/'.join(str(r) for r in sorted(reps))} replications per point{quick}, "
        "the same seeds in both sweeps (paired); mean over the runs with a value, Student-t 95% interval; "
        "runs without a value (no attempt, no merged commit) and commits accepted per run are in the "
        "table (processing--kem-price.md). Model: one hub-ordered group over two providers, one path "
        "commit per second per group, the built-in phone and laptop profiles (links and cpu factors), "
        "the creation tree, the DS's processing takes no time. Regenerate: mlssim sweep "
        "scenarios/wg-processing.yaml --jobs 2 --out runs; mlssim sweep scenarios/wg-processing-native.yaml "
        "--jobs 2 --out runs; python benchmarks/processing_kem_price.py --runs runs --out reports/processing."
    )
    stem.with_suffix(".caption.txt").write_text(caption + "\n")
    md = [
        "# The post-quantum KEM's price in the processing figure",
        "",
        "![processing--kem-price](processing--kem-price.png)",
        "",
        caption,
        "",
        "## Native − measured, run for run (same seed)",
        "",
        *paired,
        "",
        "## Every series",
        "",
        *table,
        "",
    ]
    (args.out / "processing--kem-price.md").write_text("\n".join(md))
    print("\n".join(paired))


if __name__ == "__main__":
    main()
