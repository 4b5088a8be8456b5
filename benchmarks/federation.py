"""The federation comparison table: ordering design × inter-provider latency × group size.

Runs ``scenarios/federation-<design>.yaml`` for the four designs with the DS↔DS one-way latency
and the group size overridden, and prints, per run: commit collisions per 1,000 attempts, the
p95 of attempt → all members merged (``convergence_s``), bytes on the wire per accepted commit
(its uploads, forwards, fan-out and downloads, accept/reject messages, Welcomes; losing attempts
included), the inter-provider share of those bytes, and forks. Every number comes from the run's
own summary; nothing is estimated.

    python benchmarks/federation.py              # 4 designs × 3 latencies × 2 sizes
    python benchmarks/federation.py --quick      # 4 designs × 2 latencies, size 10
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DESIGNS = ("single", "hub", "client-fanout", "decentralised")


def commit_bytes(world: Any) -> tuple[int, int]:
    """All bytes of commit handling (any role), and those on DS↔DS links."""
    total = inter = 0
    for t in world.recorder.transmissions:
        if t.msg_type.startswith("commit") or t.msg_type == "welcome":
            total += t.bytes
            if t.link == "ds_ds":
                inter += t.bytes
    return total, inter


def one(design: str, latency: float, size: int, seed: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from mlssim.scenario import load_scenario
    from mlssim.sim.world import World

    path = ROOT / "scenarios" / f"federation-{design}.yaml"
    scenario = load_scenario(
        path,
        {
            "seed": seed,
            "network.ds_ds.latency": {"dist": "constant", "value": latency},
            "groups[0].size": size,
        },
    )
    start = time.perf_counter()
    world = World(scenario, base_dir=path.parent)
    world.run()
    s = world.summary()
    total, inter = commit_bytes(world)
    accepted = max(s["commits"]["accepted"], 1)
    return {
        "design": design,
        "latency_ms": round(latency * 1000),
        "size": size,
        "collisions_per_1k": s["commits"]["collisions_per_1000_attempts"],
        "convergence_p95_s": s["convergence_s"]["p95"],
        "bytes_per_commit": round(total / accepted),
        "inter_provider_per_commit": round(inter / accepted),
        "forked_epochs": s["forks"]["epochs"],
        "converged": s["all_converged"],
        "wall_s": round(time.perf_counter() - start, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer points")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    latencies = (0.02, 0.2) if args.quick else (0.02, 0.1, 0.3)
    sizes = (10,) if args.quick else (10, 50)
    points = [(d, lat, n, args.seed) for n in sizes for lat in latencies for d in DESIGNS]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        rows = list(pool.map(one, *zip(*points, strict=True)))
    head = (
        f"{'design':14} {'DS-DS ms':>8} {'size':>5} {'coll/1k':>8} {'conv p95 s':>10} "
        f"{'B/commit':>9} {'inter B/commit':>14} {'forks':>6} {'conv?':>6} {'wall s':>7}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        p95 = "-" if r["convergence_p95_s"] is None else f"{r['convergence_p95_s']:.3f}"
        print(
            f"{r['design']:14} {r['latency_ms']:>8} {r['size']:>5} {r['collisions_per_1k']:>8.1f} {p95:>10} "
            f"{r['bytes_per_commit']:>9} {r['inter_provider_per_commit']:>14} {r['forked_epochs']:>6} "
            f"{'yes' if r['converged'] else 'NO':>6} {r['wall_s']:>7}"
        )


if __name__ == "__main__":
    main()
