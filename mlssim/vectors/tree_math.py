"""``tree-math``: RFC 9420 appendix C array-tree arithmetic."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from ..mls import treemath as tm
from .common import Check


def _opt(f: Callable[[], int]) -> int | None:
    try:
        return f()
    except ValueError:
        return None


def check(case: dict[str, Any]) -> list[str]:
    c = Check()
    n = case["n_leaves"]
    c.eq("n_nodes", tm.node_width(n), case["n_nodes"])
    c.eq("root", tm.root(n), case["root"])
    for i in range(case["n_nodes"]):
        c.eq(f"left[{i}]", _opt(partial(tm.left, i)), case["left"][i])
        c.eq(f"right[{i}]", _opt(partial(tm.right, i, n)), case["right"][i])
        c.eq(f"parent[{i}]", _opt(partial(tm.parent, i, n)), case["parent"][i])
        c.eq(f"sibling[{i}]", _opt(partial(tm.sibling, i, n)), case["sibling"][i])
    return c.errors
