"""docs/scenarios.md is generated from the schema; it must match a fresh generation."""

from __future__ import annotations

import types
import typing
from pathlib import Path

from pydantic import BaseModel

from mlssim.scenario import parse_scenario
from mlssim.scenario.docs import EXAMPLE, generate_markdown
from mlssim.scenario.schema import Scenario

DOCS = Path(__file__).resolve().parent.parent / "docs" / "scenarios.md"


def test_committed_reference_is_current() -> None:
    fresh = generate_markdown()
    committed = DOCS.read_text(encoding="utf-8") if DOCS.exists() else ""
    assert committed == fresh, (
        "docs/scenarios.md is out of date with mlssim/scenario/schema.py: "
        "run `mlssim validate --docs > docs/scenarios.md`"
    )


def test_generation_is_deterministic() -> None:
    assert generate_markdown() == generate_markdown()


def test_example_validates() -> None:
    s = parse_scenario(EXAMPLE, "example.yaml")
    assert s.name == "two-providers"


def _keys(model: type[BaseModel], prefix: str) -> list[str]:
    """Every dotted key of the schema, walked independently of docs.py: also inside optional
    sections (``X | None``) and the values of a mapping of sections (``key.<name>.``)."""
    out = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        out.append(key)
        tp = field.annotation
        if typing.get_origin(tp) in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[0] if len(args) == 1 else tp
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            out += _keys(tp, key + ".")
        elif typing.get_origin(tp) is list:
            (item,) = typing.get_args(tp)
            if isinstance(item, type) and issubclass(item, BaseModel):
                out += _keys(item, key + "[].")
        elif typing.get_origin(tp) is dict:
            value = typing.get_args(tp)[1]
            if isinstance(value, type) and issubclass(value, BaseModel):
                out += _keys(value, key + ".<name>.")
    return out


def test_every_key_is_documented_with_its_description() -> None:
    text = generate_markdown()
    keys = _keys(Scenario, "")
    assert "groups[].workload.app_rate" in keys and "network.ds_ds.latency" in keys
    assert "hardware.profiles.<name>.link.up_mbps" in keys and "population.users" in keys
    for key in keys:
        assert f"| `{key}` |" in text, key
    for form in ("constant", "uniform", "normal", "lognormal", "exponential", "empirical"):
        assert f"| `{form}` |" in text


def test_bounds_and_defaults_are_shown() -> None:
    lines = [line for line in generate_markdown().splitlines() if line.startswith("| `")]
    rows = {line.split(" | ")[0].strip("| `"): line for line in lines}
    assert "≥ 0, < 1" in rows["network.client_ds.loss"]
    assert "cipher suite id" in rows["crypto.suite"] and "`1`" in rows["crypto.suite"]
    assert "*required*" in rows["groups[].size"] and "≥ 2" in rows["groups[].size"]
    assert "`{dist: constant, value: 0.03}`" in rows["network.ds_ds.latency"]


def test_a_link_class_given_without_a_latency_keeps_the_default_the_docs_give(tmp_path: Path) -> None:
    """One truth for the DS–DS default (issue 24): a ``network.ds_ds`` without a latency keeps
    30 ms, and the reference says exactly that, with no other value beside it."""
    from mlssim.scenario import load_scenario

    f = tmp_path / "s.yaml"
    f.write_text(
        "name: s\nduration: 10\nproviders: [{name: a}]\ngroups: [{size: 2}]\nnetwork: {ds_ds: {loss: 0.05}}\n"
    )
    s = load_scenario(f)
    assert s.network.ds_ds.latency.model_dump() == {"dist": "constant", "value": 0.03}
    row = next(line for line in DOCS.read_text().splitlines() if "`network.ds_ds.latency`" in line)
    assert "value: 0.03}`" in row and "0.05" not in row
