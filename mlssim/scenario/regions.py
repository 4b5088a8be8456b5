"""The latency matrix between regions (issue 20): where providers are, and what the DS–DS link
between two of them takes.

``region_latency.json`` beside this module holds a public measurement (source and date in the
file, and in ``docs/model.md``): average round trips between cloud regions. A pair's one-way
latency is a log-normal whose median is half the mean of both directions' round trips and
whose σ is the file's (an assumption: the source gives averages only); within one region it is
the file's constant. The precedence rule: when both providers of a DS–DS link have a
``region``, this distribution replaces ``network.ds_ds.latency`` for that link; otherwise
``network.ds_ds`` applies (``sim/network.py``).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from .schema_distributions import Constant, Distribution, LogNormal

__all__ = ["MATRIX_PATH", "region_latency", "region_names", "matrix_source"]

MATRIX_PATH = Path(__file__).with_name("region_latency.json")


@cache
def _matrix() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(MATRIX_PATH.read_text(encoding="utf-8"))
    return data


def region_names() -> tuple[str, ...]:
    """The regions the matrix knows, in its order."""
    return tuple(_matrix()["regions"])


def matrix_source() -> tuple[str, str]:
    """The measurement the matrix comes from, and its date."""
    m = _matrix()
    return str(m["source"]), str(m["date"])


def region_latency(a: str, b: str) -> Distribution:
    """One-way DS–DS latency between a provider in region ``a`` and one in ``b`` (s)."""
    m = _matrix()
    if a == b:
        return Constant(value=float(m["intra_region_s"]))
    idx = {r: i for i, r in enumerate(m["regions"])}
    i, j = idx[a], idx[b]
    rtts = [v for v in (m["rtt_ms"][i][j], m["rtt_ms"][j][i]) if v is not None]
    one_way = sum(rtts) / len(rtts) / 2.0 / 1000.0
    return LogNormal(dist="lognormal", median=round(one_way, 6), sigma=float(m["sigma"]))
