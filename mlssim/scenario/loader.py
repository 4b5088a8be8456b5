"""YAML scenario files → validated :class:`~mlssim.scenario.schema.Scenario` objects.

A user who mistypes a key should learn where, not read a pydantic dump, so every problem
becomes one :class:`ScenarioIssue` ``file:line: dotted.key: short message`` and all of a file's
problems are raised together in one :class:`ScenarioError` (desmod ``config.py``: keys named on
failure). The pipeline, and why each step is there:

1. **Compose** the YAML into a node tree (PyYAML ``SafeLoader``): nodes carry marks, so every
   mapping key and list item gets a line. Duplicate keys, which PyYAML would silently collapse,
   are reported here.
2. **Construct** plain data from the same tree (safe tags only) and walk the tree once more to
   map dotted key paths (``groups[0].workload.app_rate``) to lines.
3. **Copy** the data without YAML aliasing, so an override of ``groups[0]`` never changes a
   ``groups[1]`` that was written as ``*alias`` of it.
4. **Override** dotted keys (``--seed``, sweep points); paths are checked against the schema.
5. **Validate** with pydantic and translate each error: pydantic's loc becomes the dotted path
   (discriminator tags dropped), its message a short human one, and the path a line — the
   nearest enclosing key that is in the file when the key itself is missing.
6. **Check** ``Empirical.file`` paths against the scenario's folder: they must exist and hold
   numbers. Paths stay relative (no machine path ever lands in a run folder or a report); a
   run's key hashes the files' contents.
"""

from __future__ import annotations

import difflib
import os
import re
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple, Union

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .samples import load_samples
from .schema import Empirical, Scenario

__all__ = ["ScenarioIssue", "ScenarioError", "load_scenario", "parse_scenario", "format_path", "parse_path"]

Segment = str | int | float | None  # a mapping key as YAML typed it, or a list index
KeyPath = tuple[Segment, ...]

#: The key shown for a problem with an override (it has no place in the file).
OVERRIDE_KEY = "(override)"

#: Plain data is copied without aliasing; an alias "bomb" must not expand without bound.
_MAX_VALUES = 1_000_000


class ScenarioIssue(NamedTuple):
    """One problem in a scenario: where it is and what is wrong, phrased for the user."""

    file: str
    line: int | None  # 1-based; None when the problem has no place in the file (an override)
    key: str  # dotted key path, "" for file-level problems (syntax, not a mapping)
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ScenarioError(Exception):
    """A scenario file (or its overrides) is invalid; ``issues`` lists every problem found.

    The only exception the loader raises on purpose, so a caller (the CLI, the sweep runner)
    catches one class and prints ``str(error)``: one issue per line.
    """

    def __init__(self, issues: Sequence[ScenarioIssue]) -> None:
        self.issues: list[ScenarioIssue] = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))

    def __reduce__(self) -> tuple[type[ScenarioError], tuple[list[ScenarioIssue]]]:
        # a run on a process pool sends its exception back pickled; the default
        # reduction would call ScenarioError(str) and lose the issues
        return (ScenarioError, (self.issues,))


# ---- dotted key paths ---------------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_PATH_TOKEN = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\["([^"\]]*)"\]')
# a path at the start of a validator message: "groups[0].providers: unknown provider 'x'"
_MESSAGE_PATH = re.compile(r"^((?:[A-Za-z_][A-Za-z0-9_]*|\[\d+\]|\.)+): (.+)$", re.S)


def format_path(path: Sequence[Segment]) -> str:
    """``("groups", 0, "size")`` → ``groups[0].size``; keys that are not names are quoted."""
    out = ""
    for seg in path:
        if isinstance(seg, bool) or seg is None:  # YAML keys such as `no:` or `~:`
            out += "[" + ("null" if seg is None else str(seg).lower()) + "]"
        elif not isinstance(seg, str):  # a list index (or a numeric key)
            out += f"[{seg}]"
        elif _IDENT.fullmatch(seg):
            out += f".{seg}" if out else seg
        else:
            out += '["' + seg + '"]'
    return out


def parse_path(text: str) -> KeyPath:
    """The inverse of :func:`format_path`; raises ``ValueError`` on text that is not a path."""
    segs: list[Segment] = []
    pos = 0
    while pos < len(text):
        m = _PATH_TOKEN.match(text, pos)
        dotted = m is not None and m.group(0).startswith(".")
        if m is None or (dotted and pos == 0) or (m.group(1) is not None and pos > 0 and not dotted):
            raise ValueError(f"cannot read key path {text!r} (write it like groups[0].workload.app_rate)")
        name, index, quoted = m.groups()
        segs.append(int(index) if index is not None else name if name is not None else quoted)
        pos = m.end()
    if not segs:
        raise ValueError("empty key path")
    return tuple(segs)


