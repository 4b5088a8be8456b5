"""WG figure (g): detection time of a misbehaving DS vs the application message rate, for
equivocation and withholding, by the epoch authenticator check (two check shares) and by
RFC 9420's rules alone (issue 20b; docs/misbehaving-ds.md).

Reads a sweep of ``scenarios/wg-misbehaving-ds.yaml`` (``mlssim sweep … --out runs``) and draws,
per point, the median time to the first detecting member over all runs, a run never detected
counting as infinitely late (so no average over the detected runs only), with the distribution-
free 95 % interval of the median from binomial order statistics, beside the closed form; and
the share of runs detected. Usage:

    python benchmarks/misbehaving_ds.py runs/wg-misbehaving-ds --out reports/misbehaving-ds
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter

from mlssim.scenario import load_scenario

KIND = "ds_misbehaviour.events[0].kind"
RATE = "groups[0].workload.app_rate"
SHARE = "ds_misbehaviour.check.share"


def _binom_cdf(k: int, n: int) -> float:
    return sum(math.comb(n, i) for i in range(k + 1)) / 2**n


def median_interval(xs: list[float]) -> tuple[float, float, float]:
    """Median and its 95 % order-statistic interval (inf where the runs never detected)."""
    s = sorted(xs)
    n = len(s)
    med = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
    j = max(k for k in range(n // 2 + 1) if _binom_cdf(k - 1, n) <= 0.025) if n >= 6 else 0
    lo = s[max(j - 1, 0)]
    hi = s[min(n - j, n - 1)]
    return med, lo, hi


def hypo_median(a: float, b: float, shift: float) -> float:
    """Median of shift + Exp(a) + Exp(b) (a != b), by bisection of its CDF."""

    def cdf(t: float) -> float:
        if t <= 0:
            return 0.0
        if abs(a - b) < 1e-12 * max(a, b):  # Erlang(2)
            return 1 - math.exp(-a * t) * (1 + a * t)
        return 1 - (b * math.exp(-a * t) - a * math.exp(-b * t)) / (b - a)

    lo, hi = 0.0, 1e6
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) < 0.5 else (lo, mid)
    return shift + lo


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sweep", type=Path)
    ap.add_argument("--scenario", type=Path, default=Path("scenarios/wg-misbehaving-ds.yaml"))
    ap.add_argument("--out", type=Path, default=Path("reports/misbehaving-ds"))
    args = ap.parse_args()
    sc = load_scenario(args.scenario)
    assert sc.ds_misbehaviour is not None and sc.ds_misbehaviour.check is not None
    g = sc.groups[0]
    ev = sc.ds_misbehaviour.events[0]
    n_t = max(1, round((ev.share or 0.5) * g.size))  # the targets (B's side, or the withheld)
    n_o = g.size - n_t
    tol = sc.ds_misbehaviour.check.lag_tolerance
    commits = n_o * g.workload.update_rate  # commits of the side the DS still serves
    cells: dict[tuple[str, float, float], list[dict[str, Any]]] = {}
    seeds: set[str] = set()
    with (args.sweep / "results.csv").open(newline="") as f:
        for r in csv.DictReader(f):
            if r["status"] != "complete":
                continue
            seeds.add(r["seed"])
            s = json.loads((args.sweep / r["run_key"] / "summary.json").read_text())["ds_misbehaviour"]
            cells.setdefault((r[KIND], float(r[RATE]), float(r[SHARE])), []).append(s["detection"])
    kinds = sorted({k for k, _, _ in cells})
    rates = sorted({x for _, x, _ in cells})
    shares = sorted({q for _, _, q in cells}, reverse=True)
    runs = sum(len(v) for v in cells.values())
    reps = min(len(v) for v in cells.values())
    fig, axes = plt.subplots(2, len(kinds), figsize=(5.2 * len(kinds), 7.5), squeeze=False)
    table = [
        "| misbehaviour | app rate (/s/member) | by | runs | detected | median first (s) | 95 % CI "
        "| closed-form median (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for col, kind in enumerate(kinds):
        top, bottom = axes[0][col], axes[1][col]
        series: list[tuple[str, str, float]] = [(f"check, share {q:g}", "check", q) for q in shares]
        series.append(("RFC 9420 rules alone", "mls", shares[0]))
        for label, by, q in series:
            meds, los, his, det, xs = [], [], [], [], []
            for x in rates:
                ds = cells[(kind, x, q)]
                times = [d[by]["first_s"] if d[by]["first_s"] is not None else math.inf for d in ds]
                med, lo, hi = median_interval(times)
                meds.append(med)
                los.append(lo)
                his.append(hi)
                det.append(sum(d[by]["detected"] for d in ds) / len(ds))
                xs.append(x)
                if kind == "equivocate":
                    closed = math.log(2) / (q * n_t * x) if by == "check" else math.inf
                else:
                    closed = hypo_median(commits, q * n_t * x, tol) if by == "check" else math.inf
                table.append(
                    f"| {kind} | {x:g} | {label} | {len(ds)} | {det[-1]:.2f} | {med:.4g} "
                    f"| [{lo:.4g}, {hi:.4g}] | {closed:.4g} |"
                )
            fin = [i for i, m in enumerate(meds) if math.isfinite(m)]
            if fin:
                line = top.plot([xs[i] for i in fin], [meds[i] for i in fin], "o-", label=f"{label}: median")
                top.fill_between(
                    [xs[i] for i in fin],
                    [los[i] for i in fin],
                    [min(his[i], 2 * max(meds[j] for j in fin) + 1e3) for i in fin],
                    alpha=0.15,
                    color=line[0].get_color(),
                )
            bottom.plot(xs, det, "o-", label=label)
            if by == "check":
                lo_x, hi_x = min(rates), max(rates)
                fx = [lo_x * (hi_x / lo_x) ** (k / 40) for k in range(41)]
                cf = [
                    math.log(2) / (q * n_t * x)
                    if kind == "equivocate"
                    else hypo_median(commits, q * n_t * x, tol)
                    for x in fx
                ]
                top.plot(fx, cf, ":", color="grey")
        top.plot([], [], ":", color="grey", label="closed form (median)")
        top.set_xscale("log")
        top.set_yscale("log")
        top.set_title(f"{kind}: time to first detecting member")
        top.set_ylabel("median time from the misbehaviour (s)")
        top.legend(fontsize=7)
        bottom.set_xscale("log")
        for ax in (top, bottom):  # the swept rates as ticks, without overlapping minor labels
            ax.set_xticks(sorted(rates), [f"{r:g}" for r in sorted(rates)])
            ax.xaxis.set_minor_formatter(NullFormatter())
        bottom.set_ylim(-0.05, 1.05)
        bottom.set_xlabel("application messages per member per second")
        bottom.set_ylabel("share of runs detected")
        bottom.set_title(f"{kind}: runs detected before the run's end")
        bottom.legend(fontsize=7)
    fig.tight_layout()
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / "wg-misbehaving-ds--detection"
    fig.savefig(stem.with_suffix(".png"), dpi=120, metadata={"Software": None})  # reproducible bytes
    fig.savefig(stem.with_suffix(".pdf"), metadata={"CreationDate": None, "Producer": None})
    caption = (
        f"Scenario scenarios/wg-misbehaving-ds.yaml ({g.size} members, hub at alpha; window from "
        f"t={ev.at:g} s for {ev.duration:g} s; {n_t} targets). {runs} runs, {reps} replications per point, "
        f"paired seeds (sweep.seeds: common; {len(seeds)} seeds). Top: median time from the misbehaviour's "
        "first act (equivocation: the second commit's acceptance) to the first member detecting, runs never "
        "detected counted as infinitely late (no average over detected runs); band: 95 % distribution-free "
        "interval of the median (binomial order statistics); a point is missing where over half the runs "
        "never detected. Dotted: closed form, equivocation ln2/(q n_t lambda), withholding the median of "
        f"tau + Exp({n_o} x update rate) + Exp(q n_t lambda), tau = {tol:g} s (network latency ignored). "
        "Bottom: share of runs detected. Regenerate: mlssim sweep scenarios/wg-misbehaving-ds.yaml "
        "--jobs 1 --out runs; python benchmarks/misbehaving_ds.py runs/wg-misbehaving-ds "
        "--out reports/misbehaving-ds"
    )
    stem.with_suffix(".caption.txt").write_text(caption + "\n")
    (args.out / "wg-misbehaving-ds.md").write_text(
        "# WG figure (g): detecting a misbehaving DS\n\n![detection](wg-misbehaving-ds--detection.png)\n\n"
        + caption
        + "\n\n"
        + "\n".join(table)
        + "\n"
    )
    print("\n".join(table))


if __name__ == "__main__":
    main()
