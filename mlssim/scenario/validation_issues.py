"""pydantic validation errors → :class:`ScenarioIssue` lines a user can act on.

Step 5 of the loader. pydantic's location becomes the dotted path the user wrote
(discriminator tags dropped), its message a short human one (``must be ≥ 2``, ``unknown key
'x'; did you mean 'y'?``), and the path a line: the key's own, or the nearest enclosing key
in the file when the key is missing. A model validator's message that starts with a path
(``groups[0].providers: unknown provider 'x'``) is pointed at that key; a value set by an
override is blamed on the override. The wording lives here, apart from the parsing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from .issues import KeyPath, ScenarioIssue, Segment, format_path, parse_path
from .typetree import _allowed_keys, _resolve_loc, _Step, _tags

# a path at the start of a validator message: "groups[0].providers: unknown provider 'x'"
_MESSAGE_PATH = re.compile(r"^((?:[A-Za-z_][A-Za-z0-9_]*|\[\d+\]|\.)+): (.+)$", re.S)


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
