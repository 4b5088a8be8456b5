"""Bytes per commit on steady-state trees at scale (issue 21, items 3 and 5): exact encodings.

For each N the tree is the one a long random history leaves (``mlssim/sim/tree_history.py``:
4 N rounds, each one Update proposal by a random member committed with a path by another random
member; ``--trees`` independent histories per N). ``--samples`` further rounds are then
encoded for real on those trees (cycling over them), each an Update proposal by a member of a
random pool of ``--pool`` members (they join once: a join at N = 50,000 takes seconds) committed
by reference, with a path, by another member of the pool, framed
three ways from the same state and randomness: plain (RFC 9420: every member downloads the
commit), split (draft-mularczyk-mls-splitcommit: each member downloads its IndividualCommit)
and pre (the PRE bandwidth reading, ``assist/pre_path.py``: the DS re-encrypts one PRE
ciphertext per path node for each member). ``pre-join-store`` downloads the plain commit.

How the tree is put in place: the group is created with one Add commit (every parent blank),
the members that act join it by its Welcome, and the planned history's final shape is set on
their public trees with fresh HPKE keys on the filled parent nodes (the keys and parent hashes
of a real history differ; a commit's bytes depend on the shape alone, which
``benchmarks/steady_state.py --validate`` checks against real groups). The simulator plays the
same process with real members (``groups[].steady_state``: its own histories, seeded per run),
and its runs at N ≤ 1,000 are drawn beside these numbers (``reports/bandwidth/steady--*``).

    python benchmarks/bandwidth_steady.py                    # N = 10 … 50,000
    python benchmarks/bandwidth_steady.py --sizes 10 100     # quicker
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bandwidth import Member, member  # one way to make a member

from mlssim.assist.pre import get_pre
from mlssim.assist.pre_path import KfragEntry, new_pre_keys, pre_framing, reencrypting_projection
from mlssim.assist.pre_store import committer_upload
from mlssim.mls.codec import encode
from mlssim.mls.crypto import get_suite
from mlssim.mls.group import Group, GroupConfig, StagedCommit
from mlssim.mls.group_state import PublicEpoch
from mlssim.mls.messages import MLSMessage, SCommit
from mlssim.mls.messages.tree import ParentNode
from mlssim.mls.rand import SeededRandom
from mlssim.mls.ratchet_tree import RatchetTree
from mlssim.mls.split_commit import SPLIT_FRAMING, project_all
from mlssim.sim.tree_history import plan_history


class SteadyBench:
    """A group of N created by one Add commit; members join on demand and see the planned tree."""

    def __init__(self, n: int, rounds_per_member: float, seed: int, trees: int) -> None:
        self.n = n
        self.suite = get_suite(1, "model")
        self.pre = get_pre("model")
        self.rand = SeededRandom(seed, f"steady-bandwidth/{n}")
        self.config = GroupConfig(ratchet_tree_in_welcome=False)
        self.members: list[Member] = [member(self.suite, f"m{i}", self.rand) for i in range(n)]
        m0 = self.members[0]
        self.g0 = Group.create(
            self.suite,
            group_id=b"steady",
            identity=m0.identity,
            rand=self.rand,
            config=self.config,
            encryption_priv=m0.bundle.encryption_priv,
            leaf_node=m0.bundle.key_package.leaf_node,
        )
        self.add: StagedCommit = self.g0.commit(
            self.rand, adds=[m.bundle.key_package for m in self.members[1:]], path=False
        )
        self.g0.merge(self.add)
        #: ``trees`` independent histories (the cost varies more between trees than within one)
        self.plans = [
            plan_history(n, 1, round(rounds_per_member * n), random.Random(f"{seed}/{n}/{t}"))
            for t in range(trees)
        ]
        self.trees = [self._shaped(self.g0.tree, p.filled) for p in self.plans]
        self.joined: dict[int, Group] = {}
        self.pre_keys = {i: new_pre_keys(self.pre, self.rand, 0) for i in range(n)}

    def _shaped(self, tree: RatchetTree, filled: frozenset[int]) -> RatchetTree:
        ed = tree.edit()
        for x in sorted(filled):
            pub = self.suite.kem_derive_key_pair(self.rand.random_bytes(32)).pub
            ed.set_node(
                x, ParentNode(encryption_key=pub, parent_hash=self.rand.random_bytes(32), unmerged_leaves=())
            )
        return ed.freeze()

    def handle(self, leaf: int, tree: RatchetTree) -> Group:
        """Member ``leaf``'s state on a planned tree (joined once: a join at N = 50,000 takes
        seconds; each use is a copy with the tree set)."""
        if leaf not in self.joined:
            self.joined[leaf] = self._join(leaf)
        g = self.joined[leaf].copy()
        st = g._st
        pub = st.public
        g._st = replace(
            st,
            public=PublicEpoch.make(pub.context, tree, pub.interim_transcript_hash, pub.confirmation_tag),
        )
        return g

    def _join(self, leaf: int) -> Group:
        if leaf == 0:
            g = self.g0.copy()
        else:
            m = self.members[leaf]
            assert self.add.welcome is not None
            g = Group.join(
                self.suite,
                self.add.welcome.body,  # type: ignore[arg-type]
                key_package=m.bundle.key_package,
                init_priv=m.bundle.init_priv,
                encryption_priv=m.bundle.encryption_priv,
                identity=m.identity,
                ratchet_tree=self.add.ratchet_tree,
                config=self.config,
            )
        return g

    def sample(self, committer: int, updater: int, k: int) -> dict[str, float]:
        tree = self.trees[k % len(self.trees)]
        gc, gu = self.handle(committer, tree), self.handle(updater, tree)
        gc.process(gu.propose_update(self.rand))
        plain = gc.commit(SeededRandom(k, "commit"))
        records = len(committer_upload(self.suite, self.pre, gc, plain, self.rand).encoded())
        gc.discard(plain)
        split = gc.commit(SeededRandom(k, "commit"), framing=SPLIT_FRAMING)
        gc.discard(split)
        pre = gc.commit(
            SeededRandom(k, "commit"),
            framing=pre_framing(self.pre, self.pre_keys[committer].key.pub, self.rand),
        )
        ssc, psc = split.message.body, pre.message.body
        assert isinstance(ssc, SCommit) and isinstance(psc, SCommit) and psc.path is not None
        split_down = [
            len(encode(MLSMessage(body=ic)))
            for ic in project_all(ssc, split.ratchet_tree, committer, frozenset()).values()
        ]

        def kfrag_of(d: int, r: int) -> KfragEntry:
            kd, kr = self.pre_keys[d], self.pre_keys[r]
            (kf,) = self.pre.generate_kfrags(kd.key.priv, kr.key.pub, kd.signer.priv, self.rand)
            return KfragEntry(kf, kd.key.pub, kr.key.pub, kd.signer.pub)

        proj = reencrypting_projection(self.pre, psc, pre.ratchet_tree, committer, frozenset(), kfrag_of)
        pre_down = [len(encode(MLSMessage(body=ic))) for ic in proj.individual.values()]
        path = plain.authenticated_content.content.commit.path  # type: ignore[union-attr]
        assert path is not None
        return {
            "ciphertexts": sum(len(x.encrypted_path_secret) for x in path.nodes),
            "plain_download": len(plain.message_bytes),
            "plain_upload": len(plain.message_bytes),
            "split_download": statistics.fmean(split_down),
            "split_upload": len(split.message_bytes),
            "pre_download": statistics.fmean(pre_down),
            "pre_upload": len(pre.message_bytes),
            "pre_reencryptions": proj.reencryptions,
            "pre-join-store_download": len(plain.message_bytes),
            "pre-join-store_upload": len(plain.message_bytes) + records,
        }


def measure(
    n: int, samples: int, rounds_per_member: float, seed: int, trees: int, pool: int
) -> dict[str, float]:
    """``samples`` commits, each by a member of a random pool of ``pool`` members with another
    pool member's Update proposal, cycling over ``trees`` independent histories."""
    b = SteadyBench(n, rounds_per_member, seed, trees)
    pick = random.Random(f"samples/{seed}/{n}")
    members = pick.sample(range(n), min(pool, n))
    rows = []
    for k in range(samples):
        c, u = pick.sample(members, 2)
        rows.append(b.sample(c, u, k))
    out = {key: statistics.fmean(r[key] for r in rows) for key in rows[0]}
    out["plain_download_sd"] = statistics.stdev(r["plain_download"] for r in rows) if samples > 1 else 0.0
    out["filled"] = statistics.fmean(len(p.filled) for p in b.plans)
    out["replayed"] = statistics.fmean(len(p.rounds) for p in b.plans)
    return out