# ---- the schema as a tree of types -------------------------------------------------------------


class _Step(NamedTuple):
    """Where a walk through the schema types stands: the type there and its union discriminator."""

    tp: Any
    discriminator: str | None = None


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _model(tp: Any) -> type[BaseModel] | None:
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _union_models(tp: Any) -> list[type[BaseModel]]:
    if typing.get_origin(tp) in (Union, types.UnionType):
        models = [_model(a) for a in typing.get_args(tp)]
        if models and all(m is not None for m in models):
            return [m for m in models if m is not None]
    return []


def _tag_of(model: type[BaseModel], discriminator: str) -> str | None:
    field = model.model_fields.get(discriminator)
    if field is not None and typing.get_origin(field.annotation) is Literal:
        args = typing.get_args(field.annotation)
        return str(args[0]) if args else None
    return None


def _field_step(field: FieldInfo) -> _Step:
    disc = field.discriminator if isinstance(field.discriminator, str) else None
    return _Step(_strip_optional(field.annotation), disc)


def _child(step: _Step, seg: Segment) -> _Step | None:
    """The type one key below ``step``, or None when the schema has no such key."""
    tp = step.tp
    model = _model(tp)
    if model is not None:
        field = model.model_fields.get(seg) if isinstance(seg, str) else None
        return _field_step(field) if field is not None else None
    origin = typing.get_origin(tp)
    if origin is list:
        return _Step(_strip_optional(typing.get_args(tp)[0])) if isinstance(seg, int) else None
    if origin is dict:
        return _Step(_strip_optional(typing.get_args(tp)[1])) if isinstance(seg, str) else None
    for member in _union_models(tp):  # a tagged union: any member's key will do
        if isinstance(seg, str) and seg in member.model_fields:
            return _field_step(member.model_fields[seg])
    return None


def _resolve_loc(loc: Sequence[Segment]) -> tuple[KeyPath, _Step | None]:
    """A pydantic error loc → the dotted path the user wrote, and the schema type there.

    pydantic puts the discriminator tag of a union member into the loc
    (``latency.uniform.high``) and ``[key]`` after a bad mapping key; neither is in the file.
    """
    path: list[Segment] = []
    step: _Step | None = _Step(Scenario)
    for seg in loc:
        if step is not None:
            members = _union_models(step.tp)
            if members and step.discriminator and isinstance(seg, str):
                chosen = [m for m in members if _tag_of(m, step.discriminator) == seg]
                if chosen:
                    step = _Step(chosen[0])
                    continue
        if seg == "[key]":
            continue
        path.append(seg)
        step = _child(step, seg) if step is not None else None
    return tuple(path), step


def _allowed_keys(step: _Step | None) -> list[str]:
    if step is None:
        return []
    model = _model(step.tp)
    if model is not None:
        return list(model.model_fields)
    keys: list[str] = []
    for member in _union_models(step.tp):
        keys.extend(k for k in member.model_fields if k not in keys)
    return keys


def _tags(step: _Step | None) -> list[str]:
    if step is None or not step.discriminator:
        return []
    return [t for m in _union_models(step.tp) if (t := _tag_of(m, step.discriminator)) is not None]


# ---- YAML with lines ----------------------------------------------------------------------------


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


# ---- overrides -----------------------------------------------------------------------------------


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


# ---- pydantic errors → issues ---------------------------------------------------------------------


