"""Steady-state trees (issue 21, item 3): what a commit costs after a long random history.

"Fresh" (one Add of N − 1 members: every parent blank) and "churned" (a few commits by chosen
members) are states somebody picked. Here the tree is the group's own history: rounds in which
``--proposals`` random members propose an Update (each blanks its direct path, RFC 9420 §12.1.2)
and one random member commits them with a path (§12.4.1), plus, with ``--churn``, a random
Remove and Add in some rounds. The cost of a commit is its uploaded ciphertexts: one per node of
the resolution of each copath child on the committer's filtered direct path (§7.6). After a
warm-up of ``--warmup`` rounds per member the mean over ``--rounds`` rounds is printed per N,
beside √N and log₂N.

The published analysis to compare with (Auerbach, Cueto Noval, Erol, Pietrzak, "Continuous
Group-Key Agreement: Concurrent Updates without Pruning", CRYPTO 2025, LNCS 16007, pp. 141–172;
abstract at research-explorer.ista.ac.at/record/21262, read 2026-12-06): "even if there's just
one update proposal for every commit the expected cost is already over √N, and it approaches N as
this ratio changes towards more proposals." (The IACR listing's abstract words the ratio the
other way round, "one commit for every proposal"; both are one proposal per commit.)

How: the tree is the core's own ``RatchetTree``/``TreeEditor`` (blanking, unmerged leaves,
truncation, filtered direct paths and resolutions exactly as members compute them), evolved with
leaves and path keys that are fresh random bytes instead of real keys and signatures — the cost
depends on the tree's shape alone. ``--validate`` replays the same random history (N = 24) with
real groups of the model suite 1 and checks that every commit carries exactly the ciphertexts
this structural replay counts.

    python benchmarks/steady_state.py                      # N = 16 … 1024, 0/1/2 proposals per commit
    python benchmarks/steady_state.py --validate           # the structural replay against real groups
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlssim.mls.crypto import get_suite
from mlssim.mls.messages import Capabilities, Credential, LeafNode, LeafNodeSource, Lifetime
from mlssim.mls.ratchet_tree import RatchetTree, TreeEditor

SUITE = get_suite(1, "model")
TEMPLATE = LeafNode(
    encryption_key=b"",
    signature_key=b"",
    credential=Credential.basic(b"x"),
    capabilities=Capabilities(versions=(1,), cipher_suites=(1,), credentials=(1,)),
    leaf_node_source=LeafNodeSource.KEY_PACKAGE,
    lifetime=Lifetime(not_before=0, not_after=2**63),
    signature=b"",
)


class Structural:
    """A group's public tree only: the shape a commit's cost depends on."""

    def __init__(self, n: int, rng: random.Random) -> None:
        self.rng = rng
        nodes: list[LeafNode | None] = []
        for _ in range(n):
            nodes.extend([self._leaf(), None])
        self.tree = RatchetTree.from_nodes(SUITE, nodes[:-1])

    def _leaf(self) -> LeafNode:
        return replace(TEMPLATE, encryption_key=self.rng.randbytes(32), signature_key=self.rng.randbytes(32))

    def members(self) -> list[int]:
        return [int(i) for i, _ in self.tree.leaves()]

    def commit(self, committer: int, updates: list[int], removes: list[int], adds: int) -> int:
        """Apply the proposals (§12.3 order: Update, Remove, Add), count the path's ciphertexts
        (the added leaves are left out of every resolution, §7.6), merge the path."""
        ed: TreeEditor = self.tree.edit()
        for i in updates:
            ed.update_leaf(i, self._leaf())
        for i in removes:
            ed.remove_leaf(i)
        added = frozenset(int(ed.add_leaf(self._leaf())) for _ in range(adds))
        path = ed.filtered_direct_path_with_copath(committer)
        cost = sum(len(ed.resolution(s, added)) for _, s in path)
        ed.apply_path(committer, [self.rng.randbytes(32) for _ in path])
        ed.set_node(2 * committer, self._leaf())
        self.tree = ed.freeze()
        return cost


def play(
    n: int, proposals: int, churn: float, warmup: int, rounds: int, seed: int, g: Structural | None = None
) -> tuple[list[int], list[tuple[int, list[int], list[int], int]]]:
    """Run ``warmup + rounds`` rounds; return the measured rounds' costs and every round."""
    rng = random.Random(f"steady/{n}/{proposals}/{churn}/{seed}")
    g = g or Structural(n, random.Random(seed))
    costs: list[int] = []
    log: list[tuple[int, list[int], list[int], int]] = []
    for r in range(warmup + rounds):
        members = g.members()
        committer = rng.choice(members)
        others = [m for m in members if m != committer]
        updates = sorted(rng.sample(others, min(proposals, len(others))))
        removes: list[int] = []
        adds = 0
        if churn and rng.random() < churn and len(others) > len(updates) + 1:
            removes = [rng.choice([m for m in others if m not in updates])]
            adds = 1
        cost = g.commit(committer, updates, removes, adds)
        log.append((committer, updates, removes, adds))
        if r >= warmup:
            costs.append(cost)
    return costs, log


