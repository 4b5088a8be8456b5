"""The scenario reference (``docs/scenarios.md``), generated from the schema.

The schema's field descriptions and constraints are the one source of truth; this module only
arranges them, so the reference cannot drift from what the loader accepts (a test compares the
committed file with a fresh generation). Every key appears as a dotted path with its type,
default, bounds and meaning; defaults are read from the models themselves, including the
different defaults a parent gives a nested section (``network.ds_ds`` vs ``network.client_ds``).
"""

from __future__ import annotations

import typing
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .loader import ScenarioError, parse_scenario
from .schema import DEFAULT_LATENCY, Constant, Distribution, Scenario
from .typetree import _strip_optional, _union_models

__all__ = ["EXAMPLE", "generate_markdown"]

#: The example shown in the reference; a test checks that it validates.
EXAMPLE = """\
name: two-providers
seed: 7
duration: 120              # seconds of workload
providers:
  - name: alpha
  - name: beta
network:
  client_ds:
    latency: {dist: lognormal, median: 0.04, sigma: 0.5}
  ds_ds:
    latency: {dist: uniform, low: 0.02, high: 0.08}
    loss: 0.01
groups:
  - name: team
    count: 2
    size: 10
    providers: {alpha: 2, beta: 1}
    workload:
      app_rate: 0.05         # messages per member per second
      update_rate: 0.001     # path updates per member per second
"""

# the example, broken in three places, to show what errors look like
_BROKEN = (
    EXAMPLE.replace("sigma: 0.5", "sigma: -0.5")
    .replace("size: 10", "size: 1")
    .replace("update_rate:", "update_rat:")
)

# Rules that span several keys live in model validators and the loader, not in field
# constraints, so they are listed here by hand; keep them in step with schema*.py.
_RULES = [
    "`providers[].name` values are unique.",
    "The keys of `groups[].providers` and the value of `groups[].owner` name providers from "
    "`providers[].name`.",
    "`groups[].providers`, when given, is not empty and its weights are ≥ 0 with a positive sum.",
    "In `dist: uniform`, `high` ≥ `low`.",
    "In `dist: empirical`, `file` is read relative to the scenario file's folder and must exist; the loaded "
    "scenario holds its absolute path.",
    "Every distribution mapping names its form in `dist`, also `constant` (`{dist: constant, value: 0.05}`).",
    "`hardware.profiles` keeps the built-in `phone`, `laptop` and `server` profiles (sources of their "
    "numbers in `mlssim/scenario/schema_hardware.py`) unless a profile of the same name is given; every "
    "profile named in `hardware.mix` exists, and the keys of `hardware.mix.providers` name providers.",
    "`hardware.calibration` other than `default` is read relative to the scenario file's folder, must be a "
    "calibration file (`mlssim calibrate`) and must hold costs for `crypto.suite`.",
    "Precedence: a client's profile link replaces `network.client_ds` for that client's links (rates each "
    "way, its latency; loss and retransmission stay the class's); a profile without a link keeps "
    "`network.client_ds`; without a `hardware` section nothing changes (and processing takes no time).",
    "Precedence (regions): a DS–DS link whose two providers both have a `providers[].region` takes the "
    "latency matrix's distribution for that pair (`mlssim/scenario/region_latency.json`, source and date in "
    "the file; within one region its constant) instead of `network.ds_ds.latency`; bandwidth and loss stay "
    "`network.ds_ds`'s; any link with a provider without a region keeps `network.ds_ds`; without regions "
    "nothing changes. Every `providers[].region` is a region of the matrix.",
    "`faults`: the providers a fault names (`providers`, `sides`, `random[].providers`) exist; no provider "
    "is on two sides of one fault; two scripted `down` faults of one provider do not overlap; a scripted "
    "fault ends by `duration` (random ones are cut there: the drain is fault-free); `down` names providers, "
    "`partition` two or more sides, `degrade` providers or sides and `extra_latency` or `loss`. "
    "`faults.failover` applies to `single` and `hub` only (leaderless designs have no orderer to move).",
    "Each `sweep.grid` key is a path the schema knows (outside `sweep` itself), and each of its values "
    'validates when set alone on the file; `mlssim validate` names a problem `sweep.grid["KEY"]` (the key) '
    'or `sweep.grid["KEY"][i]` (its value i, from 0) at that line. Values valid alone but not together '
    "are reported by `mlssim sweep`, at the line of the grid key involved.",
]


