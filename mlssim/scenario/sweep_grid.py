"""The ``sweep:`` grid, checked when the file is loaded rather than when the sweep runs.

A misspelt grid key or a bad grid value used to surface only in ``mlssim sweep``, one at a time
and without a line. The base load (so ``mlssim validate``, ``run`` and ``sweep`` alike) checks
every grid key against the schema and every value set alone on the file, through the same
override machinery a sweep point uses, and reports each problem at its place in the grid:

* a key problem at the key's line, under ``sweep.grid["KEY"]``:
  ``sweep.grid["groups[0].sise"]: unknown key 'sise'; did you mean 'size'? (allowed: …)``;
* a value problem at the line of the value's list item, under ``sweep.grid["KEY"][i]`` (``i``
  counts the key's values from 0), with the message the file would get holding that value:
  ``sweep.grid["federation.fanout"][1]: federation.fanout: must be 'plain', 'split' or 'pre' …``;
* a combination problem (values valid alone, not together), found when ``expand`` loads the
  point, at the line of the first grid key involved, under ``sweep.grid["KEY"]``:
  ``sweep.grid["federation.fanout"]: at sweep point mls.handshake=private, federation.fanout=split: …``.

The grid key is quoted as any key that is not a plain name is (:func:`format_path`), so the
issue's key reads back with ``parse_path`` and matches what the schema says of the same entry
(``sweep.grid["groups[0].size"]: must be a list``).

Each value costs one copy and one validation of the base data; the data itself (and so the
Scenario the loader returns) is never changed. Values are judged against the base file, so they
are checked only when the base is valid; keys are checked always.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .issues import KeyPath, ScenarioIssue, format_path, parse_path
from .overrides import _set
from .validation_issues import _Context, _line_of

__all__ = ["grid_issues", "point_issues"]

#: Validates a copy of the scenario data and returns its issues (none: valid); from the loader.
Judge = Callable[[dict[str, Any]], list[ScenarioIssue]]

_GRID: KeyPath = ("sweep", "grid")


def _shown_key(key: str, *index: int) -> str:
    """How a grid entry (or one of its values) is named in an issue: ``sweep.grid["KEY"][i]``."""
    return format_path((*_GRID, key, *index))


def _inner(issue: ScenarioIssue) -> str:
    """An issue of a trial load as text without its place (the grid gives the place)."""
    return f"{issue.key}: {issue.message}" if issue.key else issue.message


def _trial(data: Mapping[str, Any], settings: Sequence[tuple[KeyPath, object]]) -> dict[str, Any]:
    """A copy of ``data`` with ``settings`` set and no sweep, as ``expand`` loads a point.

    Raises ``ValueError`` (from ``_set``) when a path does not fit the schema or the file."""
    trial = copy.deepcopy(dict(data))
    for path, value in settings:
        if path[0] == "sweep":  # expand drops the section after setting the point: a silent no-op
            raise ValueError("a sweep cannot vary its own section")
        _set(trial, path, copy.deepcopy(value))  # the value stays the grid's own, unchanged
    trial["sweep"] = None
    return trial


def _grid(data: Mapping[str, Any]) -> dict[Any, Any]:
    sweep = data.get("sweep")
    grid = sweep.get("grid") if isinstance(sweep, dict) else None
    return grid if isinstance(grid, dict) else {}


def grid_issues(ctx: _Context, judge: Judge | None) -> list[ScenarioIssue]:
    """Every problem of the grid in ``ctx.data``, in line order.

    Values are checked only with a ``judge``, which the loader gives when the base is valid; a
    grid of the wrong shape (a key that is not text, values that are not a list) is left to
    the schema's own message."""
    issues: list[ScenarioIssue] = []
    for key, values in _grid(ctx.data).items():
        if not isinstance(key, str):
            continue
        where = (*_GRID, key)
        items = values if isinstance(values, list) else []
        try:
            path = parse_path(key)
            first = _trial(ctx.data, [(path, items[0] if items else None)])
        except ValueError as err:
            msg = str(err).removeprefix(f"{key}: ")  # the key is already in the issue's key
            issues.append(ScenarioIssue(ctx.filename, _line_of(ctx, where), _shown_key(key), msg))
            continue
        if judge is None:
            continue
        for i, value in enumerate(items):
            trial = first if i == 0 else _trial(ctx.data, [(path, value)])
            line = _line_of(ctx, (*where, i))
            shown = _shown_key(key, i)
            issues.extend(ScenarioIssue(ctx.filename, line, shown, _inner(p)) for p in judge(trial))
    issues.sort(key=lambda i: i.line or 0)
    return issues


def _value_text(value: object) -> str:
    """A grid value as YAML flow text: ``split``, ``0.02``, ``null``, ``true``."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _overlaps(a: KeyPath, b: KeyPath) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _involved(issue: ScenarioIssue, keys: Sequence[str]) -> str:
    """The grid key a point's problem is about: the first whose path holds or lies under the
    problem's key, else the first named in its message (a rule across keys), else the first."""
    try:
        target: KeyPath | None = parse_path(issue.key)
    except ValueError:
        target = None
    for key in keys:
        try:
            if target is not None and _overlaps(parse_path(key), target):
                return key
        except ValueError:
            continue
    return next((key for key in keys if key in issue.message), keys[0])


def point_issues(
    issues: Sequence[ScenarioIssue], point: Sequence[tuple[str, object]], ctx: _Context
) -> list[ScenarioIssue]:
    """A sweep point's problems, each at the line of the grid key it involves, in line order.

    The point's base has been validated before (``expand`` loads it first), so every problem of
    the point's load is the combination's."""
    keys = [key for key, _ in point]
    shown = ", ".join(f"{key}={_value_text(value)}" for key, value in point)
    out: list[ScenarioIssue] = []
    for issue in issues:
        key = _involved(issue, keys)
        line = _line_of(ctx, (*_GRID, key))
        msg = f"at sweep point {shown}: {_inner(issue)}"
        out.append(ScenarioIssue(ctx.filename, line, _shown_key(key), msg))
    out.sort(key=lambda i: i.line or 0)
    return out
