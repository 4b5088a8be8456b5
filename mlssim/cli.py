"""The ``mlssim`` command line."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import click

from . import __version__

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlssim")
def main() -> None:
    """Simulate federated MLS (RFC 9420) groups and measure them."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("-v", "--verbose", is_flag=True, help="Print every failing field, not only the first few.")
def vectors(paths: tuple[Path, ...], verbose: bool) -> None:
    """Run official MLS interop test vectors through the core.

    PATHS are vector files or folders of them; with none, $MLSSIM_VECTORS or
    ../shared/mls-test-vectors/ beside the project is used. Prints passed / failed /
    not-supported counts per file and cipher suite; exits 1 if any case fails.
    """
    from .vectors import default_vector_dir, run_file

    if not paths:
        default = default_vector_dir()
        if default is None:
            raise click.UsageError(
                "no vector folder given and none found: pass a path, set $MLSSIM_VECTORS, or put the "
                "files from github.com/mlswg/mls-implementations (test-vectors/) in "
                "../shared/mls-test-vectors/"
            )
        paths = (default,)
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(p.glob("*.json")))
        elif p.is_file():
            files.append(p)
        else:
            raise click.BadParameter(f"{p}: no such file or folder", param_hint="PATHS")
    if not files:
        raise click.UsageError(f"no .json vector files in {', '.join(map(str, paths))}")

    totals = {"passed": 0, "failed": 0, "unsupported": 0}
    click.echo(f"{'file':34} {'suite':>5} {'passed':>7} {'failed':>7} {'not-supp':>8}")
    for f in files:
        counts: dict[object, dict[str, int]] = defaultdict(
            lambda: {"passed": 0, "failed": 0, "unsupported": 0}
        )
        failures: list[str] = []
        for res in run_file(f):
            counts[res.suite][res.status] += 1
            totals[res.status] += 1
            if res.status == "failed":
                shown = res.messages if verbose else res.messages[:3]
                failures.extend(f"    case {res.index} (suite {res.suite}): {m}" for m in shown)
        for suite in sorted(counts, key=lambda s: -1 if s is None else int(str(s))):
            c = counts[suite]
            label = "-" if suite is None else str(suite)
            click.echo(f"{f.name:34} {label:>5} {c['passed']:>7} {c['failed']:>7} {c['unsupported']:>8}")
        limit = len(failures) if verbose else 10
        for line in failures[:limit]:
            click.echo(line)
        if len(failures) > limit:
            click.echo(f"    ... {len(failures) - limit} more (use -v)")
    click.echo(
        f"total: {totals['passed']} passed, {totals['failed']} failed, {totals['unsupported']} not supported"
    )
    sys.exit(1 if totals["failed"] else 0)


