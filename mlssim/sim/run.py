"""One run of one scenario: a folder of results, written even when the run fails.

``runs/<name>/<run-key>/`` holds ``manifest.json`` (scenario hash, seed, version, wall time,
the exception if any — written in ``finally`` — and the run's warnings), ``scenario.json`` (the
fully resolved scenario), ``summary.json``, ``transmissions.csv`` and ``events.jsonl``. A rerun
never silently overwrites a finished run.

A run can complete and still mean nothing: a group whose creation commit never got through (a
latency given in milliseconds where seconds are meant) or a workload whose Poisson processes
never fired. :func:`run_warnings` finds both in the event record and the manifest lists them
(``docs/metrics.md``, "Run warnings"); they stay out of ``summary.json``, whose bytes are the
run's result.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .. import __version__
from ..scenario.schema import Empirical, GroupSpec, Scenario
from .world import World

__all__ = ["RunExistsError", "run_key", "run_scenario", "run_warnings", "WORKLOAD_RATES"]

#: workload rates (``groups[].workload``) whose Poisson processes a group runs, and whether
#: each is per member (else per group)
WORKLOAD_RATES = (
    ("app_rate", True),
    ("update_rate", True),
    ("update_group_rate", False),
    ("add_rate", False),
    ("remove_rate", False),
)
#: commits that are not the workload's: the creation commit and re-syncs
_NOT_WORKLOAD_OPS = frozenset({"create", "resync", "readd"})


class RunExistsError(Exception):
    """The run folder already holds a finished run."""


def scenario_hash(scenario: Scenario, base_dir: Path | None = None) -> str:
    """Hash of the resolved scenario and of the contents of the sample files it names."""
    h = hashlib.sha256(scenario.model_dump_json().encode())
    for emp in empirical_files(scenario):
        p = Path(emp)
        if not p.is_absolute() and base_dir is not None:
            p = base_dir / p
        h.update(b"\0" + emp.encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def empirical_files(scenario: Scenario) -> list[str]:
    out: set[str] = set()

    def walk(v: object) -> None:
        if isinstance(v, Empirical):
            out.add(v.file)
        elif isinstance(v, BaseModel):
            for name in type(v).model_fields:
                walk(getattr(v, name))
        elif isinstance(v, list | tuple):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)

    walk(scenario)
    return sorted(out)


def run_key(scenario: Scenario, base_dir: Path | None = None) -> str:
    return f"seed{scenario.seed}-{scenario_hash(scenario, base_dir)[:10]}"


def run_scenario(
    scenario: Scenario,
    out_root: Path,
    *,
    base_dir: Path | None = None,
    force: bool = False,
    progress: Callable[[float], None] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Run ``scenario`` into ``out_root/<name>/<run-key>/``; returns the folder and the summary."""
    scenario = scenario.model_copy(update={"sweep": None})  # a sweep's grid is not part of a run
    folder = out_root / scenario.name / run_key(scenario, base_dir)
    manifest_path = folder / "manifest.json"
    if manifest_path.exists() and not force:
        old = json.loads(manifest_path.read_text())
        if old.get("status") == "complete":
            raise RunExistsError(f"{folder} already holds a complete run (use --force to redo it)")
    folder.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {
        "name": scenario.name,
        "seed": scenario.seed,
        "scenario_sha256": scenario_hash(scenario, base_dir),
        "mlssim_version": __version__,
        "python": platform.python_version(),
        "status": "running",
    }
    (folder / "scenario.json").write_text(
        json.dumps(scenario.model_dump(mode="json"), indent=2, sort_keys=True)
    )
    start = time.perf_counter()
    world = World(scenario, base_dir=base_dir)
    summary: dict[str, Any] = {}
    try:
        world.run(progress)
        summary = world.summary()
        (folder / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
        if scenario.output.transmissions:
            world.recorder.write_transmissions(folder / "transmissions.csv")
        if scenario.output.events:
            world.recorder.write_events(folder / "events.jsonl")
        manifest["warnings"] = run_warnings(
            scenario, _group_sizes(world), world.recorder.events, world.env.now
        )
        manifest["status"] = "complete"
    except BaseException as exc:
        manifest["status"] = "failed"
        manifest["exception"] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        manifest["traceback"] = traceback.format_exc()
        raise
    finally:
        manifest["wall_time_s"] = round(time.perf_counter() - start, 3)
        manifest["simulated_time_s"] = world.env.now
        manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return folder, summary


def _group_sizes(world: World) -> dict[str, tuple[GroupSpec, int]]:
    """Each group of the run: its ``groups`` entry and its initial members (devices)."""
    return {
        gname: (world.group_specs[gname], len(world.initial_members[key]))
        for key, gname in world.group_names.items()
    }


def _secs(t: float) -> str:
    return f"{t:.3g} s"


def run_warnings(
    scenario: Scenario,
    groups: Mapping[str, tuple[GroupSpec, int]],
    events: Iterable[Mapping[str, Any]],
    end: float,
) -> list[str]:
    """What made this run meaningless although it completed, one sentence per problem.

    ``groups`` maps each group to its ``groups`` entry and initial member count; ``events`` is
    the event record; ``end`` the simulated time the run stopped. A group is created when its
    creation commit is accepted by the orderer (``commit_accepted`` of epoch 1) or merged by
    its creator (``commit_merged`` with ``op: create``), or when its history is replayed
    (``history_replayed``: times then count from there); its workload fired when the group has
    an ``app_sent``, ``proposal_sent``, ``workload_skipped`` or ``commit_sent`` event of a
    workload operation (not ``create``, ``resync``, ``readd``). Rules: ``docs/metrics.md``."""
    created: dict[str, float] = {}
    create_sent: dict[str, float] = {}
    fired: set[str] = set()
    origin = 0.0  # the run's clock starts after the groups' histories (sim/warmup.py)
    for e in events:
        kind, group = e["kind"], e.get("group")
        if kind == "history_replayed":
            origin = float(e["t"])
        if not isinstance(group, str):
            continue
        if (
            (kind == "commit_accepted" and e.get("epoch") == 1)
            or (kind == "commit_merged" and e.get("op") == "create")
            or kind == "history_replayed"  # the run starts after it (sim/warmup.py)
        ):
            created.setdefault(group, float(e["t"]))
        elif kind == "commit_sent" and e.get("op") == "create":
            create_sent.setdefault(group, float(e["t"]))
        if kind in ("app_sent", "proposal_sent", "workload_skipped") or (
            kind == "commit_sent" and e.get("op") not in _NOT_WORKLOAD_OPS
        ):
            fired.add(group)
    hint = (
        f"latencies (network.*.latency) are in seconds: compare them with duration "
        f"{_secs(scenario.duration)} and drain {_secs(scenario.drain)}"
    )
    out: list[str] = []
    for group, (spec, members) in groups.items():
        if group not in created:
            if group in create_sent:
                why = (
                    f"its creation commit, sent at t={_secs(create_sent[group])}, was not accepted "
                    f"before the run ended at t={_secs(end)}"
                )
            else:
                why = (
                    f"its creation commit was not sent before the run ended at t={_secs(end)} "
                    "(the members' KeyPackages had not all arrived)"
                )
            out.append(f"group {group} was never created: {why}; {hint}")
            continue
        wl = spec.workload
        rates = [(name, float(getattr(wl, name)), per) for name, per in WORKLOAD_RATES]
        rates = [r for r in rates if r[1] > 0]
        if not rates or group in fired:
            continue
        begin = created[group] + wl.start
        stop = origin + (wl.stop if wl.stop is not None else scenario.duration)
        window = max(0.0, stop - begin)
        expected = sum(rate * (members if per else 1) for _, rate, per in rates) * window
        given = ", ".join(f"{name} {rate:g}" for name, rate, _ in rates)
        if window <= 0:
            after = f" + workload.start {_secs(wl.start)}" if wl.start else ""
            why = (
                f"it would begin at t={_secs(begin)} (the group was created at "
                f"t={_secs(created[group])}{after}), not before its stop at t={_secs(stop)}"
            )
        else:
            why = (
                f"about {expected:.2g} events were expected from t={_secs(begin)} to t={_secs(stop)} "
                f"with {given} and {members} members"
            )
        out.append(
            f"group {group}: the workload never fired (no application message, commit, proposal or "
            f"skipped workload event): {why}"
        )
    return out
