"""Dotted-key overrides (``--seed``, sweep points) applied to the loaded data.

Step 4 of the loader. Each path is checked against the schema before it is set, so a
misspelt sweep key is an error rather than a silent no-op, and a list index must exist in the
file (an override cannot invent a group). A section the file leaves to its defaults is filled
with the schema's default first, so overriding one key in it keeps the others.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from .issues import KeyPath, ScenarioError, ScenarioIssue, format_path, parse_path
from .schema import Scenario
from .typetree import _allowed_keys, _child, _model, _Step
from .validation_issues import _unknown_key

#: The key shown for a problem with an override (it has no place in the file).
OVERRIDE_KEY = "(override)"


def _apply_overrides(data: dict[str, Any], overrides: Mapping[str, object], filename: str) -> list[KeyPath]:
    """Set each dotted key in ``data``; missing mappings on the way are created.

    A path must exist in the schema (a misspelt sweep key must not silently do nothing) and a
    list index must exist in the file (an override cannot invent a group).
    """
    applied: list[KeyPath] = []
    issues: list[ScenarioIssue] = []
    for key, value in overrides.items():
        try:
            path = parse_path(key)
            _set(data, path, value)
        except ValueError as err:
            issues.append(ScenarioIssue(filename, None, OVERRIDE_KEY, str(err)))
            continue
        applied.append(path)
    if issues:
        raise ScenarioError(issues)
    return applied


def _set(data: dict[str, Any], path: KeyPath, value: object) -> None:
    step = _Step(Scenario)
    node: Any = data
    for depth, seg in enumerate(path):
        here = format_path(path[: depth + 1])
        parent = format_path(path[:depth]) or "the top level"
        nxt = _child(step, seg)
        if nxt is None:
            if isinstance(seg, int):
                raise ValueError(f"{here}: {parent} is not a list")
            allowed = _allowed_keys(step)
            if not allowed and typing.get_origin(step.tp) is not dict:
                raise ValueError(f"{here}: {parent} is a single value; it has no keys")
            raise ValueError(f"{here}: {_unknown_key(seg, allowed)}")
        if isinstance(seg, int):
            if not isinstance(node, list) or not 0 <= seg < len(node):
                size = len(node) if isinstance(node, list) else 0
                raise ValueError(f"{here}: no such item ({parent} has {size} in the file)")
        elif not isinstance(node, dict):
            raise ValueError(f"{here}: {parent} is not a mapping in the file")
        if depth == len(path) - 1:
            node[seg] = value
        else:
            if isinstance(seg, str) and node.get(seg) is None:
                node[seg] = _default_section(step, seg)  # a section the file leaves to its defaults
            node, step = node[seg], nxt


def _default_section(step: _Step, seg: str) -> dict[str, Any]:
    """The schema's default for a section the file omits, as data, so that overriding one key
    in it (``network.ds_ds.latency.value``) keeps the rest (its distribution) as defaulted."""
    model = _model(step.tp)
    field = model.model_fields.get(seg) if model is not None else None
    if field is not None:
        default = field.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            return dict(default.model_dump(mode="json"))
    return {}


def _get(data: Any, path: KeyPath) -> object:
    """The value at ``path``: what an override set, quoted when validation blames it."""
    for seg in path:
        data = data[seg]
    return data
