"""docs/metrics.md documents every key summary.json can hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlssim.scenario import load_scenario
from mlssim.sim.world import World

ROOT = Path(__file__).resolve().parents[1]
#: maps whose keys are data (message types, group names), documented by a placeholder
PLACEHOLDER = {
    "bytes_by_type_and_role": "<type>",
    "client_bytes_by_type": "<type>",
    "groups": "<group>",
    "by_mode": "<mode>",
    "by_kind": "<kind>",
    "by_ds": "<provider>",
}
ROLE_LEVEL = {"bytes_by_type_and_role"}


def key_paths(d: dict[str, Any], prefix: str = "", parent: str = "") -> set[str]:
    out: set[str] = set()
    for k, v in d.items():
        if parent in PLACEHOLDER:
            name = PLACEHOLDER[parent]
        elif parent == "<role>":
            name = "<role>"
        else:
            name = k
        path = f"{prefix}{name}"
        if not isinstance(v, dict) or not prefix:
            out.add(path)  # leaves, and every top-level key
        if isinstance(v, dict):
            nxt = "<role>" if parent in ROLE_LEVEL else k
            out |= key_paths(v, f"{path}.", nxt)
    return out


def test_every_summary_key_is_documented() -> None:
    w = World(load_scenario(ROOT / "scenarios" / "every-key.yaml"), base_dir=ROOT / "scenarios")
    w.run()
    doc = (ROOT / "docs" / "metrics.md").read_text()
    paths = key_paths(w.summary())
    assert "bytes_by_type_and_role.<type>.<role>.bytes" in paths
    missing = sorted(p for p in paths if f"`{p}`" not in doc and not _covered(p, doc))
    assert not missing, f"docs/metrics.md lacks: {missing}"


def _covered(path: str, doc: str) -> bool:
    """``a.b.c`` is covered when its parent row lists ``c`` (e.g. `mean`, `max`, `total`)."""
    parent, _, leaf = path.rpartition(".")
    return bool(parent) and f"`{parent}`" in doc and f"`{leaf}`" in doc