def table(sizes: list[int], ratios: list[int], churn: float, warmup: int, rounds: int, seed: int) -> None:
    print("| N | proposals per commit | ciphertexts per commit, mean | p95 | √N | log₂N | mean / √N |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in sizes:
        for p in ratios:
            t0 = time.perf_counter()
            costs, _ = play(n, p, churn, warmup * n, rounds, seed)
            mean = statistics.fmean(costs)
            p95 = sorted(costs)[math.ceil(0.95 * len(costs)) - 1]
            print(
                f"| {n:,} | {p} | {mean:,.1f} | {p95:,} | {math.sqrt(n):,.1f} | {math.log2(n):.0f} | "
                f"{mean / math.sqrt(n):.2f} |",
                flush=True,
            )
            print(f"# N={n} p={p}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)


def validate(n: int = 24, rounds: int = 60, seed: int = 5) -> None:
    """Replay the same rounds with real groups (every member a real model-suite member,
    proposals by reference, the committer's commit processed by all) and compare counts."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.group_harness import Harness

    # the rounds (who proposes, commits, leaves, joins) depend on the leaves only, which evolve
    # alike in both replays; the replay below starts from the real group's first tree
    _, log = play(n, 1, 0.2, 0, rounds, seed)
    h = Harness(SUITE, seed=seed)
    h.create("m0")
    h.add("m0", *[f"m{i}" for i in range(1, n)])
    replay = Structural(1, random.Random(seed))
    replay.tree = h.members["m0"].tree
    fresh = 0
    for committer, updates, removes, adds in log:
        by_leaf = {int(g.leaf_index): name for name, g in h.members.items()}
        for u in updates:
            msg = h.members[by_leaf[u]].propose_update(h.rand)
            h.broadcast(msg, by_leaf[u])
        names = []
        for _ in range(adds):
            fresh += 1
            names.append(f"new{fresh}")
        kps = [h.client(x).bundle.key_package for x in names]
        staged = h.members[by_leaf[committer]].commit(h.rand, removes=removes, adds=kps)
        path = staged.authenticated_content.content.commit.path  # type: ignore[union-attr]
        real = sum(len(node.encrypted_path_secret) for node in path.nodes) if path else 0
        mine = replay.commit(committer, updates, removes, adds)
        assert real == mine, (real, mine)
        h.deliver(staged, by_leaf[committer])
    print(f"validated: {len(log)} commits at N = {n}, real ciphertext counts = structural counts")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 64, 256, 1024])
    ap.add_argument("--proposals", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--churn", type=float, default=0.0, help="share of rounds with one Remove and one Add")
    ap.add_argument("--warmup", type=int, default=4, help="warm-up rounds per member")
    ap.add_argument("--rounds", type=int, default=2000, help="measured rounds")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--validate", action="store_true")
    args = ap.parse_args()
    if args.validate:
        validate()
        return
    table(args.sizes, args.proposals, args.churn, args.warmup, args.rounds, args.seed)


if __name__ == "__main__":
    main()
