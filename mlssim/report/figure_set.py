"""The WG figure set in two tiers, from one manifest (``reports/figure-set.yaml``, issue 23).

``mlssim figures MANIFEST --tier full`` runs each figure's sweep (resumable: complete runs are
skipped), draws its report into ``reports/<figure>/`` and runs its extra commands (the
exact-encoding benchmarks drawn beside the simulated points). ``--tier quick`` runs each sweep
reduced as its ``quick:`` entry says (the first replications, a subset of the grid's values:
the same runs, with the same seeds, as the full set's), into its own output folder, and draws
the reports under ``<out>/quick-reports/``; their captions say they are a quick set (fewer than
20 replications per point) and name the command. Extra commands run in the quick tier only
when marked ``quick: true`` (or its quicker command given there).

Each figure's wall time is printed beside the tier's budget for it and written, with the
runs done and skipped, to ``<out>/figure-set-<tier>.json``: the measured totals that
``reports/README.md`` quotes. A resumed invocation times only what was left to do.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..runner.sweep import Reduction, run_seconds, run_sweep
from ..scenario.issues import ScenarioError, ScenarioIssue, format_path
from ..scenario.yaml_lines import _compose
from .report import report_command, write_report

__all__ = ["FigureSet", "Tier", "load_figure_set", "run_figure_set"]

Tier = Literal["quick", "full"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReportSpec(_Model):
    """What ``mlssim report`` draws from the sweep (its options)."""

    x: str | None = None
    metrics: list[str] = Field(default_factory=list)
    stat: Literal["mean", "median"] = "mean"
    survival: bool = False
    pair: str | None = None


class QuickSpec(_Model):
    """The quick tier's reduction of the sweep."""

    replications: int = Field(ge=1)
    values: dict[str, list[Any]] = Field(default_factory=dict, description="grid key → the values kept")


class ExtraSpec(_Model):
    """A command run after the report (``{runs}``: the sweep's folder, ``{reports}``: the
    figure's). ``quick``: whether the quick tier runs it too, or a quicker command it runs instead."""

    command: str = Field(min_length=1)
    quick: bool | str = False


class Budget(_Model):
    """Wall-time budget (s) of one figure in each tier, with the manifest's ``jobs``."""

    quick: float = Field(gt=0)
    full: float = Field(gt=0)


class FigureSpec(_Model):
    scenario: str
    folder: str | None = Field(default=None, description="its folder under reports/ (default: its name)")
    report: ReportSpec | None = None
    extra: list[ExtraSpec] = Field(default_factory=list)
    quick: QuickSpec
    budget_s: Budget


class FigureSet(_Model):
    """The manifest: where the repository is, the worker count, and the figures by folder."""

    root: str = "."
    jobs: int = Field(default=2, ge=1)
    figures: dict[str, FigureSpec]


def load_figure_set(path: Path) -> tuple[FigureSet, Path]:
    """The manifest and its root folder; a bad manifest is a ScenarioError (file:line: key)."""
    doc = _compose(path.read_text(), str(path))
    if doc.issues:
        raise ScenarioError(doc.issues)
    try:
        manifest = FigureSet.model_validate(doc.data)
    except ValidationError as err:
        issues = []
        for e in err.errors():
            loc = tuple(e["loc"])
            line = next((doc.lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in doc.lines), 1)
            issues.append(ScenarioIssue(str(path), line, format_path(loc), e["msg"]))
        raise ScenarioError(issues) from None
    root = (path.parent / manifest.root).resolve()
    missing = [
        ScenarioIssue(str(path), doc.lines.get(("figures", name, "scenario"), 1), f"figures.{name}.scenario",
                      f"no such file: {spec.scenario} (relative to {manifest.root})")
        for name, spec in manifest.figures.items()
        if not (root / spec.scenario).is_file()
    ]  # fmt: skip
    if missing:
        raise ScenarioError(missing)
    return manifest, root


@dataclass
class FigureTime:
    """What one figure took in this invocation."""

    wall_s: float
    budget_s: float
    runs_done: int
    runs_skipped: int
    failed: list[str] = field(default_factory=list)
    #: the measured wall time of every complete run of the figure's sweep (manifests), this
    #: invocation's and earlier ones': the work, whatever was resumed
    run_s: float = 0.0


def _extra(command: str, root: Path, runs: Path, reports: Path) -> str | None:
    """Run one extra command from the root; its failure as a message, or None."""
    argv = [a.format(runs=runs, reports=reports) for a in shlex.split(command)]
    if argv and argv[0] == "python":
        argv[0] = sys.executable
    done = subprocess.run(argv, cwd=root, check=False)
    return None if done.returncode == 0 else f"{command!r} exited with {done.returncode}"


