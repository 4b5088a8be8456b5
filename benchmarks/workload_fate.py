"""What became of a sweep's workload commits, per series: when the group's creation commit was
merged, and how many workload updates per run merged, were still being retried when the run
stopped (``commit_abandoned``) or gave up after the maximum retries (``commit_gave_up``).

The collision rate is per attempt and the convergence percentiles are over merged commits;
neither shows a group that barely commits. Reads each run's ``events.jsonl`` (or a gzipped
``events.jsonl.gz``).

Usage: ``python benchmarks/workload_fate.py runs/wg-processing [--size 1000 --size 3000]``.
"""

from __future__ import annotations

import argparse
import collections
import csv
import gzip
import json
import statistics
from pathlib import Path
from typing import IO

_FATES = ("commit_merged", "commit_abandoned", "commit_gave_up")


def _events(folder: Path) -> IO[str]:
    gz = folder / "events.jsonl.gz"
    return gzip.open(gz, "rt") if gz.is_file() else (folder / "events.jsonl").open()


def _created(made: list[float], runs: int) -> str:
    """The mean creation time over the runs whose group was created, and how many were:
    a mean over survivors must say so."""
    if not made:
        return f"never (0 of {runs})"
    mean = f"{statistics.fmean(made):.1f}"
    return mean if len(made) == runs else f"{mean} ({len(made)} of {runs} runs; the others never)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep", type=Path, help="a sweep folder (holds results.csv)")
    ap.add_argument("--size", action="append", default=[], help="only these groups[0].size values")
    args = ap.parse_args()
    rows = list(csv.DictReader((args.sweep / "results.csv").open()))
    grid = list(rows[0])[: list(rows[0]).index("replication")]  # results.csv: grid keys first
    out: dict[tuple[str, ...], list[tuple[float | None, int, int, int]]] = collections.defaultdict(list)
    for r in rows:
        if r["status"] != "complete" or (args.size and r.get("groups[0].size") not in args.size):
            continue
        created, c = None, collections.Counter()
        with _events(args.sweep / r["run_key"]) as f:
            for line in f:
                if '"commit_' not in line:
                    continue
                e = json.loads(line)
                if e["kind"] == "commit_merged" and e.get("op") == "create":
                    created = e["t"]
                elif e["kind"] in _FATES and e.get("op") == "update":
                    c[e["kind"]] += 1
        out[tuple(r[k] for k in grid)].append(
            (created, c["commit_merged"], c["commit_abandoned"], c["commit_gave_up"])
        )
    print(" | ".join([*grid, "runs", "created (s)", "merged", "abandoned", "gave up"]))
    for key, v in out.items():  # in results.csv's (grid) order
        made = [x[0] for x in v if x[0] is not None]
        print(
            " | ".join([*key, str(len(v)), _created(made, len(v))])
            + " | "
            + " | ".join(f"{statistics.fmean(x[i] for x in v):.1f}" for i in (1, 2, 3))
        )


if __name__ == "__main__":
    main()