@main.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--docs", is_flag=True, help="Print the Markdown reference of every scenario key instead.")
@click.option("--strict", is_flag=True, help="Exit 1 when a file has plausibility warnings, too.")
def validate(files: tuple[Path, ...], docs: bool, strict: bool) -> None:
    """Check scenario FILES without running them.

    Prints `FILE: ok (N groups, M members)` for a valid file, else one `file:line: key: message`
    line per problem; exits 1 if any file is invalid. A valid file's values that are legal but
    almost surely wrong (a latency above 10 s, a duration shorter than a group's setup, an
    orderer the ordering ignores) follow as `file:line: key: warning: message` lines; they exit
    1 only with --strict. With --docs, prints the reference that docs/scenarios.md holds
    (`mlssim validate --docs > docs/scenarios.md`).
    """
    from .scenario import ScenarioError, load_scenario
    from .scenario.plausibility import scenario_warnings

    if docs:
        from .scenario.docs import generate_markdown

        click.echo(generate_markdown(), nl=False)
        return
    if not files:
        raise click.UsageError("give one or more scenario files (or --docs)")
    failed = False
    for f in files:
        try:
            scenario = load_scenario(f)
        except ScenarioError as err:
            failed = True
            for issue in err.issues:
                click.echo(str(issue))
            continue
        groups = sum(g.count for g in scenario.groups)
        members = sum(g.count * g.size for g in scenario.groups)
        click.echo(f"{f}: ok ({groups} group{'s' * (groups != 1)}, {members} members)")
        warnings = scenario_warnings(f, scenario)
        for issue in warnings:
            click.echo(str(issue))
        failed = failed or (strict and bool(warnings))
    sys.exit(1 if failed else 0)


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--seed", type=int, default=None, help="Override the scenario's seed.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs"),
    show_default=True,
    help="Folder that receives <name>/<run-key>/.",
)
@click.option("--force", is_flag=True, help="Redo a run whose folder already holds a complete result.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
@click.option(
    "--strict", is_flag=True, help="Exit 1 when the run ends with warnings (after writing the run)."
)
def run(file: Path, seed: int | None, out: Path, force: bool, progress: bool | None, strict: bool) -> None:
    """Run the scenario FILE and write its results to OUT/<name>/<run-key>/.

    The folder holds manifest.json, scenario.json, summary.json, transmissions.csv and
    events.jsonl; a short summary table is printed. The same scenario and seed always give
    byte-identical summary.json and transmissions.csv. A run in which a group is never created
    or a workload never fires ends with `warning:` lines (also in manifest.json); --strict
    makes them an error.
    """
    from .report.table import summary_table
    from .scenario import ScenarioError, load_scenario
    from .sim.run import RunExistsError, run_scenario

    try:
        scenario = load_scenario(file)
    except ScenarioError as err:
        for issue in err.issues:
            click.echo(str(issue), err=True)
        sys.exit(2)
    if seed is not None:
        scenario = scenario.model_copy(update={"seed": seed})
    show = sys.stderr.isatty() if progress is None else progress
    total = scenario.duration + scenario.drain
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=round(total, 3), unit="sim-s", desc=scenario.name, leave=False)

    def tick(t: float) -> None:
        if bar is not None:
            bar.update(round(t - bar.n, 3))

    try:
        folder, summary = run_scenario(scenario, out, base_dir=file.parent, force=force, progress=tick)
    except RunExistsError as err:
        click.echo(f"{err}", err=True)
        sys.exit(1)
    except Exception as err:  # the manifest records the traceback; the user gets one line
        click.echo(
            f"{file}: run failed: {type(err).__name__}: {err} (details in the run's manifest.json)", err=True
        )
        sys.exit(1)
    finally:
        if bar is not None:
            bar.close()
    warnings = list(json.loads((folder / "manifest.json").read_text()).get("warnings", []))
    click.echo(summary_table(summary, warnings))
    click.echo(f"results: {folder}")
    if strict and warnings:
        click.echo(f"{file}: {len(warnings)} warning(s) and --strict: exit 1", err=True)
        sys.exit(1)


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--jobs", "-j", type=click.IntRange(min=1), default=None, help="Worker processes (default: CPU count)."
)
@click.option(
    "--dask",
    "dask_address",
    default=None,
    metavar="local|tcp://HOST:PORT",
    help="Run on Dask: 'local' starts a LocalCluster, an address joins a scheduler (extra 'dask').",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs"),
    show_default=True,
    help="Folder that receives <name>/<run-key>/ and <name>/results.csv.",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
@click.option(
    "--only",
    "only",
    multiple=True,
    metavar="KEY=V1,V2",
    help="Run only these values of one grid key (YAML values, e.g. 'groups[0].size=100,1000'; repeatable).",
)
@click.option(
    "--replications", type=click.IntRange(min=1), default=None, help="Run only the first N replications."
)
def sweep(
    file: Path,
    jobs: int | None,
    dask_address: str | None,
    out: Path,
    progress: bool | None,
    only: tuple[str, ...],
    replications: int | None,
) -> None:
    """Run every grid point and replication of FILE's sweep: section; write OUT/<name>/results.csv.

    Complete runs are skipped, partial or failed ones redone, so an interrupted sweep resumes
    where it stopped; a failing run records its exception in its manifest and the sweep goes on.
    --only and --replications run part of the grid first (the same runs, with the same seeds, as
    the whole sweep's): results.csv then lists those runs; the whole sweep later skips them.
    """
    from concurrent.futures import Executor, ProcessPoolExecutor

    from .runner.sweep import Reduction, expand, run_sweep
    from .scenario import ScenarioError

    reduced = None
    if only or replications is not None:
        reduced = Reduction(replications, tuple(_grid_values(o) for o in only))
    try:
        _, specs = expand(file, reduced)
    except ScenarioError as err:
        for issue in err.issues:
            click.echo(str(issue), err=True)
        sys.exit(2)
    except ValueError as err:  # an --only key or value the grid lacks
        raise click.UsageError(str(err)) from None
    show = sys.stderr.isatty() if progress is None else progress
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=len(specs), unit="run", desc=file.stem, leave=False)

    def tick(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    client = None
    executor: Executor
    if dask_address is not None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise click.UsageError("--dask needs the extra: pip install -e '.[dask]'") from None
        if dask_address == "local":
            client = Client(LocalCluster(n_workers=jobs or 2, threads_per_worker=1, processes=True))
        else:
            client = Client(dask_address)
        executor = client.get_executor()
    else:
        executor = ProcessPoolExecutor(max_workers=jobs)
    try:
        results, specs, counts = run_sweep(file, out, executor, progress=tick, reduced=reduced)
    finally:
        if bar is not None:
            bar.close()
        executor.shutdown()
        if client is not None:
            client.close()
    click.echo(
        f"{len(specs)} runs: {counts['complete']} run now, {counts['skipped']} already complete, "
        f"{counts['failed']} failed (see their manifest.json)"
    )
    click.echo(f"results: {results}")
    if counts["failed"] and dask_address is not None and ",missing," in results.read_text():
        click.echo(
            "runs marked missing have no folder under --out here: on a cluster, --out must be a "
            "folder every worker shares at the same path (docs/cluster.md)",
            err=True,
        )
    sys.exit(1 if counts["failed"] else 0)


def _check_writable(out: Path) -> None:
    """A usage error naming ``out`` when its folder is missing or it is a folder."""
    if out.is_dir():
        raise click.UsageError(f"--out {out}: is a folder; give the calibration file's path")
    if not out.parent.is_dir():
        raise click.UsageError(f"--out {out}: no folder {out.parent}")


def _write(save: Any, calibration: Any, out: Path) -> None:
    try:
        save(calibration, out)
    except OSError as err:
        raise click.UsageError(f"--out {out}: cannot write it: {err.strerror or err}") from None


def _grid_values(option: str) -> tuple[str, tuple[Any, ...]]:
    """``KEY=V1,V2`` of ``--only``: the key and its values, read as a YAML flow list (so
    ``0xF001`` is a number and ``{phone: 1}`` a mapping, as in the scenario file)."""
    import yaml

    key, sep, values = option.partition("=")
    if not sep or not key.strip() or not values.strip():
        raise click.UsageError(f"--only {option!r}: expected KEY=V1,V2 (e.g. 'groups[0].size=100,1000')")
    try:
        parsed = yaml.safe_load(f"[{values}]")
    except yaml.YAMLError as err:
        raise click.UsageError(f"--only {option!r}: the values are not YAML: {err}") from None
    return key.strip(), tuple(parsed)


@main.command()
@click.argument("sweep_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where figures and the report go (default: SWEEP_DIR/report).",
)
@click.option("--x", "x_key", default=None, help="Grid key on the x axis (default: the first).")
@click.option("--metric", "metrics", multiple=True, help="Summary value to plot (dotted; repeatable).")
@click.option(
    "--stat",
    type=click.Choice(["mean", "median"]),
    default="mean",
    show_default=True,
    help="Statistic over replications: mean (Student-t interval) or median (bootstrap interval).",
)
@click.option(
    "--survival",
    is_flag=True,
    help="Also draw healing as survival curves (Kaplan–Meier; runs that never heal are censored).",
)
@click.option(
    "--pair",
    default=None,
    metavar="KEY",
    help="Also draw, against --x, each value of this grid key minus its first, run for run on the same seed.",
)
def report(
    sweep_dir: Path,
    out: Path | None,
    x_key: str | None,
    metrics: tuple[str, ...],
    stat: str,
    survival: bool,
    pair: str | None,
) -> None:
    """Figures (PNG and PDF) and a Markdown report from a sweep's run folders.

    SWEEP_DIR is OUT/<name> of `mlssim sweep` (it holds results.csv). Reads only the run
    folders; the same runs always give byte-identical files. An unknown --metric or --x is an
    error that lists what the sweep has.
    """
    from .report.report import report_command, write_report

    if not (sweep_dir / "results.csv").is_file():
        raise click.UsageError(f"{sweep_dir}: no results.csv (run `mlssim sweep` first)")
    command = report_command(sweep_dir, x_key, metrics, stat, survival, pair)
    try:
        path = write_report(
            sweep_dir,
            out or sweep_dir / "report",
            x_key=x_key,
            metrics=metrics or None,
            stat=stat,
            survival=survival,
            command=command,
            pair=pair,
        )
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    click.echo(f"report: {path}")


@main.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("calibration.json"),
    show_default=True,
    help="Where the calibration (JSON) goes.",
)
@click.option(
    "--suites",
    default=None,
    metavar="ID,ID,...",
    help="Cipher suites to measure, decimal or 0x hex (default: every real suite).",
)
@click.option(
    "--repeat", type=click.IntRange(min=1), default=31, show_default=True, help="Samples per primitive."
)
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
@click.option(
    "--add-ds",
    "add_ds",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Keep this file's suite costs; measure only the DS's primitives and the curve operations.",
)
def calibrate(out: Path, suites: str | None, repeat: int, progress: bool | None, add_ds: Path | None) -> None:
    """Measure this machine's cost of every counted primitive and write a calibration file.

    Times each primitive of each real cipher suite (the median of --repeat samples; byte-counted
    ones at three input sizes, fitted to a cost per call plus a cost per byte), the DS's own
    primitives (copy, encode, PRE re-encryption) and the curve operations of the hybrid KEMs,
    and records the machine and the date. Scenarios name the file in `hardware.calibration`;
    the shipped default is mlssim/calibration/default.json, made by this command.
    """
    import time

    from .assist.pre import reencrypt_bench
    from .calibration import (
        CalibrationError,
        load_calibration,
        measure,
        real_suite_ids,
        save_calibration,
        with_ds_costs,
    )
    from .mls.crypto.counting import PRIMITIVES

    _check_writable(out)  # before minutes of measuring, not after
    if add_ds is not None:
        start = time.perf_counter()
        try:
            calibration = with_ds_costs(load_calibration(add_ds), reencrypt_bench(), repeat)
        except (CalibrationError, ValueError) as err:
            raise click.UsageError(str(err)) from None
        _write(save_calibration, calibration, out)
        click.echo(
            f"DS primitives and curve operations, repeat {repeat}: {time.perf_counter() - start:.1f} s"
        )
        click.echo(f"calibration: {out}")
        return

    ids = real_suite_ids()
    if suites is not None:
        try:
            ids = tuple(int(part.strip(), 0) for part in suites.split(",") if part.strip())
        except ValueError:
            raise click.BadParameter(f"{suites!r}: suite ids are numbers, e.g. 1,2,0xF001") from None
        missing = [s for s in ids if s not in real_suite_ids()]
        if missing or not ids:
            known = ", ".join(str(s) if s < 0xF000 else f"0x{s:04X}" for s in real_suite_ids())
            raise click.BadParameter(f"not a real suite here: {missing or suites!r} (known: {known})")
    show = sys.stderr.isatty() if progress is None else progress
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=len(ids) * len(PRIMITIVES), unit="primitive", desc="calibrate", leave=False)

    def tick(label: str) -> None:
        if bar is not None:
            bar.set_postfix_str(label, refresh=False)
            bar.update(1)

    start = time.perf_counter()
    try:
        calibration = measure(ids, repeat, progress=tick, pre=reencrypt_bench())
    finally:
        if bar is not None:
            bar.close()
    wall = time.perf_counter() - start
    _write(save_calibration, calibration, out)
    click.echo(f"{len(ids)} suites x {len(PRIMITIVES)} primitives, repeat {repeat}: {wall:.1f} s wall time")
    click.echo(
        f"machine: {calibration.machine.cpu_model} ({calibration.machine.cpu_count} CPUs), {calibration.date}"
    )
    click.echo(f"calibration: {out}")


