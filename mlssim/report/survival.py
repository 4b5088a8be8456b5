"""Healing as survival: how long a group stays exposed after a compromise, counting the
compromises that never heal (``mlssim report --survival``).

A healing time is censored when the run ends first. Averaging the healed cases only would
drop exactly the slowest ones, so each grid point gets a Kaplan–Meier curve of the time from the
compromise to the first epoch the adversary cannot derive, with the share never healed by the
end of the run. Per run, the group's first compromise is followed (a second entry on the same
device, such as known randomness, changes when that one heals).

Where the scenario makes healing depend only on the victim's own path updates — a Poisson
process at ``update_rate`` r per member, no policy action, update_mode ``commit`` — the
closed form is drawn beside the estimate: exponential with mean 1/r, shifted by D when the
device's randomness is also known for D seconds (its updates in that window do not heal).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from .data import Sweep, label_value
from .figures import STYLE, label_of
from .stats import kaplan_meier

__all__ = ["closed_form", "followed_case", "healing_survival"]


def followed_case(summary_cases: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first compromise that happened (by time, then listing order)."""
    happened = [c for c in summary_cases if c.get("happened")]
    return min(happened, key=lambda c: c["at"]) if happened else None


def closed_form(scenario: dict[str, Any], case: dict[str, Any]) -> tuple[float, float] | None:
    """(r, D) when healing comes only from the victim's own Poisson updates: S(t) = 1 before D,
    exp(−r (t − D)) after. ``None`` where the scenario adds another way to heal or to wait."""
    comps = [c for c in scenario["adversary"]["compromises"] if c["group"] == case["group"]]
    first = [c for c in comps if c["at"] == case["at"] and c["kind"] == case["kind"]]
    if not first or case["kind"] != "member":
        return None
    spec = first[0]
    if spec.get("victim_update_after") is not None or spec.get("remove_after") is not None:
        return None
    groups = scenario["groups"]
    group = next(
        (g for g in groups if g.get("name") == case["group"]), groups[0] if len(groups) == 1 else None
    )
    if group is None:
        return None
    wl = group["workload"]
    if wl.get("update_mode", "commit") != "commit" or not wl.get("update_rate"):
        return None
    shift = 0.0
    for c in comps:
        same = c["member"] == spec["member"] and c.get("instance", 0) == spec.get("instance", 0)
        if c is spec or not same:
            continue
        if c["kind"] == "randomness" and c["at"] == spec["at"]:
            shift = max(shift, float(c["duration"]))
        elif c.get("victim_update_after") is not None or c.get("remove_after") is not None:
            return None
    return float(wl["update_rate"]), shift


def _point(sweep: Sweep, r: dict[str, Any], keys: list[str]) -> tuple[str, ...]:
    return tuple(label_value(str(r[k])) for k in keys)


