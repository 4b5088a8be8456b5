"""Bytes per commit on steady-state trees at scale (issue 21, items 3 and 5): exact encodings.

For each N the tree is the one a long random history leaves (``mlssim/sim/tree_history.py``:
4 N rounds, each one Update proposal by a random member committed with a path by another random
member). ``--samples`` further rounds are then encoded for real on that tree, each a random
member's Update proposal committed by reference, with a path, by another random member, framed
three ways from the same state and randomness: plain (RFC 9420: every member downloads the
commit), split (draft-mularczyk-mls-splitcommit: each member downloads its IndividualCommit)
and pre (the PRE bandwidth reading, ``assist/pre_path.py``: the DS re-encrypts one PRE
ciphertext per path node for each member). ``pre-join-store`` downloads the plain commit.

How the tree is put in place: the group is created with one Add commit (every parent blank),
the members that act join it by its Welcome, and the planned history's final shape is set on
their public trees with fresh HPKE keys on the filled parent nodes (the keys and parent hashes
of a real history differ; a commit's bytes depend on the shape alone, which
``benchmarks/steady_state.py --validate`` checks against real groups). The simulator plays the
same plan with real members (``groups[].steady_state``), and its runs at N ≤ 1,000 measure the
same per-commit means (``reports/bandwidth/``).

    python benchmarks/bandwidth_steady.py                    # N = 10 … 50,000
    python benchmarks/bandwidth_steady.py --sizes 10 100     # quicker
"""

from __future__ import annotations

import argparse
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

    def __init__(self, n: int, rounds_per_member: float, seed: int) -> None:
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
        self.plan = plan_history(n, 1, round(rounds_per_member * n), random.Random(f"{seed}/{n}"))
        self.tree = self._shaped(self.g0.tree)
        self.pre_keys = {i: new_pre_keys(self.pre, self.rand, 0) for i in range(n)}

    def _shaped(self, tree: RatchetTree) -> RatchetTree:
        ed = tree.edit()
        for x in sorted(self.plan.filled):
            pub = self.suite.kem_derive_key_pair(self.rand.random_bytes(32)).pub
            ed.set_node(
                x, ParentNode(encryption_key=pub, parent_hash=self.rand.random_bytes(32), unmerged_leaves=())
            )
        return ed.freeze()

    def handle(self, leaf: int) -> Group:
        """Member ``leaf``'s state on the planned tree."""
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
        st = g._st
        pub = st.public
        g._st = replace(
            st,
            public=PublicEpoch.make(
                pub.context, self.tree, pub.interim_transcript_hash, pub.confirmation_tag
            ),
        )
        return g

    def sample(self, committer: int, updater: int, k: int) -> dict[str, float]:
        gc, gu = self.handle(committer), self.handle(updater)
        gc.process(gu.propose_update(self.rand))
        plain = gc.commit(SeededRandom(k, "commit"))
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
        }


def measure(n: int, samples: int, rounds_per_member: float, seed: int) -> dict[str, float]:
    b = SteadyBench(n, rounds_per_member, seed)
    pick = random.Random(f"samples/{seed}/{n}")
    rows = []
    for k in range(samples):
        c = pick.randrange(n)
        u = pick.randrange(n - 1)
        u += u >= c
        rows.append(b.sample(c, u, k))
    out = {key: statistics.fmean(r[key] for r in rows) for key in rows[0]}
    out["plain_download_sd"] = statistics.stdev(r["plain_download"] for r in rows) if samples > 1 else 0.0
    out["filled"] = len(b.plan.filled)
    out["replayed"] = len(b.plan.rounds)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 30, 100, 300, 1000, 10_000, 50_000])
    ap.add_argument("--samples", type=int, default=20, help="commits encoded per N")
    ap.add_argument("--rounds-per-member", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
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
    for n in args.sizes:
        t0 = time.perf_counter()
        r = measure(n, args.samples, args.rounds_per_member, args.seed)
        print("| " + " | ".join([f"{n:,}"] + [f"{r[c]:,.0f}" for c in cols]) + " |", flush=True)
        print(f"# N={n}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    print(
        f"mean of {args.samples} commits per N (one Update proposal each, by reference, with a path), "
        "model suite 1 and model PRE; bytes"
    )


if __name__ == "__main__":
    main()
