"""docs/events.md documents every event kind and field `events.jsonl` can hold (issue 24, item 3).

Two sources: the shipped scenarios, run at their base point (each takes well under a second),
give what runs really emit; a scan of ``mlssim/sim/`` for ``recorder.event(now, "kind", f=…)``
calls gives every kind and keyword field in the code, including kinds no shipped run emits.
The doc is read from its table of kinds (one row per kind: `` `kind` | `f1`, `f2` | meaning``),
so a kind added later needs only its row.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

from mlssim.scenario import load_scenario
from mlssim.sim.world import World

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "events.md"
#: every event has these (Recorder.event adds them)
COMMON = {"t", "kind"}
#: too slow for a test (minutes); its kinds are those of quickstart
SLOW = {"scale-10k.yaml"}
_NAME = re.compile(r"`([A-Za-z0-9_]+)`")


def documented() -> dict[str, set[str]]:
    """Each kind in the doc's table of kinds → the fields its row lists."""
    out: dict[str, set[str]] = {}
    in_table = False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if cells[:2] == ["kind", "fields"]:
            in_table = True
            continue
        if not cells:
            in_table = False
            continue
        if not in_table or set(cells[0]) <= {"-", " "}:
            continue
        kind = _NAME.fullmatch(cells[0])
        assert kind is not None, f"docs/events.md: a kind row must start with `kind`: {line}"
        assert kind.group(1) not in out, f"docs/events.md: {kind.group(1)} has two rows"
        out[kind.group(1)] = set(_NAME.findall(cells[1]))
    return out


def emitted_in_code() -> dict[str, set[str]]:
    """Every ``….recorder.event(now, "kind", field=…)`` call under mlssim/sim/: kind → fields."""
    out: dict[str, set[str]] = defaultdict(set)
    for path in sorted((ROOT / "mlssim" / "sim").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if node.func.attr != "event" or owner_name != "recorder":
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            assert len(node.args) >= 2, f"{where}: recorder.event needs a time and a kind"
            kind = node.args[1]
            assert isinstance(kind, ast.Constant) and isinstance(kind.value, str), (
                f"{where}: the event kind must be a string literal (so docs/events.md can be checked)"
            )
            out[kind.value] |= {k.arg for k in node.keywords if k.arg is not None}
    return dict(out)


def emitted_by_runs() -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        if path.name in SLOW:
            continue
        scenario = load_scenario(path).model_copy(update={"sweep": None})
        world = World(scenario, base_dir=path.parent)
        world.run()
        for event in world.recorder.events:
            out[event["kind"]] |= set(event) - COMMON
    return dict(out)


def _undocumented(found: dict[str, set[str]], doc: dict[str, set[str]]) -> list[str]:
    missing = [f"kind {k}" for k in sorted(found) if k not in doc]
    missing += [f"{k}.{f}" for k in sorted(found) if k in doc for f in sorted(found[k] - doc[k])]
    return missing


def test_doc_table_is_read() -> None:
    doc = documented()
    assert doc["commit_merged"] >= {"latency", "op", "epoch"}
    assert len(doc) >= 40


def test_every_kind_and_field_in_the_code_is_documented() -> None:
    code = emitted_in_code()
    assert "workload_skipped" in code and "commit_sent" in code  # the scan finds calls
    missing = _undocumented(code, documented())
    assert not missing, f"docs/events.md lacks: {missing}"


def test_every_documented_kind_exists() -> None:
    stale = sorted(set(documented()) - set(emitted_in_code()))
    assert not stale, f"docs/events.md documents kinds mlssim/sim/ never records: {stale}"


def test_every_kind_and_field_the_shipped_scenarios_emit_is_documented() -> None:
    runs = emitted_by_runs()
    assert {"commit_merged", "epoch", "fork_switch", "compromise", "device_add"} <= set(runs)
    missing = _undocumented(runs, documented())
    assert not missing, f"docs/events.md lacks: {missing}"
