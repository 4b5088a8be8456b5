"""Results for analysis: a sweep's runs as pandas tables, without parsing JSON by hand.

From ``mlssim sweep scenario.yaml --out runs`` to a notebook::

    import mlssim.analysis as ma

    runs = ma.load_runs("runs/wg-bandwidth")   # one row per run, every summary key a column
    runs.groupby("federation.fanout")["commits.download_bytes_mean"].describe()
    tx = ma.load_transmissions("runs/wg-bandwidth")   # one row per transmission, tagged by run

``load_runs`` takes a sweep folder (``<out>/<name>``, holding ``results.csv``) or one run folder
(holding ``summary.json``). Its columns: the sweep's grid keys (as ``results.csv`` writes them),
``replication``, ``seed``, ``run_key``, ``status``, ``wall_time_s``, then every key of
``summary.json`` flattened with dots (:func:`mlssim.runner.summaries.flatten`; the metrics are
documented in ``docs/metrics.md``). Runs that did not complete keep their row, with empty
metrics, so nothing that failed disappears from a table.
"""

from __future__ import annotations

import csv
import json
from os import PathLike
from pathlib import Path
from typing import Any

import pandas as pd

from ..runner.summaries import flatten

__all__ = ["load_runs", "load_transmissions", "run_folders"]

#: columns ``results.csv`` writes after the grid keys, before the summary keys
_RUN_COLUMNS = ("replication", "seed", "run_key", "status")


def _grid_value(text: str) -> Any:
    """A grid value as ``results.csv`` wrote it: numbers and JSON as values, the rest as text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _sweep_rows(folder: Path) -> list[dict[str, Any]]:
    """The runs a sweep folder's ``results.csv`` lists: grid values, replication, seed, key, status."""
    with (folder / "results.csv").open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        grid = header[: header.index("replication")]
        rows = []
        for line in reader:
            cells = dict(zip(header, line, strict=True))
            row: dict[str, Any] = {k: _grid_value(cells[k]) for k in grid}
            row["replication"] = int(cells["replication"])
            row["seed"] = int(cells["seed"])
            row["run_key"] = cells["run_key"]
            row["status"] = cells["status"]
            rows.append(row)
    return rows


def run_folders(path: str | PathLike[str]) -> list[tuple[dict[str, Any], Path]]:
    """Each run of a sweep folder (or the one run folder ``path``) with its identifying columns."""
    folder = Path(path)
    if (folder / "results.csv").is_file():
        return [(row, folder / row["run_key"]) for row in _sweep_rows(folder)]
    if (folder / "manifest.json").is_file():
        manifest = json.loads((folder / "manifest.json").read_text())
        row = {"seed": manifest.get("seed"), "run_key": folder.name, "status": manifest.get("status")}
        return [(row, folder)]
    raise FileNotFoundError(
        f"{folder}: neither a sweep folder (results.csv) nor a run folder (manifest.json)"
    )


def load_runs(path: str | PathLike[str]) -> pd.DataFrame:
    """One row per run: identifying columns, wall time, then every summary key flattened."""
    records = []
    for row, folder in run_folders(path):
        record = dict(row)
        manifest_path = folder / "manifest.json"
        if manifest_path.is_file():
            record["wall_time_s"] = json.loads(manifest_path.read_text()).get("wall_time_s")
        summary_path = folder / "summary.json"
        if record.get("status") == "complete" and summary_path.is_file():
            record.update(flatten(json.loads(summary_path.read_text())))
        records.append(record)
    return pd.DataFrame.from_records(records)


def load_transmissions(path: str | PathLike[str]) -> pd.DataFrame:
    """Every transmission of every complete run (``transmissions.csv``), with the run's
    identifying columns in front. Runs written with ``output.transmissions: false`` have none."""
    frames = []
    for row, folder in run_folders(path):
        tx = folder / "transmissions.csv"
        if row.get("status") != "complete" or not tx.is_file():
            continue
        frame = pd.read_csv(tx)
        tags = [(k, v) for k, v in row.items() if k != "status"]
        for i, (key, value) in enumerate(tags):
            frame.insert(i, key, [value] * len(frame))
        frames.append(frame)
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)