@main.command()
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--tier",
    type=click.Choice(["quick", "full"]),
    default="quick",
    show_default=True,
    help="quick: each sweep reduced as the manifest says; full: every run (>= 20 replications).",
)
@click.option("--only", multiple=True, help="A figure (its folder name in the manifest; repeatable).")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: the manifest's).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the runs (default: runs for the full tier, runs-quick for the quick one).",
)
@click.option(
    "--reports",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the figures go (default: reports/ for full, OUT/quick-reports for quick).",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
def figures(
    manifest: Path,
    tier: str,
    only: tuple[str, ...],
    jobs: int | None,
    out: Path | None,
    reports: Path | None,
    progress: bool | None,
) -> None:
    """Regenerate the WG figure set of MANIFEST (reports/figure-set.yaml) in one tier.

    Resumable (complete runs are skipped); prints each figure's wall time beside its budget and
    writes them to OUT/figure-set-TIER.json.
    """
    from .report.figure_set import run_figure_set
    from .scenario import ScenarioError

    show = sys.stderr.isatty() if progress is None else progress
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(unit="run", leave=False)

    def tick(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        times = run_figure_set(
            manifest,
            "quick" if tier == "quick" else "full",
            out or Path("runs-quick" if tier == "quick" else "runs"),
            only=only,
            jobs=jobs,
            reports=reports,
            say=click.echo,
            progress=tick,
        )
    except ScenarioError as err:
        for issue in err.issues:
            click.echo(str(issue), err=True)
        sys.exit(2)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    finally:
        if bar is not None:
            bar.close()
    sys.exit(1 if any(t.failed for t in times.values()) else 0)


if __name__ == "__main__":
    main()
