"""Summaries as flat records: the one flattening of ``summary.json`` that ``results.csv`` and the
analysis API share.

A summary is nested (``commits.sent``, ``groups.<group>.members``, ``healing.cases``); a table
wants one value per column. :func:`flatten` joins nested mapping keys with dots and keeps
everything else (numbers, strings, ``None``, lists such as ``healing.cases``) as it is, so no
value is dropped and every column name is the dotted path ``docs/metrics.md`` documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["flatten"]


def flatten(summary: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}, "c": [..]}`` → ``{"a.b": 1, "c": [..]}``, keys in sorted order.

    An empty mapping (e.g. ``healing`` without compromises) gives no column; key order is
    sorted so that the columns do not depend on the order a summary was built in."""
    out: dict[str, Any] = {}
    for key in sorted(summary):
        value = summary[key]
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out
