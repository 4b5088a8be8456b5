"""One run of one scenario: a folder of results, written even when the run fails.

``runs/<name>/<run-key>/`` holds ``manifest.json`` (scenario hash, seed, version, wall time,
the exception if any — written in ``finally``), ``scenario.json`` (the fully resolved
scenario), ``summary.json``, ``transmissions.csv`` and ``events.jsonl``. A rerun never
silently overwrites a finished run.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .. import __version__
from ..scenario.schema import Empirical, Scenario
from .world import World

__all__ = ["RunExistsError", "run_key", "run_scenario"]


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
