"""The impersonation figures with their closed forms drawn (issue 20c): forgeries accepted vs the
victim's update delay, signature rotation never vs on-update, for forged application messages
(``scenarios/wg-impersonation.yaml``) and forged commits (``scenarios/wg-forged-commits.yaml``).

The closed form: forgeries go out at ``rate`` per second from the compromise, and are accepted
until the victim's rotating update (``on-update``: after ``victim_update_after`` s) or its removal
(``remove_after`` s), whichever comes first: rate × min(delay, remove_after) with rotation, rate ×
remove_after without. The rates and times are read from the scenarios, not typed here. Each point
is the mean over all runs (none dropped) with its Student-t 95 % interval. Usage, after both sweeps:

    python benchmarks/impersonation_closed_form.py --runs runs --out reports/impersonation
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from mlssim.report.stats import mean_t
from mlssim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
DELAY = "adversary.compromises[1].victim_update_after"
ROTATION = "adversary.signature_rotation"
#: (scenario, metric, what is forged, the impersonate rate's key)
PANELS = (
    ("wg-impersonation", "healing.impersonation.forged_accepted", "application messages", "app_rate"),
    ("wg-forged-commits", "healing.impersonation.commits_won", "commits", "commit_rate"),
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=Path, default=Path("runs"), help="folder holding both sweeps")
    ap.add_argument("--out", type=Path, default=Path("reports/impersonation"))
    args = ap.parse_args()
    plt.style.use(ROOT / "mlssim" / "report" / "mlssim.mplstyle")
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.8))
    rows_md = [
        "| forged | rotation | delay (s) | mean accepted | 95 % interval | n | closed form |",
        "|---|---|---|---|---|---|---|",
    ]
    counts = []
    reps: set[int] = set()
    for ax, (name, metric, what, rate_key) in zip(axes, PANELS, strict=True):
        sc = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
        victim = sc.adversary.compromises[1]
        assert victim.impersonate is not None and victim.remove_after is not None
        rate = float(getattr(victim.impersonate, rate_key))
        removal = float(victim.remove_after)
        by: dict[tuple[str, float], list[float]] = defaultdict(list)
        with (args.runs / name / "results.csv").open() as f:
            for row in csv.DictReader(f):
                if row["status"] != "complete":
                    raise SystemExit(f"{name}: run {row['run_key']} is {row['status']}: every run counts")
                by[(row[ROTATION], float(row[DELAY]))].append(float(row[metric]))
        counts.append(sum(len(v) for v in by.values()))
        reps.update(len(v) for v in by.values())
        for policy, colour, marker in (("never", "C0", "o"), ("on-update", "C1", "s")):
            xs = sorted(d for p, d in by if p == policy)
            est = [mean_t(by[(policy, x)]) for x in xs]
            ax.errorbar(
                xs,
                [e.value for e in est],
                yerr=[[e.value - e.low for e in est], [e.high - e.value for e in est]],
                fmt=marker,
                color=colour,
                capsize=3,
                label=f"{policy}, simulated",
            )
            grid = [min(xs) + i * (max(xs) - min(xs)) / 100 for i in range(101)]
            closed = [rate * (min(x, removal) if policy == "on-update" else removal) for x in grid]
            ax.plot(grid, closed, ":", color=colour, label=f"{policy}, closed form")
            for x, e in zip(xs, est, strict=True):
                cf = rate * (min(x, removal) if policy == "on-update" else removal)
                rows_md.append(
                    f"| {what} | {policy} | {x:g} | {e.value:.3g} | [{e.low:.3g}, {e.high:.3g}] | "
                    f"{len(by[(policy, x)])} | {cf:.3g} |"
                )
        ax.set_xlabel("victim's update delay (s)")
        ax.set_ylabel(f"forged {what} accepted")
        ax.set_title(f"{what}: {rate:g}/s, removal at {removal:g} s")
        ax.set_ylim(bottom=0)
    axes[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / "impersonation--closed-form"
    fig.savefig(stem.with_suffix(".png"), dpi=150, metadata={"Software": None})  # reproducible bytes
    fig.savefig(stem.with_suffix(".pdf"), metadata={"CreationDate": None, "Producer": None})
    caption = " ".join(
        [
            "Forgeries accepted with a stolen signature key vs the victim's update delay, signature",
            "rotation never vs on-update; an insider keeps the group key. Left: forged application",
            f"messages (scenarios/wg-impersonation.yaml, {counts[0]} runs); right: forged commits won at",
            f"the ordering DS (scenarios/wg-forged-commits.yaml, {counts[1]} runs);",
            f"{'/'.join(str(r) for r in sorted(reps))} paired replications per point (common random",
            "numbers)"
            + (" (a quick set: fewer than 20)," if min(reps) < 20 else ",")
            + " mean over all runs with its Student-t 95%",
            "interval. Dotted: the closed form, rate x min(delay, removal) with rotation, rate x removal",
            "without (rates and removal time read from the scenarios). Model: suite 1 (model family), no",
            "rate limits, processing time not simulated, the creation tree. Regenerate: mlssim sweep",
            "scenarios/wg-impersonation.yaml --jobs 2 --out runs; mlssim sweep",
            "scenarios/wg-forged-commits.yaml --jobs 2 --out runs; python",
            "benchmarks/impersonation_closed_form.py --runs runs --out reports/impersonation.",
        ]
    )
    stem.with_suffix(".caption.txt").write_text(caption + "\n")
    (args.out / "impersonation--closed-form.md").write_text(
        "# Impersonation beside its closed form\n\n" + caption + "\n\n" + "\n".join(rows_md) + "\n"
    )
    print("\n".join(rows_md))


if __name__ == "__main__":
    main()