def run_figure_set(
    manifest_path: Path,
    tier: Tier,
    out: Path,
    *,
    only: tuple[str, ...] = (),
    jobs: int | None = None,
    reports: Path | None = None,
    say: Callable[[str], None] = print,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, FigureTime]:
    """Every figure (or those in ``only``) of the manifest in ``tier``; the times, also written
    to ``out/figure-set-<tier>.json``."""
    manifest, root = load_figure_set(manifest_path)
    unknown = [n for n in only if n not in manifest.figures]
    if unknown:
        raise ValueError(f"{manifest_path}: no figure {unknown[0]!r} (it has: {', '.join(manifest.figures)})")
    out = out.resolve()
    reports = (reports or (root / "reports" if tier == "full" else out / "quick-reports")).resolve()
    names = [n for n in manifest.figures if not only or n in only]
    # a caption names the manifest from the root, never by a path of this machine
    where = manifest_path.resolve()
    shown = where.relative_to(root).as_posix() if where.is_relative_to(root) else where.name
    times: dict[str, FigureTime] = {}
    with ProcessPoolExecutor(max_workers=jobs or manifest.jobs) as pool:
        for name in names:
            spec = manifest.figures[name]
            budget = spec.budget_s.quick if tier == "quick" else spec.budget_s.full
            say(f"[{name}] {spec.scenario} ({tier} tier, budget {budget:.0f} s)")
            start = time.perf_counter()
            reduced = None
            if tier == "quick":
                values = tuple((k, tuple(v)) for k, v in spec.quick.values.items())
                reduced = Reduction(spec.quick.replications, values)
            results, specs, counts = run_sweep(
                root / spec.scenario, out, pool, progress=progress, reduced=reduced
            )
            took = FigureTime(0.0, budget, counts["complete"], counts["skipped"])
            took.run_s = run_seconds(specs, out, (root / spec.scenario).parent)
            if counts["failed"]:
                took.failed.append(f"{counts['failed']} runs failed (see their manifest.json)")
            sweep_dir, folder = results.parent, reports / (spec.folder or name)
            if spec.report is not None:
                r = spec.report
                command = report_command(sweep_dir, r.x, tuple(r.metrics), r.stat, r.survival, r.pair)
                quick_cmd = f"mlssim figures {shown} --tier quick --only {name}"
                regenerate = quick_cmd if tier == "quick" else ""
                try:
                    write_report(
                        sweep_dir, folder, x_key=r.x, metrics=r.metrics or None, stat=r.stat,
                        survival=r.survival, command=command, regenerate=regenerate, pair=r.pair,
                    )  # fmt: skip
                except ValueError as err:  # an unknown metric or x: this figure fails, the rest go on
                    took.failed.append(str(err))
            for extra in spec.extra:
                todo = extra.command if tier == "full" or extra.quick is True else extra.quick
                if isinstance(todo, str) and todo:
                    folder.mkdir(parents=True, exist_ok=True)
                    failure = _extra(todo, root, sweep_dir, folder)
                    if failure:
                        took.failed.append(failure)
            took.wall_s = time.perf_counter() - start
            times[name] = took
            over = " OVER BUDGET" if took.wall_s > budget else ""
            say(
                f"[{name}] {took.wall_s:.0f} s (budget {budget:.0f} s){over}; {len(specs)} runs: "
                f"{took.runs_done} run now, {took.runs_skipped} already complete; "
                f"run time of its complete runs {took.run_s:,.0f} s"
                + (f"; FAILED: {'; '.join(took.failed)}" if took.failed else "")
            )
    total = sum(t.wall_s for t in times.values())
    budget_total = sum(t.budget_s for t in times.values())
    run_total = sum(t.run_s for t in times.values())
    n_jobs = jobs or manifest.jobs
    say(
        f"{tier} tier: {total:.0f} s for {len(times)} figures (budget {budget_total:.0f} s); "
        f"the run time of all their complete runs {run_total:,.0f} s (about {run_total / n_jobs:,.0f} s "
        f"with {n_jobs} jobs, the figures and extra commands not included)"
    )
    record = {
        "tier": tier,
        "jobs": n_jobs,
        "total_wall_s": round(total, 1),
        "total_run_s": round(run_total, 1),
        "total_budget_s": budget_total,
        "figures": {
            n: {**t.__dict__, "wall_s": round(t.wall_s, 1), "run_s": round(t.run_s, 1)}
            for n, t in times.items()
        },
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / f"figure-set-{tier}.json").write_text(json.dumps(record, indent=2) + "\n")
    return times
