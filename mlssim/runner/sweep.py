"""Sweeps: a grid of runs of one scenario file, on any ``concurrent.futures`` executor.

``expand`` turns the file's ``sweep:`` section into run specifications: every combination of the
grid's values (in the order the file lists keys and values), each replicated with its own seed:
``derive_seed(base seed, (), replication)`` under ``sweep.seeds: common`` (the default: replication
r meets the same random streams at every grid point, so paired comparisons cancel seed noise), or
``derive_seed(base seed, grid point, replication)`` under ``independent``. Each point is
validated like the file itself (the overrides go through the loader), so a bad grid value is an
error naming the file and key before anything runs.

``run_sweep`` runs what is not complete yet: a run folder whose manifest says ``complete`` is
skipped, a partial or failed one is redone; runs go to the executor (a process pool by default,
or a Dask client's ``get_executor()``) longest first (:func:`estimated_cost`), with absolute
paths, since a cluster's workers do not run in the client's folder; a failing run records its
exception in its manifest and does not stop the others, and a run a worker finished but this
machine cannot see (an output folder the workers do not share, ``docs/cluster.md``) counts as
failed. ``reduced`` (a :class:`Reduction`) runs a subset of the grid and the first replications
only: the quick tier of the figure set (``report/figure_set.py``); each of its runs is the same
run, with the same key and seed, as in the full sweep. ``results.csv`` is then rebuilt from the
run folders alone, one row per run in grid order and one column per summary key, so it never
holds a run twice and is identical whatever the executor or the order the runs ran in.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..scenario import ScenarioError, ScenarioIssue, load_scenario
from ..scenario.schema import Scenario
from ..sim.run import RunExistsError, run_key, run_scenario
from .summaries import flatten

__all__ = [
    "Reduction",
    "RunSpec",
    "derive_seed",
    "estimated_cost",
    "point_seed",
    "expand",
    "run_sweep",
    "write_results",
    "HEADLINE",
    "RUN_COLUMNS",
]

#: the headline summary values (dotted paths into summary.json): always columns of results.csv,
#: even when no run has them, among every other summary key
HEADLINE = (
    "clients",
    "all_converged",
    "transmissions",
    "commits.sent",
    "commits.accepted",
    "commits.rejected",
    "commits.collisions_per_1000_attempts",
    "commits.retries_per_accepted",
    "commits.wasted_bytes",
    "commits.download_bytes_mean",
    "commits.upload_bytes_mean",
    "commit_latency_s.p95",
    "convergence_s.p50",
    "convergence_s.p95",
    "client_upload_bytes.mean",
    "client_download_bytes.mean",
    "ds_egress_to_clients_bytes",
    "inter_provider_bytes",
    "forks.epochs",
    "resyncs.done",
    "application.sent",
    "application.undecryptable",
)


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: its grid point, replication, seed and resolved scenario."""

    point: tuple[tuple[str, Any], ...]
    replication: int
    seed: int
    scenario: Scenario


def derive_seed(base: int, point: Iterable[tuple[str, Any]], replication: int) -> int:
    """A seed for one run, from the base seed, the grid point and the replication (63 bits)."""
    blob = json.dumps([base, list(point), replication], sort_keys=True, default=str).encode()
    return int.from_bytes(hashlib.sha256(b"mlssim sweep seed\0" + blob).digest()[:8], "big") >> 1


def point_seed(base: Scenario, point: tuple[tuple[str, Any], ...], replication: int) -> int:
    """The seed of replication ``replication`` at grid ``point`` (the base seed without a sweep)."""
    sweep = base.sweep
    if sweep is None:
        return base.seed
    return derive_seed(base.seed, point if sweep.seeds == "independent" else (), replication)


