"""YAML text → plain data and a map from every dotted key path to its line.

Steps 1 to 3 of the loader: compose the node tree (nodes carry marks, so every key and list
item has a line), report duplicate keys that PyYAML would silently collapse, construct the
data with safe tags only, and copy it without aliasing (bounded, so an alias "bomb" or a
recursive alias is an error, not a hang). Kept apart because it is the only part that knows
PyYAML's node types.
"""

from __future__ import annotations

from typing import NamedTuple

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .issues import KeyPath, ScenarioError, ScenarioIssue, Segment, format_path

#: Plain data is copied without aliasing; an alias "bomb" must not expand without bound.
_MAX_VALUES = 1_000_000


class _Doc(NamedTuple):
    data: object
    lines: dict[KeyPath, int]
    issues: list[ScenarioIssue]


_KEY_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def _key_value(node: Node) -> Segment | None:
    """The Python value of a mapping key node, if it is one a key path can name."""
    if not isinstance(node, ScalarNode) or node.tag == "tag:yaml.org,2002:merge":
        return None
    try:
        value = _KEY_CONSTRUCTOR.construct_object(node, deep=True)
    except yaml.YAMLError:
        return None
    finally:
        _KEY_CONSTRUCTOR.constructed_objects.clear()
    return value if isinstance(value, str | int | float) or value is None else None


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _duplicates(root: Node, filename: str) -> list[ScenarioIssue]:
    """Keys given twice in one mapping; YAML forbids it but PyYAML keeps the last silently."""
    issues: list[ScenarioIssue] = []
    seen: set[int] = set()

    def walk(node: Node, path: KeyPath) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, MappingNode):
            first: dict[Segment, int] = {}
            for k, v in node.value:
                key = _key_value(k)
                if key is None:
                    continue
                if key in first:
                    msg = f"duplicate key (first at line {first[key]})"
                    issues.append(ScenarioIssue(filename, _line(k), format_path((*path, key)), msg))
                else:
                    first[key] = _line(k)
                walk(v, (*path, key))
        elif isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    walk(root, ())
    return issues


def _line_map(root: Node) -> dict[KeyPath, int]:
    """Every key path in the (merge-flattened) node tree → the line of its key or list item.

    A node reached a second time through an alias is not walked again (aliases can be
    recursive, or nest into an exponential number of paths); lookups below it fall back to the
    alias's own key, which is the line a user would look at anyway.
    """
    lines: dict[KeyPath, int] = {(): _line(root)}
    seen: set[int] = set()

    def walk(node: Node, path: KeyPath) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, MappingNode):
            for k, v in node.value:  # merged pairs first, own pairs last: the last one wins, as in the data
                key = _key_value(k)
                if key is not None:
                    lines[(*path, key)] = _line(k)
                    walk(v, (*path, key))
        elif isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*path, i)] = _line(item)
                walk(item, (*path, i))

    walk(root, ())
    return lines


def _yaml_issue(err: yaml.YAMLError, filename: str) -> ScenarioIssue:
    if isinstance(err, yaml.MarkedYAMLError) and err.problem_mark is not None:
        msg = err.problem or "invalid YAML"
        if err.context:
            ctx_line = f" at line {err.context_mark.line + 1}" if err.context_mark is not None else ""
            msg = f"{msg} ({err.context}{ctx_line})"
        return ScenarioIssue(filename, err.problem_mark.line + 1, "", f"invalid YAML: {msg}")
    return ScenarioIssue(filename, 1, "", f"invalid YAML: {err}")


def _plain(data: object, budget: list[int], active: set[int]) -> object:
    """A deep copy that shares nothing: YAML aliases become independent copies."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooBig
    if isinstance(data, dict | list):
        if id(data) in active:
            raise _Recursive
        active.add(id(data))
        try:
            if isinstance(data, dict):
                return {k: _plain(v, budget, active) for k, v in data.items()}
            return [_plain(v, budget, active) for v in data]
        finally:
            active.discard(id(data))
    return data


class _TooBig(Exception):
    pass


class _Recursive(Exception):
    pass


def _compose(text: str, filename: str) -> _Doc:
    """Parse YAML text into plain data and a line map, or raise ScenarioError."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise ScenarioError(
                [ScenarioIssue(filename, 1, "", "the file is empty (expected a mapping of scenario keys)")]
            )
        if not isinstance(root, MappingNode):
            kind = "a list" if isinstance(root, SequenceNode) else "a single value"
            msg = f"the top level must be a mapping of scenario keys, not {kind}"
            raise ScenarioError([ScenarioIssue(filename, _line(root), "", msg)])
        issues = _duplicates(root, filename)
        raw = loader.construct_document(root)
    except yaml.YAMLError as err:
        raise ScenarioError([_yaml_issue(err, filename)]) from None
    finally:
        loader.dispose()
    try:
        data = _plain(raw, [_MAX_VALUES], set())
    except _Recursive:
        msg = "an alias refers to itself (recursive YAML)"
        raise ScenarioError([ScenarioIssue(filename, 1, "", msg)]) from None
    except _TooBig:
        msg = f"the file expands to more than {_MAX_VALUES} values through aliases"
        raise ScenarioError([ScenarioIssue(filename, 1, "", msg)]) from None
    return _Doc(data, _line_map(root), issues)