STRATEGIES = ("plain", "split", "pre", "pre-join-store")
LABEL = {
    "plain": "plain",
    "split": "split (draft)",
    "pre": "pre (bandwidth reading)",
    "pre-join-store": "pre-join-store",
}


def simulated(runs: Path) -> dict[tuple[str, int, str], list[float]]:
    """Per (fan-out, N, metric): one value per replication, from the sweep's results.csv."""
    import csv

    out: dict[tuple[str, int, str], list[float]] = {}
    with (runs / "results.csv").open() as f:
        for row in csv.DictReader(f):
            if row["status"] != "complete":
                continue
            for m in ("download", "upload"):
                key = (row["federation.fanout"], int(row["groups[0].size"]), m)
                out.setdefault(key, []).append(float(row[f"commits.{m}_bytes_mean"]))
    return out


def figure(out: Path, exact: dict[int, dict[str, float]], runs: Path | None, samples: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mlssim.report.figures import STYLE
    from mlssim.report.stats import mean_t

    sim = simulated(runs) if runs is not None else {}
    reps = sorted({len(v) for v in sim.values()})
    sizes = sorted(exact)
    out.mkdir(parents=True, exist_ok=True)
    panels = (
        ("download", "commit download per member (bytes)", lambda n, r, k: r[f"{k}_download"]),
        ("upload", "commit upload per committer (bytes)", lambda n, r, k: r[f"{k}_upload"]),
        (
            "ds-egress",
            "DS egress to members per commit (bytes)",
            lambda n, r, k: (n - 1) * r[f"{k}_download"],
        ),
    )
    for panel, ylabel, value in panels:
        with plt.style.context(str(STYLE)):
            fig, ax = plt.subplots()
            for i, k in enumerate(STRATEGIES):
                key = "pre-join-store" if k == "pre-join-store" else k
                ys = [value(n, exact[n], key) for n in sizes]
                style = "--" if k == "pre-join-store" else "-"  # its download is plain's: dashed on top
                (line,) = ax.plot(sizes, ys, style, lw=1.2, label=f"{LABEL[k]}, exact encodings")
                if panel == "ds-egress":
                    continue
                pts = sorted((n, v) for (f, n, m), v in sim.items() if f == k and m == panel)
                if pts:
                    est = [mean_t(v) for _, v in pts]
                    xs = [n * (1.0 + 0.04 * (i - 1.5)) for n, _ in pts]  # side by side, near their N
                    ax.errorbar(
                        xs,
                        [e.value for e in est],
                        yerr=[e.half_width or 0.0 for e in est],
                        fmt="o",
                        ms=3.5,
                        color=line.get_color(),
                        capsize=2,
                        label=f"{LABEL[k]}, simulated",
                    )
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("group size N (members)")
            ax.set_ylabel(ylabel)
            ax.set_title("Per-commit bytes on steady-state trees")
            ax.legend(fontsize=7, ncol=1 if panel == "ds-egress" else 2)
            stem = out / f"steady--{panel}"
            fig.savefig(stem.with_suffix(".png"), dpi=150, metadata={"Software": None})
            fig.savefig(stem.with_suffix(".pdf"), metadata={"CreationDate": None, "Producer": None})
            plt.close(fig)
        sim_text = (
            f"Points: simulated means of commits.{panel}_bytes_mean over {', '.join(map(str, reps))} "
            "paired replications per point (sweep.seeds: common), 95 % t-intervals, from "
            "`mlssim sweep scenarios/wg-bandwidth.yaml --jobs 2 --out runs` (N = 10 … 1,000, each run "
            "about 20 measured commits; its committer upload also counts the GroupInfo the DS keeps, "
            "about 225 B, and rejected attempts). "
            if sim and panel != "ds-egress"
            else ""
        )
        stem.with_suffix(".caption.txt").write_text(
            f"WG figure (a) on steady-state trees: {ylabel} vs N. Lines: exact encodings, mean of "
            f"{samples} commits per N on the trees of ten independent random histories of 4 N rounds "
            "(each round one Update proposal by a random member, committed by reference with a path "
            "by another random member: groups[].steady_state, mlssim/sim/tree_history.py); "
            "each measured commit carries one such proposal. Model suite 1 (suite-1 sizes) and model "
            "PRE (Umbral sizes). "
            + sim_text
            + "The simulated members' names, group id and handshake framing (mls.handshake) differ from "
            "the benchmark's, which moves every message by a constant of a few tens of bytes (visible on "
            "split and pre). Upload: the split SCommit carries every ciphertext, so its line lies on "
            "plain's. " + "plain = RFC 9420 commit to every member; split = draft-mularczyk-mls-splitcommit "
            "IndividualCommit; pre = the PRE bandwidth reading (one PRE ciphertext per path node, "
            "re-encrypted per member by the DS; its key deposits, N(N-1) at setup, are not in these "
            "bytes: docs/bandwidth.md); pre-join-store = the plain commit plus the committer's PRE "
            "records. Processing time off, link rates unset (bytes do not depend on them). "
            "Regenerate: python benchmarks/bandwidth_steady.py --json reports/bandwidth/steady.json "
            "--figure reports/bandwidth --runs runs/wg-bandwidth\n"
        )


def ciphertexts_figure(out: Path, exact: dict[int, dict[str, float]], samples: int) -> None:
    """The path's ciphertexts per commit beside √N and log₂N (the published statement: over √N
    with one Update proposal per commit; docs/validation.md)."""
    import math

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mlssim.report.figures import STYLE

    sizes = sorted(exact)
    with plt.style.context(str(STYLE)):
        fig, ax = plt.subplots()
        ax.plot(sizes, [exact[n]["ciphertexts"] for n in sizes], "o-", ms=3.5, label="steady state, exact")
        ax.plot(sizes, [math.sqrt(n) for n in sizes], ":", color="0.3", label="√N")
        ax.plot(sizes, [math.log2(n) for n in sizes], "--", color="0.55", label="log₂ N (a full tree)")
        ax.plot(sizes, [n - 1 for n in sizes], "-.", color="0.75", label="N − 1 (every parent blank)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("group size N (members)")
        ax.set_ylabel("HPKE ciphertexts in the commit's path")
        ax.set_title("Path ciphertexts per commit, one Update proposal per commit")
        ax.legend(fontsize=7)
        stem = out / "steady--ciphertexts"
        fig.savefig(stem.with_suffix(".png"), dpi=150, metadata={"Software": None})
        fig.savefig(stem.with_suffix(".pdf"), metadata={"CreationDate": None, "Producer": None})
        plt.close(fig)
    stem.with_suffix(".caption.txt").write_text(
        f"Ciphertexts in a commit's UpdatePath (one per node of each copath child's resolution, RFC "
        f"9420 §7.6) vs N, mean of {samples} commits per N on the steady-state trees of ten random "
        "histories of 4 N rounds (one Update proposal by a random member, committed by another "
        "random member), "
        "beside √N (Auerbach, Cueto Noval, Erol, Pietrzak, CRYPTO 2025: with one update proposal per "
        "commit the expected cost is already over √N; the paper itself could not be read here, so "
        "the statement is the hypothesis tested), log₂N (a full tree) and N − 1 (a fresh tree). "
        "benchmarks/steady_state.py averages 2,000 rounds of one history per N "
        "(docs/validation.md). Regenerate: "
        "python benchmarks/bandwidth_steady.py --figure reports/bandwidth --runs runs/wg-bandwidth\n"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 30, 100, 300, 1000, 10_000, 50_000])
    ap.add_argument("--samples", type=int, default=40, help="commits encoded per N")
    ap.add_argument(
        "--trees", type=int, default=10, help="independent histories per N (samples cycle over them)"
    )
    ap.add_argument("--pool", type=int, default=12, help="members that commit and propose, per N")
    ap.add_argument("--rounds-per-member", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--figure", type=Path, help="write the steady-state figures (a) here")
    ap.add_argument("--runs", type=Path, help="the wg-bandwidth sweep folder, for the simulated points")
    ap.add_argument(
        "--json", type=Path, help="write (or, if it exists and --figure is given, read) the table"
    )
    args = ap.parse_args()
    if args.figure is not None and args.json is not None and args.json.exists():
        table = {int(k): v for k, v in json.loads(args.json.read_text()).items()}
        figure(args.figure, table, args.runs, args.samples)
        ciphertexts_figure(args.figure, table, args.samples)
        return
    cols = [
        "ciphertexts",
        "plain_download",
        "plain_download_sd",
        "split_download",
        "pre_download",
        "plain_upload",
        "split_upload",
        "pre_upload",
        "pre_reencryptions",
    ]
    print("| N | " + " | ".join(c.replace("_", " ") for c in cols) + " |")
    print("|" + "|".join(" ---: " for _ in range(len(cols) + 1)) + "|")
    table: dict[int, dict[str, float]] = {}
    for n in args.sizes:
        t0 = time.perf_counter()
        r = table[n] = measure(n, args.samples, args.rounds_per_member, args.seed, args.trees, args.pool)
        print("| " + " | ".join([f"{n:,}"] + [f"{r[c]:,.0f}" for c in cols]) + " |", flush=True)
        print(f"# N={n}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    print(
        f"mean of {args.samples} commits per N on {args.trees} trees (one Update proposal each, by "
        "reference, with a path), "
        "model suite 1 and model PRE; bytes"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    if args.figure is not None:
        figure(args.figure, table, args.runs, args.samples)
        ciphertexts_figure(args.figure, table, args.samples)


if __name__ == "__main__":
    main()