@dataclass(frozen=True)
class Reduction:
    """Fewer runs of a sweep: the first ``replications`` only, and of the grid keys in
    ``values`` only the listed values (each must be one of the grid's)."""

    replications: int | None = None
    values: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    def apply(self, path: Path, grid: dict[str, list[Any]], reps: int) -> tuple[dict[str, list[Any]], int]:
        """The reduced grid and replication count; a key or value the sweep lacks is an error."""
        grid = dict(grid)
        for key, keep in self.values:
            if key not in grid:
                raise ValueError(f"{path}: sweep.grid has no key {key!r} (it has: {', '.join(grid)})")
            missing = [v for v in keep if v not in grid[key]]
            if missing:
                raise ValueError(
                    f"{path}: sweep.grid.{key} has no value {missing[0]!r} (it has: {grid[key]})"
                )
            grid[key] = [v for v in grid[key] if v in keep]
        if self.replications is not None:
            reps = min(reps, self.replications)
        return grid, reps


def expand(path: Path, reduced: Reduction | None = None) -> tuple[Scenario, list[RunSpec]]:
    """The base scenario and every run of its sweep (a scenario without ``sweep:`` is one run).

    Loading the base checks each grid key and value alone; a point whose values do not go
    together is an error at the grid's line, and every such point is reported at once."""
    base = load_scenario(path)
    sweep = base.sweep
    grid = sweep.grid if sweep is not None else {}
    reps = sweep.replications if sweep is not None else 1
    if reduced is not None:
        if sweep is None and reduced.values:
            raise ValueError(f"{path}: no sweep: section, so no grid key {reduced.values[0][0]!r}")
        grid, reps = reduced.apply(path, grid, reps)
    keys = list(grid)
    specs: list[RunSpec] = []
    issues: list[ScenarioIssue] = []
    for values in itertools.product(*(grid[k] for k in keys)):
        point = tuple(zip(keys, values, strict=True))
        for r in range(reps):
            seed = point_seed(base, point, r)
            try:
                scenario = load_scenario(path, {"seed": seed, "sweep": None}, point=point)
            except ScenarioError as err:
                issues.extend(err.issues)
                break  # its other replications differ only in their seed
            specs.append(RunSpec(point, r, seed, scenario))
    if issues:
        raise ScenarioError(sorted(issues, key=lambda i: (i.line is None, i.line or 0)))
    return base, specs


def estimated_cost(scenario: Scenario) -> float:
    """A run's rough relative cost, so that a sweep submits its longest runs first.

    Deliveries dominate a run: each group's messages per second (application messages and path
    updates per member, updates, adds and removes per group) times its members times the
    simulated time, plus its members' joins (each about linear in the group size). Only the
    order matters: the last run to start bounds the sweep, and a long one started last leaves
    the other workers idle (issue 23)."""
    t = scenario.duration + scenario.drain
    cost = 0.0
    for g in scenario.groups:
        w, n = g.workload, g.size
        per_s = n * (w.app_rate + w.update_rate) + w.update_group_rate + w.add_rate + w.remove_rate
        cost += n * (per_s * t + n)
    return cost


def _run_one(scenario: Scenario, out: Path, base_dir: Path, force: bool) -> tuple[str, str]:
    """In a worker: run, and report (folder, status); the manifest holds any exception."""
    try:
        folder, _ = run_scenario(scenario, out, base_dir=base_dir, force=force)
        return str(folder), "complete"
    except RunExistsError:
        return str(out / scenario.name / run_key(scenario, base_dir)), "complete"
    except Exception as exc:  # recorded in the run's manifest; the sweep goes on
        return str(out / scenario.name / run_key(scenario, base_dir)), f"failed: {type(exc).__name__}"


def run_seconds(specs: list[RunSpec], out: Path, base_dir: Path) -> float:
    """The measured wall time (``manifest.json``'s ``wall_time_s``) summed over the complete
    runs among ``specs``: the work a sweep took, whichever invocation ran each run."""
    total = 0.0
    for spec in specs:
        folder = out / spec.scenario.name / run_key(spec.scenario, base_dir)
        try:
            m = json.loads((folder / "manifest.json").read_text())
        except (OSError, ValueError):
            continue
        if m.get("status") == "complete":
            total += float(m.get("wall_time_s", 0.0))
    return total


