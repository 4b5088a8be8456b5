"""Samples for empirical distributions: the numbers of a CSV file's first column."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

__all__ = ["load_samples"]


@cache
def load_samples(path: str) -> tuple[float, ...]:
    """Numbers of the first column of a CSV; lines that are not numbers (a header) are skipped."""
    out: list[float] = []
    with Path(path).open(newline="") as f:
        for row in csv.reader(f):
            if not row:
                continue
            try:
                out.append(float(row[0]))
            except ValueError:
                continue
    if not out:
        raise ValueError(f"{path}: no numeric samples")
    return tuple(out)