def healing_survival(sweep: Sweep, x: str | None, out_dir: Path, notes: str) -> list[str]:
    """Kaplan–Meier figures (one per value of the grid keys other than ``x``, a curve per value
    of ``x``) and their table; returns the report's lines."""
    others = [k for k in sweep.grid if k != x]
    times: dict[tuple[str, ...], dict[str, list[tuple[float, bool]]]] = defaultdict(lambda: defaultdict(list))
    forms: dict[tuple[tuple[str, ...], str], set[tuple[float, float] | None]] = defaultdict(set)
    for r in sweep.rows:
        run = sweep.folder / r["run_key"]
        cases = json.loads((run / "summary.json").read_text()).get("healing", {}).get("cases", [])
        case = followed_case(cases)
        if case is None:
            continue
        scenario = json.loads((run / "scenario.json").read_text())
        end = float(scenario["duration"]) + float(scenario.get("drain", 0.0))
        healed = case.get("time_s") is not None and case.get("healed_epoch") is not None
        t = float(case["time_s"]) if healed else end - float(case["at"])
        xv = label_value(str(r[x])) if x else "all runs"
        times[_point(sweep, r, others)][xv].append((t, healed))
        forms[(_point(sweep, r, others), xv)].add(closed_form(scenario, case))
    if not times:
        return ["## Healing survival", "", "No run had a compromise.", ""]
    lines = ["## Healing survival (Kaplan–Meier, censored at the end of each run)", ""]
    for other in sorted(times):
        suffix = "_".join(other).replace(".", "_") or "all"
        stem = out_dir / f"{sweep.name}--healing_survival--{suffix}"
        title = ", ".join(f"{k}={v}" for k, v in zip(others, other, strict=True)) or sweep.name
        short = (
            ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in zip(others, other, strict=True)) or sweep.name
        )
        rows = _draw(times[other], forms, other, stem, x, short)
        caption = (
            f"Share of compromises not yet healed against time since the compromise ({sweep.name}; {title}); "
            "Kaplan–Meier estimate per value of "
            f"{x or 'the sweep'}, compromises not healed by the end of their run counted as censored "
            "(ticks), never dropped; dashed: closed form where healing comes only from the victim's own "
            "Poisson updates (exponential, mean 1/r, shifted by the seconds its randomness stays known), "
            f"which assumes each of its update events commits at once. {notes}"
        )
        stem.with_suffix(".caption.txt").write_text(caption + "\n")
        lines += [
            f"### {title}",
            "",
            f"![healing survival]({stem.with_suffix('.png').name})",
            "",
            caption,
            "",
        ]
        lines += [
            f"| {x or 'point'} | cases | healed | never healed by the end | KM median (s) "
            "| closed-form median (s) |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    return lines


def _median(curve: list[tuple[float, float]]) -> float | None:
    return next((t for t, s in curve if s <= 0.5), None)


def _draw(
    by_x: dict[str, list[tuple[float, bool]]],
    forms: dict[tuple[tuple[str, ...], str], set[tuple[float, float] | None]],
    other: tuple[str, ...],
    stem: Path,
    x: str | None,
    title: str,
) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    with plt.style.context(str(STYLE)):
        fig, ax = plt.subplots()
        horizon = max(t for pts in by_x.values() for t, _ in pts)
        keys = sorted(by_x, key=lambda v: (float(v) if _is_float(v) else math.inf, v))
        own = {xv: next(iter(forms[(other, xv)])) for xv in keys if len(forms[(other, xv)]) == 1}
        # one closed form for every curve: drawn once, in grey; otherwise each in its curve's colour
        shared = len(own) == len(keys) and len(set(own.values())) == 1
        grid = [horizon * k / 200 for k in range(201)]
        if shared and (rd0 := own[keys[0]]) is not None:
            r0, d0 = rd0
            s0 = [1.0 if t < d0 else math.exp(-r0 * (t - d0)) for t in grid]
            ax.plot(grid, s0, "--", color="0.35", label="closed form")
        for xv in keys:
            pts = by_x[xv]
            curve = kaplan_meier([t for t, _ in pts], [h for _, h in pts])
            ts = [t for t, _ in curve] + [horizon]
            ss = [s for _, s in curve] + [curve[-1][1]]
            (line,) = ax.step(ts, ss, where="post", label=f"{xv}")
            cens = [t for t, h in pts if not h]
            if cens:
                ax.plot(cens, [_at(curve, t) for t in cens], "|", color=line.get_color(), markersize=8)
            cf_median = None
            if (rd := own.get(xv)) is not None:
                r, d = rd
                if not shared:
                    sx = [1.0 if t < d else math.exp(-r * (t - d)) for t in grid]
                    ax.plot(grid, sx, "--", color=line.get_color())
                cf_median = d + math.log(2) / r
            healed = sum(h for _, h in pts)
            km = _median(curve)
            rows.append(
                f"| {xv} | {len(pts)} | {healed} | {(len(pts) - healed) / len(pts):.0%} | "
                f"{'not reached' if km is None else f'{km:.6g}'} | "
                f"{'—' if cf_median is None else f'{cf_median:.6g}'} |"
            )
        ax.set_xlabel("time since the compromise (s)")
        ax.set_ylabel("share not yet healed")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"Healing survival: {title}")
        ax.legend(frameon=False, title=label_of(x) if x else None)
        for ext, meta in (("png", {"Software": None}), ("pdf", {"CreationDate": None, "Producer": None})):
            fig.savefig(stem.with_suffix(f".{ext}"), format=ext, metadata=meta)
        plt.close(fig)
    return rows


def _is_float(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def _at(curve: list[tuple[float, float]], t: float) -> float:
    s = 1.0
    for ti, si in curve:
        if ti > t:
            break
        s = si
    return s
