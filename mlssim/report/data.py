"""A sweep's runs as the report reads them: rows, the metrics they hold, and the series drawn.

Rows come from ``results.csv`` (complete runs only; the others are counted, not dropped
silently) with every numeric key of each run's ``summary.json`` added, flattened the one way
``mlssim.runner.summaries.flatten`` does. A metric or x key the sweep does not have is an error
that suggests the nearest names and lists the rest: a report never draws nothing silently.
"""

from __future__ import annotations

import csv
import difflib
import json
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from ..runner.summaries import flatten
from .stats import Estimate, bootstrap, mean_t

__all__ = [
    "Series",
    "Sweep",
    "check_name",
    "label_value",
    "key_value",
    "load_sweep",
    "paired_along",
    "paired_differences",
    "pooled",
    "series",
    "short_key",
]


@dataclass(frozen=True)
class Series:
    """One line of a figure: x values (numbers, or category labels), the statistic at each,
    its 95% interval half-width (``None``: no interval, e.g. one run) and the runs behind it."""

    label: str
    x: tuple[Any, ...]
    mean: tuple[float, ...]
    half_width: tuple[float | None, ...]
    n: tuple[int, ...]
    low: tuple[float | None, ...] = ()
    high: tuple[float | None, ...] = ()

    @classmethod
    def of(cls, label: str, x: Sequence[Any], ests: Sequence[Estimate]) -> Series:
        """The series of one estimate per x value."""
        return cls(
            label,
            tuple(x),
            tuple(e.value for e in ests),
            tuple(e.half_width for e in ests),
            tuple(e.n for e in ests),
            tuple(e.low for e in ests),
            tuple(e.high for e in ests),
        )


@dataclass
class Sweep:
    """What the report knows of a sweep folder."""

    folder: Path
    grid: list[str]
    rows: list[dict[str, Any]]
    #: runs listed in results.csv that did not complete (failed or missing)
    incomplete: int

    @property
    def name(self) -> str:
        return self.folder.name

    def metrics(self) -> list[str]:
        """Every numeric metric some complete run has."""
        keys = {k for r in self.rows for k, v in r.items() if k not in self.grid and _is_number(v)}
        return sorted(keys - {"replication", "seed"})


def _is_number(v: Any) -> TypeGuard[float]:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def load_sweep(folder: Path) -> Sweep:
    """Complete runs of ``folder/results.csv``, each with its summary flattened into the row."""
    with (folder / "results.csv").open(newline="") as f:
        reader = csv.DictReader(f)
        fields = list(reader.fieldnames or [])
        all_rows = list(reader)
    grid = fields[: fields.index("replication")]
    rows: list[dict[str, Any]] = []
    for r in all_rows:
        if r["status"] != "complete":
            continue
        row: dict[str, Any] = {k: r[k] for k in grid}
        row.update(replication=int(r["replication"]), seed=int(r["seed"]), run_key=r["run_key"])
        summary = json.loads((folder / r["run_key"] / "summary.json").read_text())
        row.update({k: v for k, v in flatten(summary).items() if k not in row})
        rows.append(row)
    return Sweep(folder, grid, rows, len(all_rows) - len(rows))


def check_name(name: str, known: Sequence[str], what: str) -> None:
    """Raise ``ValueError`` for an unknown ``name``, with the nearest known names and the list."""
    if name in known:
        return
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    listed = ", ".join(known[:60]) + (" …" if len(known) > 60 else "")
    raise ValueError(f"unknown {what} {name!r}{hint} (available: {listed or 'none'})")


def label_value(v: str) -> str:
    """A grid value as a label (a distribution's ``value`` when the grid swept a whole one)."""
    try:
        d = json.loads(v)
    except ValueError:
        return v
    if isinstance(d, dict) and "value" in d:
        return str(d["value"])
    return v


