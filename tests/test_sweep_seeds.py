"""Common random numbers in sweeps (issue 18, item 1): replication r has the same seed at every
grid point by default, so two designs meet the same workload arrivals."""

from __future__ import annotations

from pathlib import Path

from mlssim.runner.sweep import derive_seed, expand
from mlssim.sim.world import World

SWEEP = """\
name: paired
seed: 11
duration: 40
drain: 10
crypto: {family: model}
providers: [{name: a}, {name: b}]
groups: [{size: 6, workload: {app_rate: 0.05, update_rate: 0.01}}]
sweep:
  grid:
    federation.fanout: [plain, split]
  replications: 3
"""


def write(tmp_path: Path, seeds: str | None = None) -> Path:
    f = tmp_path / "paired.yaml"
    f.write_text(SWEEP + (f"  seeds: {seeds}\n" if seeds else ""))
    return f


def app_arrivals(world: World) -> list[float]:
    """When the application workload fired: a message sent, or skipped for want of a free member."""
    rec = world.recorder
    sent = [e["t"] for e in rec.of_kind("app_sent")]
    skipped = [e["t"] for e in rec.of_kind("workload_skipped") if e["op"] == "app"]
    return sorted(sent + skipped)


def test_common_seeds_are_the_default_and_pair_replications(tmp_path: Path) -> None:
    _, specs = expand(write(tmp_path))
    by_rep: dict[int, set[int]] = {}
    for s in specs:
        by_rep.setdefault(s.replication, set()).add(s.seed)
    assert all(len(seeds) == 1 for seeds in by_rep.values())  # one seed per replication...
    assert len({next(iter(v)) for v in by_rep.values()}) == 3  # ...and a different one per replication
    assert specs[0].seed == derive_seed(11, (), 0)


def test_independent_seeds_differ_across_points(tmp_path: Path) -> None:
    _, specs = expand(write(tmp_path, "independent"))
    assert len({s.seed for s in specs}) == len(specs) == 6
    assert specs[0].seed == derive_seed(11, specs[0].point, 0)


def run(spec_scenario: object) -> World:
    w = World(spec_scenario)  # type: ignore[arg-type]
    w.run()
    return w


def test_paired_points_meet_the_same_workload_arrivals(tmp_path: Path) -> None:
    """Same replication, two fan-outs: the application workload fires at the same instants
    (which member acts, and what it costs, may differ); with independent seeds it does not."""
    _, specs = expand(write(tmp_path))
    plain, split = (
        next(s for s in specs if s.replication == 0 and dict(s.point)["federation.fanout"] == f)
        for f in ("plain", "split")
    )
    a, b = app_arrivals(run(plain.scenario)), app_arrivals(run(split.scenario))
    assert len(a) > 5 and a == b
    _, specs = expand(write(tmp_path, "independent"))
    plain, split = (
        next(s for s in specs if s.replication == 0 and dict(s.point)["federation.fanout"] == f)
        for f in ("plain", "split")
    )
    assert app_arrivals(run(plain.scenario)) != app_arrivals(run(split.scenario))