def _num(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _show(v: object) -> str:
    """A value as the user wrote it in YAML, for "(got …)"."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "an empty value"
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    return repr(v) if isinstance(v, str) else _num(v)


def _unknown_key(key: Segment, allowed: Sequence[str]) -> str:
    msg = f"unknown key {str(key)!r}" if allowed else "unknown key"
    close = difflib.get_close_matches(str(key), allowed, n=1)
    if close:
        msg += f"; did you mean {close[0]!r}?"
    if allowed:
        msg += f" (allowed: {', '.join(allowed)})"
    return msg


_TYPE_WORDS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
}


def _message(err: ErrorDetails, step: _Step | None) -> str:
    """pydantic's message, made short: ``Input should be greater than or equal to 2`` → ``must be ≥ 2``."""
    kind = err["type"]
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    got = err.get("input")
    bounds = {
        "greater_than_equal": ("≥", "ge"),
        "greater_than": (">", "gt"),
        "less_than_equal": ("≤", "le"),
        "less_than": ("<", "lt"),
    }
    if kind in bounds:
        sign, name = bounds[kind]
        return f"must be {sign} {_num(ctx.get(name))}"
    if kind == "missing":
        return "required key is missing"
    if kind in _TYPE_WORDS:
        if _tags(step):
            example = "{dist: constant, value: 0.05}"
            return f"must be a distribution mapping such as {example} (got {_show(got)})"
        hint = "; write it in quotes" if kind == "string_type" and isinstance(got, bool | int | float) else ""
        return f"must be {_TYPE_WORDS[kind]} (got {_show(got)}{hint})"
    if kind == "literal_error":
        return f"must be {ctx.get('expected', '')} (got {_show(got)})"
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return f"must have at least {n} item{'s' if n != 1 else ''}"
    if kind == "string_too_short":
        n = ctx.get("min_length", 1)
        return "must not be empty" if n == 1 else f"must have at least {n} characters"
    if kind == "string_pattern_mismatch":
        return f"must match {ctx.get('pattern')} (got {_show(got)})"
    if kind == "recursion_loop":
        return "refers to itself through YAML aliases"
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    if msg.startswith("Input should be "):
        msg = "must be " + msg.removeprefix("Input should be ")
    return msg[:1].lower() + msg[1:] if msg[:2] != msg[:2].upper() else msg


class _Context(NamedTuple):
    filename: str
    lines: dict[KeyPath, int]
    data: Mapping[str, Any]
    overrides: dict[KeyPath, object]


def _line_of(ctx: _Context, path: KeyPath) -> int:
    """The line of ``path``, or of the nearest enclosing key in the file (a missing key's parent)."""
    for n in range(len(path), -1, -1):
        if path[:n] in ctx.lines:
            return ctx.lines[path[:n]]
    return 1


def _issue(ctx: _Context, path: KeyPath, message: str) -> ScenarioIssue:
    for opath, value in ctx.overrides.items():
        if path[: len(opath)] == opath:
            msg = f"{message} (set by override {format_path(opath)}={value!r})"
            return ScenarioIssue(ctx.filename, None, format_path(path), msg)
    return ScenarioIssue(ctx.filename, _line_of(ctx, path), format_path(path) or "(top level)", message)


def _provider_names(ctx: _Context) -> list[str]:
    providers = ctx.data.get("providers")
    if not isinstance(providers, list):
        return []
    return [str(p["name"]) for p in providers if isinstance(p, dict) and "name" in p]


def _validator_issues(ctx: _Context, path: KeyPath, step: _Step | None, message: str) -> list[ScenarioIssue]:
    """Issues from a model validator, whose loc is the whole model: find the key it means."""
    if message.startswith("duplicate provider names"):
        # Scenario._references: point at each repeat, not at the top of the file
        first: dict[str, int] = {}
        repeats: list[ScenarioIssue] = []
        providers = ctx.data.get("providers")
        for i, p in enumerate(providers if isinstance(providers, list) else []):
            name = p.get("name") if isinstance(p, dict) else None
            if not isinstance(name, str):
                continue
            npath: KeyPath = (*path, "providers", i, "name")
            if name in first:
                msg = f"duplicate provider name {name!r} (first at providers[{first[name]}])"
                repeats.append(_issue(ctx, npath, msg))
            else:
                first[name] = i
        if repeats:
            return repeats
    m = _MESSAGE_PATH.match(message)
    if m is not None:
        try:
            sub = parse_path(m.group(1))
        except ValueError:
            sub = None
        if sub is not None:
            path, message = (*path, *sub), m.group(2)
            q = re.search(r"'([^']*)'", message)
            if q is not None and (*path, q.group(1)) in ctx.lines:
                path = (*path, q.group(1))  # "providers: unknown provider 'x'" → the key x itself
            if message.startswith("unknown provider") and _provider_names(ctx):
                message += f" (known: {', '.join(_provider_names(ctx))})"
            return [_issue(ctx, path, message)]
    word, _, rest = message.partition(" ")
    if rest and word in _allowed_keys(step):  # "high must be ≥ low" → key high: "must be ≥ low"
        return [_issue(ctx, (*path, word), rest)]
    return [_issue(ctx, path, message)]


def _issues_from(err: ValidationError, ctx: _Context) -> list[ScenarioIssue]:
    issues: list[ScenarioIssue] = []
    for e in err.errors(include_url=False):
        kind = e["type"]
        parent_loc = tuple(e["loc"][:-1])
        path, step = _resolve_loc(tuple(e["loc"]))
        if kind in ("extra_forbidden", "invalid_key"):  # invalid_key: a key YAML typed as a number
            _, parent = _resolve_loc(parent_loc)
            issues.append(_issue(ctx, path, _unknown_key(path[-1], _allowed_keys(parent))))
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            disc = step.discriminator if step is not None and step.discriminator else "dist"
            tags = ", ".join(_tags(step))
            noun = "distribution" if disc == "dist" else disc
            if kind == "union_tag_invalid":
                tag = (e.get("ctx") or {}).get("tag")
                msg = f"unknown {noun} {str(tag)!r} (expected one of {tags})"
            else:
                msg = f"required key is missing: the {noun}, one of {tags}"
            issues.append(_issue(ctx, (*path, disc), msg))
        elif kind in ("value_error", "assertion_error"):
            issues.extend(_validator_issues(ctx, path, step, _message(e, step)))
        else:
            issues.append(_issue(ctx, path, _message(e, step)))
    return issues


# ---- empirical sample files ---------------------------------------------------------------------


def _empiricals(value: object, path: KeyPath) -> Iterator[tuple[KeyPath, Empirical]]:
    if isinstance(value, Empirical):
        yield path, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _empiricals(getattr(value, name), (*path, name))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _empiricals(item, (*path, i))
    elif isinstance(value, dict):
        for k, item in value.items():
            yield from _empiricals(item, (*path, k))


def _check_files(scenario: Scenario, base: Path, ctx: _Context) -> Scenario:
    """Every ``Empirical.file`` exists (relative to the scenario) and holds numeric samples.

    The path stays as written, so a scenario (and the reports that quote it) never holds a path
    of the machine it ran on; runs hash the files' contents into their run key instead."""
    issues: list[ScenarioIssue] = []
    for path, emp in _empiricals(scenario, ()):
        target = base / emp.file
        if not target.is_file():
            why = "a folder, not a file" if target.is_dir() else "no such file"
            issues.append(_issue(ctx, (*path, "file"), f"{why}: {emp.file} (looked for {target})"))
            continue
        try:
            load_samples(str(target.resolve()))
        except (ValueError, OSError, UnicodeDecodeError) as err:
            issues.append(_issue(ctx, (*path, "file"), f"unreadable samples in {emp.file}: {err}"))
    if issues:
        raise ScenarioError(issues)
    return scenario


# ---- entry points ---------------------------------------------------------------------------------


def parse_scenario(
    text: str, filename: str | os.PathLike[str], overrides: Mapping[str, object] | None = None
) -> Scenario:
    """Validate scenario YAML ``text``; ``filename`` names it in messages and anchors relative paths.

    Raises :class:`ScenarioError` listing every problem found, each with file, line and key.
    """
    name = os.fspath(filename)
    doc = _compose(text, name)
    if doc.issues:
        raise ScenarioError(doc.issues)
    data = doc.data
    assert isinstance(data, dict)  # _compose only accepts a top-level mapping
    applied = _apply_overrides(data, overrides, name) if overrides else []
    ctx = _Context(name, doc.lines, data, {p: _get(data, p) for p in applied})
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        issues = _issues_from(err, ctx)
        issues.sort(key=lambda i: (i.line is None, i.line or 0))
        raise ScenarioError(issues) from None
    return _check_files(scenario, Path(name).parent, ctx)


def _get(data: Any, path: KeyPath) -> object:
    for seg in path:
        data = data[seg]
    return data


def load_scenario(path: str | os.PathLike[str], overrides: Mapping[str, object] | None = None) -> Scenario:
    """Read and validate the scenario file at ``path``, after setting ``overrides`` (dotted keys).

    ``overrides`` such as ``{"seed": 3, "groups[0].size": 50}`` are applied before validation,
    so an override is checked like a value in the file. Raises :class:`ScenarioError`, naming
    the file, for everything from a missing file to a bad value.
    """
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([ScenarioIssue(name, None, "", "no such file")]) from None
    except IsADirectoryError:
        raise ScenarioError([ScenarioIssue(name, None, "", "is a folder, not a scenario file")]) from None
    except UnicodeDecodeError as err:
        msg = f"not UTF-8 text (byte {err.start})"
        raise ScenarioError([ScenarioIssue(name, None, "", msg)]) from None
    except OSError as err:
        raise ScenarioError([ScenarioIssue(name, None, "", err.strerror or str(err))]) from None
    return parse_scenario(text, name, overrides)
