"""Drawing: one reproducible figure from a list of series.

A numeric x axis draws lines (log axes when values span a decade or more); a categorical one
draws points at each category, the series side by side. Each point carries its 95% interval
when it has one; a point without (one run) carries no bar — never a bar of zero. Files are
reproducible: the shipped style (``mlssim.mplstyle``: Type-42 fonts, Okabe-Ito colours), fixed
metadata (no creation date) — the same series give byte-identical PNG and PDF files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .data import Series
from .labels import label_of
from .stats import t_quantile

__all__ = ["NOTES", "Series", "label_of", "note_of", "plot", "t_quantile"]

STYLE = Path(__file__).with_name("mlssim.mplstyle")

#: metric → what its value means differently by design (said in every caption that plots it)
NOTES = {
    "commits.collisions_per_1000_attempts": (
        "With an orderer a collision is a rejected attempt; without one, a commit dropped by a fork switch."
    ),
    "convergence_s": (
        "Without an orderer this is the time to finality (the commit's branch is the one every "
        "member keeps); commits of losing branches are not in it (commits.lost_on_losing_branch)."
    ),
    "commit_latency_s": "Without an orderer the committer merges at once: 0 unless the commit was redone.",
    "healing.time_s_median": (
        "Over healed compromises only: a run whose compromise never healed has no value here "
        "(counted in healing.unhealed; the survival figure counts it)."
    ),
    "healing.epochs_mean": "Over healed compromises only (healing.unhealed counts the others).",
    "healing.bytes_mean": "Over healed compromises only (healing.unhealed counts the others).",
    "commits.wasted_bytes": (
        "With an orderer: rejected uploads, forwards and rejects; "
        "without one, everything a dropped commit sent."
    ),
}


def note_of(metric: str) -> str:
    """The caption note of ``metric`` (by its own key or its parent's), or ""."""
    return NOTES.get(metric) or NOTES.get(metric.rpartition(".")[0], "")


#: the default figures of a report
DEFAULT_METRICS = (
    "commits.collisions_per_1000_attempts",
    "convergence_s.p95",
    "client_download_bytes.mean",
    "inter_provider_bytes",
)


#: most series whose legend goes inside the axes (more go to the right of them: a legend of
#: four long labels inside already covered the lines)
LEGEND_INSIDE = 3


def _spans_decades(values: Sequence[Any]) -> bool:
    """A log axis: every value positive (a zero has no place on it) and a decade or more apart."""
    nums = [v for v in values if isinstance(v, int | float)]
    return len(nums) >= 2 and min(nums) > 0 and max(nums) / min(nums) >= 10


def _yerr(s: Series) -> list[list[float]] | None:
    """Asymmetric error bars from the interval (bootstrap intervals are not symmetric)."""
    if not s.low:
        if all(h is None for h in s.half_width):
            return None
        return [[h or 0.0 for h in s.half_width], [h or 0.0 for h in s.half_width]]
    lo = [m - lo_ if lo_ is not None else 0.0 for m, lo_ in zip(s.mean, s.low, strict=True)]
    hi = [hi_ - m if hi_ is not None else 0.0 for m, hi_ in zip(s.mean, s.high, strict=True)]
    return [lo, hi]


def plot(
    data: list[Series],
    x_label: str,
    y_label: str,
    title: str,
    out_stem: Path,
    legend_title: str | None = None,
    *,
    zero_line: bool = False,
) -> list[Path]:
    """Draw ``data`` and save ``out_stem``.png and .pdf reproducibly; returns the files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    categories: list[Any] = []
    for s in data:
        categories += [x for x in s.x if not isinstance(x, int | float) and x not in categories]
    # a series that is 0 throughout (e.g. the adder's upload of an external join, which has no
    # adder) has no place on a log axis: it is named in the legend and not drawn
    zero = [s for s in data if s.mean and all(m == 0 for m in s.mean)]
    rest = [s for s in data if s not in zero]
    log_y = not zero_line and _spans_decades([y for s in rest for y in s.mean])
    with plt.style.context(str(STYLE)):
        fig, ax = plt.subplots()
        markers = "osD^v<>p"
        width = min(0.15, 0.6 / max(len(data), 1))  # series side by side, close to their tick
        for i, s in enumerate(data):
            if log_y and s in zero:
                ax.plot([], [], linestyle="none", label=f"{s.label}: 0 throughout (not drawn, log axis)")
                continue
            xs: list[float] = (
                [categories.index(x) + (i - (len(data) - 1) / 2) * width for x in s.x]
                if categories
                else [float(x) for x in s.x]
            )
            kw: dict[str, Any] = {"linestyle": "none"} if categories else {}
            ax.errorbar(
                xs, s.mean, yerr=_yerr(s), label=s.label, marker=markers[i % len(markers)], capsize=3, **kw
            )
        plain = FuncFormatter(lambda v, _pos: f"{v:g}")  # 0.2 and 4, not 2×10⁻¹ and 4×10⁰
        if categories:
            ax.set_xticks(range(len(categories)), [str(c) for c in categories])
        elif _spans_decades([x for s in data for x in s.x]):
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))  # 1, 2, 5, 10, ...
            ax.xaxis.set_major_formatter(plain)
            ax.xaxis.set_minor_formatter(NullFormatter())
        if log_y:
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))  # 1, 2, 5, 10, ...
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(NullFormatter())
        if zero_line:
            ax.axhline(0.0, color="0.5", linewidth=0.8)
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        ax.set_title(title)
        if len(data) > LEGEND_INSIDE:
            # many series: a legend inside would cover the lines it names, so it goes to the right
            ax.legend(frameon=False, title=legend_title, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        elif len(data) > 1:
            ax.legend(frameon=False, title=legend_title)
        files = []
        for ext, meta in (("png", {"Software": None}), ("pdf", {"CreationDate": None, "Producer": None})):
            path = out_stem.with_suffix(f".{ext}")
            fig.savefig(path, format=ext, metadata=meta)
            files.append(path)
        plt.close(fig)
    return files