def _status(folder: Path) -> str | None:
    try:
        return str(json.loads((folder / "manifest.json").read_text())["status"])
    except (OSError, ValueError, KeyError):
        return None


def run_sweep(
    path: Path,
    out: Path,
    executor: Executor,
    *,
    progress: Callable[[int, int], None] | None = None,
    reduced: Reduction | None = None,
) -> tuple[Path, list[RunSpec], dict[str, int]]:
    """Run every incomplete run of ``path``'s sweep (``reduced``: of its subset) on ``executor``;
    write ``results.csv``.

    Returns the results file, the runs, and counts of ``skipped`` / ``complete`` / ``failed``."""
    base, specs = expand(path, reduced)
    base_dir = path.parent
    counts = {"skipped": 0, "complete": 0, "failed": 0}
    todo: list[tuple[RunSpec, bool]] = []
    for spec in specs:
        folder = out / spec.scenario.name / run_key(spec.scenario, base_dir)
        status = _status(folder)
        if status == "complete":
            counts["skipped"] += 1
        else:
            todo.append((spec, folder.exists()))  # a partial or failed run is redone
    done = 0
    if progress is not None:
        progress(done, len(todo))
    # absolute paths: a cluster's workers do not share the client's working directory
    out_abs, base_abs = out.resolve(), base_dir.resolve()
    # longest first (a stable sort: ties keep grid order); results.csv is in grid order anyway
    todo.sort(key=lambda item: -estimated_cost(item[0].scenario))
    futures: list[Future[tuple[str, str]]] = [
        executor.submit(_run_one, spec.scenario, out_abs, base_abs, redo) for spec, redo in todo
    ]
    for fut in as_completed(futures):
        where, status = fut.result()
        if status == "complete" and _status(Path(where)) != "complete":
            status = "missing"  # written where this machine cannot see it (an output folder not shared)
        counts["complete" if status == "complete" else "failed"] += 1
        done += 1
        if progress is not None:
            progress(done, len(todo))
    results = write_results(base, specs, out, base_dir)
    return results, specs, counts


#: the columns that name a run, after the grid keys and before the summary's
RUN_COLUMNS = ("replication", "seed", "run_key", "status")


def write_results(base: Scenario, specs: list[RunSpec], out: Path, base_dir: Path) -> Path:
    """``out/<name>/results.csv`` from the run folders: one row per run, in grid order.

    Columns: the grid keys, :data:`RUN_COLUMNS`, then every key of the runs' ``summary.json``
    flattened with dots (:func:`~mlssim.runner.summaries.flatten`), the union over the runs
    and :data:`HEADLINE`, sorted; a run without a key has an empty cell. Values that are
    lists (``healing.cases``) stay in ``summary.json``: a CSV cell cannot hold them
    (``docs/metrics.md``, "results.csv")."""
    grid_keys = [k for k, _ in specs[0].point] if specs else []
    rows: list[tuple[RunSpec, str, str, dict[str, Any]]] = []
    lists: set[str] = set()
    for spec in specs:
        key = run_key(spec.scenario, base_dir)
        folder = out / spec.scenario.name / key
        status = _status(folder) or "missing"
        flat: dict[str, Any] = {}
        if status == "complete":
            flat = flatten(json.loads((folder / "summary.json").read_text()))
            lists.update(k for k, v in flat.items() if isinstance(v, list | tuple))
        rows.append((spec, key, status, flat))
    named = {*grid_keys, *RUN_COLUMNS}
    metrics = sorted(({k for *_, flat in rows for k in flat} | set(HEADLINE)) - lists - named)
    path = out / base.name / "results.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([*grid_keys, *RUN_COLUMNS, *metrics])
        for spec, key, status, flat in rows:
            values = [json.dumps(v) if not isinstance(v, str | int | float) else v for _, v in spec.point]
            w.writerow(
                [*values, spec.replication, spec.seed, key, status, *(flat.get(m, "") for m in metrics)]
            )
    return path