# ---- rendering pieces -----------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _num(v: float) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def _yaml(value: object) -> str:
    """A value as it would be written in a scenario file (flow style)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return _num(value)
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    return str(value)


def _type(tp: Any, path: str) -> str:
    inner = _strip_optional(tp)
    text = _bare_type(inner, path)
    return f"{text} (or null)" if inner is not tp else text


def _bare_type(tp: Any, path: str) -> str:
    if _union_models(tp):
        return "distribution"
    if typing.get_origin(tp) is Literal:
        choices = typing.get_args(tp)
        if len(choices) == 1:
            return f"`{choices[0]}` (the only choice so far)"
        return "one of " + ", ".join(f"`{a}`" for a in choices)
    if typing.get_origin(tp) is list:
        (item,) = typing.get_args(tp)
        if _is_model(item):
            return f"list of mappings (see `{path}[]`)"
        return f"list of {_bare_type(item, path)}s"
    if typing.get_origin(tp) is dict:
        k, v = typing.get_args(tp)
        if _is_model(v):  # its keys are documented under path.<name>
            return f"mapping name → mapping (see `{path}.<name>`)"
        return f"mapping {_bare_type(k, path)} → {_bare_type(v, path)}"
    if _is_model(tp):
        return f"mapping (see `{path}`)"
    names = {float: "number", int: "integer", bool: "boolean", str: "string"}
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _bounds(field: FieldInfo) -> str:
    out: list[str] = []
    is_list = typing.get_origin(_strip_optional(field.annotation)) is list
    for m in field.metadata:
        if isinstance(m, at.Ge):
            out.append(f"≥ {_num(m.ge)}")  # type: ignore[arg-type]
        elif isinstance(m, at.Gt):
            out.append(f"> {_num(m.gt)}")  # type: ignore[arg-type]
        elif isinstance(m, at.Le):
            out.append(f"≤ {_num(m.le)}")  # type: ignore[arg-type]
        elif isinstance(m, at.Lt):
            out.append(f"< {_num(m.lt)}")  # type: ignore[arg-type]
        elif isinstance(m, at.MinLen):
            n = m.min_length
            if is_list:
                out.append(f"at least {n} item{'s' if n != 1 else ''}")
            else:
                out.append("not empty" if n == 1 else f"at least {n} characters")
        elif isinstance(m, at.MaxLen):
            out.append(f"at most {m.max_length}")
        elif getattr(m, "pattern", None):
            out.append(f"matches `{m.pattern}`")
    return ", ".join(out)


def _default(field: FieldInfo, parent_default: BaseModel | None, name: str, parent_path: str) -> str:
    """The default of a key; where the parent's default differs from the field's own, both."""
    if field.is_required():
        return "*required*"
    own = field.get_default(call_default_factory=True)
    link = parent_path.removeprefix("network.")
    if name == "latency" and link in DEFAULT_LATENCY:
        # NetworkSpec fills a link class given without a latency with its class's default
        own = Constant(value=DEFAULT_LATENCY[link])
    value = getattr(parent_default, name) if parent_default is not None else own
    if _is_model(type(value)) and not _union_models(_strip_optional(field.annotation)):
        return "see section"
    text = f"`{_yaml(value)}`"
    if value != own:
        text += f" (`{_yaml(own)}` when `{parent_path}` is given without this key)"
    return text


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    lines = ["| key | type | default | bounds | description |", "| --- | --- | --- | --- | --- |"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _doc(model: type[BaseModel]) -> str:
    return " ".join((model.__doc__ or "").split())


# ---- sections ---------------------------------------------------------------------------------------


def _sections(
    model: type[BaseModel], path: str, default: BaseModel | None
) -> Iterator[tuple[str, type[BaseModel], list[tuple[str, ...]]]]:
    """(section path, model, rows) for ``model`` and every model nested in it, depth first."""
    rows: list[tuple[str, ...]] = []
    nested: list[tuple[type[BaseModel], str, BaseModel | None]] = []
    for name, field in model.model_fields.items():
        key = f"{path}.{name}" if path else name
        tp = _strip_optional(field.annotation)
        rows.append(
            (
                f"`{key}`",
                _type(field.annotation, key),
                _default(field, default, name, path),
                _bounds(field),
                field.description or "",
            )
        )
        if _is_model(tp):
            child_default = None
            if not field.is_required():
                child_default = (
                    getattr(default, name)
                    if default is not None
                    else field.get_default(call_default_factory=True)
                )
            nested.append((tp, key, child_default))
        elif typing.get_origin(tp) is list and _is_model(typing.get_args(tp)[0]):
            nested.append((typing.get_args(tp)[0], f"{key}[]", None))
        elif typing.get_origin(tp) is dict and _is_model(typing.get_args(tp)[1]):
            nested.append((typing.get_args(tp)[1], f"{key}.<name>", None))
    yield path, model, rows
    for child, child_path, child_default in nested:
        yield from _sections(child, child_path, child_default)


def _distributions() -> list[str]:
    members = _union_models(typing.get_args(Distribution)[0])  # Annotated[Union[...], Field(...)]
    lines = [
        "## Distributions",
        "",
        "A key of type *distribution* holds a mapping whose `dist` names the form; the other keys are",
        "the form's parameters. `dist` is always required, also for `constant`.",
        "",
        "| `dist` | keys | meaning |",
        "| --- | --- | --- |",
    ]
    for m in members:
        tag = typing.get_args(m.model_fields["dist"].annotation)[0]
        params = []
        for name, field in m.model_fields.items():
            if name == "dist":
                continue
            bounds = _bounds(field)
            desc = field.description or ""
            params.append(
                f"`{name}` ({_bare_type(_strip_optional(field.annotation), name)}"
                + (f", {bounds}" if bounds else "")
                + f"): {desc}"
            )
        lines.append(f"| `{tag}` | {_cell('; '.join(params))} | {_cell(_doc(m))} |")
    return lines


def _error_example() -> list[str]:
    try:
        parse_scenario(_BROKEN, "scenarios/example.yaml")
    except ScenarioError as err:
        shown = str(err)
    else:  # pragma: no cover - the broken example must be broken
        raise AssertionError("the broken example in docs.py validates")
    return ["```text", "$ mlssim validate scenarios/example.yaml", shown, "```"]


def generate_markdown() -> str:
    """The full reference as Markdown, ending in one newline; the same text on every call."""
    out = [
        "# Scenario files",
        "",
        "<!-- Generated from mlssim/scenario/schema.py by `mlssim validate --docs > docs/scenarios.md`;",
        "     edit the schema's descriptions, not this file. -->",
        "",
        "A scenario is a YAML file describing one simulation: the providers of a federation, the",
        "network between them, the protocol choices, and the groups with their workloads.",
        "`mlssim validate FILE...` checks files without running them. Unknown keys are errors, and every",
        "error names the file, the line and the dotted key:",
        "",
        *_error_example(),
        "",
        "Units: seconds for times, bytes for sizes, bits per second for bandwidth. Keys are written as",
        "dotted paths: `groups[].workload.app_rate` is `app_rate` under `workload` in every item of the",
        "list `groups`. Runs and sweeps set keys by the same paths with an index, e.g.",
        "`groups[0].size` (an override); a path the schema does not know is an error.",
        "",
        "## Example",
        "",
        "```yaml",
        EXAMPLE.rstrip("\n"),
        "```",
        "",
    ]
    for path, model, rows in _sections(Scenario, "", None):
        title = f"`{path}`" if path else "Top level"
        out += [f"## {title}", "", _doc(model), "", *_table(rows), ""]
    out += [*_distributions(), "", "## Rules across keys", ""]
    out += [f"- {r}" for r in _RULES]
    return "\n".join(out) + "\n"