def key_value(key: str, v: str) -> str:
    """A grid value of ``key`` as a label: cipher suites from the private-use range (the PQ
    hybrids) in hex, as their drafts name them (0xF001, not 61441); a mix of weights by its
    names (``phone``, not ``{"phone": 1}``)."""
    text = label_value(v)
    if key == "crypto.suite" and text.isdigit() and int(text) >= 0xF000:
        return f"0x{int(text):04X}"
    try:
        d = json.loads(text)
    except ValueError:
        return text
    if isinstance(d, dict) and d and all(isinstance(w, int | float) for w in d.values()):
        # a mix of weights (``hardware.mix.clients``): its one name, or name:weight pairs
        return next(iter(d)) if len(d) == 1 else " + ".join(f"{k}:{w:g}" for k, w in d.items())
    return text


def short_key(key: str) -> str:
    """A grid key's last part, for legends (``adversary.compromises[0].remove_after`` →
    ``remove_after``; a switch names what it switches: ``faults.failover.enabled`` →
    ``failover``); the full keys are in the report's tables and captions."""
    parts = key.split(".")
    if parts[-1] in ("enabled", "on") and len(parts) > 1:
        return parts[-2].split("[", 1)[0]
    return parts[-1]


def _number(v: str) -> float | None:
    try:
        x = float(label_value(v))
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _natural(key: tuple[str, ...]) -> tuple[tuple[int, float, str], ...]:
    """Series order: numbers by value (5 before 10), then text."""
    out = []
    for v in key:
        n = _number(v)
        out.append((0, n, "") if n is not None else (1, 0.0, v))
    return tuple(out)


def numeric_axis(rows: Sequence[dict[str, Any]], key: str) -> bool:
    """Does ``key`` take numbers (a numeric axis) rather than categories?"""
    return bool(rows) and all(_number(str(r[key])) is not None for r in rows)


def estimate(ys: Sequence[float], stat: str) -> Estimate:
    return mean_t(ys) if stat == "mean" else bootstrap(ys, statistics.median)


def series(sweep: Sweep, x_key: str, metric: str, stat: str = "mean") -> list[Series]:
    """``stat`` (mean, or median) of ``metric`` at each value of ``x_key``, one series per
    combination of the other grid keys. A numeric key is sorted by value; a categorical one
    keeps the grid's order."""
    others = [k for k in sweep.grid if k != x_key]
    numeric = numeric_axis(sweep.rows, x_key)
    cells: dict[tuple[str, ...], dict[Any, list[float]]] = defaultdict(dict)
    for r in sweep.rows:
        y = r.get(metric)
        if not _is_number(y):
            continue
        x: Any = _number(str(r[x_key])) if numeric else label_value(str(r[x_key]))
        cells[tuple(str(r[k]) for k in others)].setdefault(x, []).append(float(y))
    out = []
    for key in sorted(cells, key=_natural):
        label = (
            label_value(key[0])
            if len(others) == 1
            else ", ".join(f"{short_key(k)}={key_value(k, v)}" for k, v in zip(others, key, strict=True))
            or metric
        )
        xs = sorted(cells[key]) if numeric else list(cells[key])
        ests = [estimate(cells[key][x], stat) for x in xs]
        out.append(Series.of(label, tuple(xs), ests))
    return out


def paired_differences(sweep: Sweep, x_key: str, metric: str) -> tuple[str, list[Series]] | None:
    """Per replication, ``metric`` at each category of ``x_key`` minus at the first category,
    when the runs compared share their seed (``sweep.seeds: common``): the mean difference with
    its Student-t interval. ``None`` when the axis is numeric or the seeds are not paired."""
    if numeric_axis(sweep.rows, x_key):
        return None
    others = [k for k in sweep.grid if k != x_key]
    cats: list[str] = []
    by: dict[tuple[tuple[str, ...], int], dict[str, tuple[int, float]]] = defaultdict(dict)
    for r in sweep.rows:
        cat = label_value(str(r[x_key]))
        if cat not in cats:
            cats.append(cat)
        y = r.get(metric)
        if _is_number(y):
            by[(tuple(str(r[k]) for k in others), r["replication"])][cat] = (r["seed"], float(y))
    if len(cats) < 2 or any(len({s for s, _ in v.values()}) > 1 for v in by.values()):
        return None
    ref = cats[0]
    groups: dict[tuple[str, ...], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (other, _rep), vals in by.items():
        if ref not in vals:
            continue
        for cat in cats[1:]:
            if cat in vals:
                groups[other][cat].append(vals[cat][1] - vals[ref][1])
    out = []
    for other in sorted(groups, key=_natural):
        label = (
            ", ".join(f"{short_key(k)}={key_value(k, v)}" for k, v in zip(others, other, strict=True))
            or metric
        )
        xs = [c for c in cats[1:] if groups[other][c]]
        ests = [mean_t(groups[other][c]) for c in xs]
        out.append(Series.of(label, tuple(f"{c} − {ref}" for c in xs), ests))
    return ref, out


def without_value(sweep: Sweep, metric: str) -> list[tuple[str, int, int]]:
    """Grid points where complete runs have no number for ``metric`` (a rate without an
    attempt, a percentile without a merged commit): the point, those runs and all its runs.
    A figure's point averages only the others, so its caption must say so."""
    runs: Counter[tuple[str, ...]] = Counter()
    empty: Counter[tuple[str, ...]] = Counter()
    for r in sweep.rows:
        point = tuple(str(r[k]) for k in sweep.grid)
        runs[point] += 1
        empty[point] += not _is_number(r.get(metric))
    return [
        (", ".join(f"{short_key(k)}={key_value(k, v)}" for k, v in zip(sweep.grid, p, strict=True)),
         empty[p], runs[p])
        for p in runs
        if empty[p]
    ]  # fmt: skip


def pooled(sweep: Sweep, metric: str) -> tuple[Estimate, Estimate] | None:
    """All runs pooled (a sweep without a grid): the mean (Student t) and the median (bootstrap)."""
    ys = [float(r[metric]) for r in sweep.rows if _is_number(r.get(metric))]
    if not ys:
        return None
    return mean_t(ys), bootstrap(ys, statistics.median)


def paired_along(sweep: Sweep, pair_key: str, x_key: str, metric: str) -> tuple[str, list[Series]] | None:
    """Against ``x_key``: per replication and x value, ``metric`` at each category of
    ``pair_key`` minus at its first category, for runs that share their seed (common random
    numbers): the mean difference with its Student-t interval, one series per other category and
    combination of the remaining grid keys. ``None`` when the seeds are not paired."""
    others = [k for k in sweep.grid if k not in (pair_key, x_key)]
    numeric = numeric_axis(sweep.rows, x_key)
    cats: list[str] = []
    by: dict[tuple[tuple[str, ...], Any, int], dict[str, tuple[int, float]]] = defaultdict(dict)
    for r in sweep.rows:
        cat = key_value(pair_key, str(r[pair_key]))
        if cat not in cats:
            cats.append(cat)
        y = r.get(metric)
        if _is_number(y):
            x: Any = _number(str(r[x_key])) if numeric else label_value(str(r[x_key]))
            by[(tuple(str(r[k]) for k in others), x, r["replication"])][cat] = (r["seed"], float(y))
    if len(cats) < 2 or any(len({s for s, _ in v.values()}) > 1 for v in by.values()):
        return None
    ref = cats[0]
    cells: dict[tuple[tuple[str, ...], str], dict[Any, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (other, x, _rep), vals in by.items():
        if ref in vals:
            for cat in cats[1:]:
                if cat in vals:
                    cells[(other, cat)][x].append(vals[cat][1] - vals[ref][1])
    out = []
    for other, cat in sorted(cells, key=lambda k: (_natural(k[0]), cats.index(k[1]))):
        xs = sorted(cells[(other, cat)], key=float) if numeric else list(cells[(other, cat)])
        ests = [mean_t(cells[(other, cat)][x]) for x in xs]
        where = ", ".join(f"{short_key(k)}={key_value(k, v)}" for k, v in zip(others, other, strict=True))
        name = f"{short_key(pair_key)}: {cat} − {ref}" + (f", {where}" if where else "")
        out.append(Series.of(name, tuple(xs), ests))
    return ref, out
