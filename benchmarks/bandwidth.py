"""Bandwidth per strategy and group size: the issue-7 table, from exact encodings.

For each N, a group is built with the model twin of suite 1 (byte-exact suite-1 sizes) and the
model PRE (Umbral's sizes), in two states:

* ``fresh``: one Add commit of N−1 members without a path (every parent node blank: the worst
  case for a plain commit);
* ``churned``: then ``--churn`` path commits by members spread over the tree, one commit
  removing 5 % of the members and one adding 5 % new ones.

In each state one member makes an empty path commit and one Add commit of a new member, and the
script prints, per strategy: what a member downloads per commit (plain = the commit; split = the
mean (and max) of every member's IndividualCommit of draft-mularczyk-mls-splitcommit; Merkle = the
mean of mlssim's earlier Merkle variant's SplitCommitDownload; pre = the plain commit), the
committer's upload, what a joiner downloads per join mode, the DS's storage for the group
(GroupInfo and tree, plus the PRE store under ``pre``) and the DS's PRE re-encryptions for the
epoch change.

    python benchmarks/bandwidth.py                 # N = 10, 100, 1,000, 10,000, 50,000
    python benchmarks/bandwidth.py --sizes 10 100  # quicker
    python benchmarks/bandwidth.py --markdown      # the table as Markdown (docs/bandwidth.md)

No member processes the commits it measures, so this is a size calculation on real encodings,
not a simulation (the simulator counts the same bytes on its links; ``tests/test_bandwidth.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlssim.assist.pre import get_pre
from mlssim.assist.pre_store import PREStore, committer_upload, seal_join_secret
from mlssim.assist.split_commit import download_sizes, upload_size
from mlssim.mls.codec import encode
from mlssim.mls.credentials import Credential
from mlssim.mls.crypto import CipherSuite, get_suite
from mlssim.mls.group import Group, GroupConfig, MemberIdentity, StagedCommit
from mlssim.mls.key_packages import KeyPackageBundle, make_key_package
from mlssim.mls.messages import Lifetime, MLSMessage, SCommit
from mlssim.mls.rand import SeededRandom
from mlssim.mls.split_commit import SPLIT_FRAMING, project_all

FOREVER = Lifetime(not_before=0, not_after=2**64 - 1)


@dataclass
class Member:
    identity: MemberIdentity
    bundle: KeyPackageBundle


def member(suite: CipherSuite, name: str, rand: SeededRandom) -> Member:
    sig = suite.signature_key_pair(rand)
    cred = Credential.basic(name.encode())
    bundle = make_key_package(suite, credential=cred, signature_key_pair=sig, rand=rand, lifetime=FOREVER)
    ident = MemberIdentity(
        credential=cred,
        signature_priv=sig.priv,
        signature_key=sig.pub,
        capabilities=bundle.key_package.leaf_node.capabilities,
    )
    return Member(ident, bundle)


class Bench:
    """One group of N members: a few member handles that commit, the DS's PRE store."""

    def __init__(self, n: int, churn: int, suite: int = 1) -> None:
        self.n = n
        self.suite = get_suite(suite, "model")
        self.pre = get_pre("model")
        self.rand = SeededRandom(n, "bandwidth-table")
        self.pick = random.Random(n)
        self.config = GroupConfig(ratchet_tree_in_welcome=False)
        self.store = PREStore(self.pre)
        self.reencryptions = 0
        self.members = [member(self.suite, f"m{i}", self.rand) for i in range(n)]
        m0 = self.members[0]
        g0 = Group.create(
            self.suite,
            group_id=b"bandwidth",
            identity=m0.identity,
            rand=self.rand,
            config=self.config,
            encryption_priv=m0.bundle.encryption_priv,
            leaf_node=m0.bundle.key_package.leaf_node,
        )
        add = g0.commit(self.rand, adds=[m.bundle.key_package for m in self.members[1:]], path=False)
        self._store(g0, add)
        g0.merge(add)
        self.groups: dict[int, Group] = {0: g0}
        # members that commit: spread over the tree
        for leaf in sorted({1, n // 3, n // 2 + 1, (3 * n) // 4, n - 1} - {0}):
            if leaf < n:
                self.groups[leaf] = self._join(leaf, add)
        self.churn = churn
        self.new = 0

    def _join(self, leaf: int, add: StagedCommit) -> Group:
        m = self.members[leaf]
        assert add.welcome is not None
        return Group.join(
            self.suite,
            add.welcome.body,  # type: ignore[arg-type]
            key_package=m.bundle.key_package,
            init_priv=m.bundle.init_priv,
            encryption_priv=m.bundle.encryption_priv,
            identity=m.identity,
            ratchet_tree=add.ratchet_tree,
            config=self.config,
        )

    def _store(self, g: Group, staged: StagedCommit) -> int:
        work = self.store.apply(
            committer_upload(self.suite, self.pre, g, staged, self.rand), staged.ratchet_tree, reencrypt=False
        )
        self.reencryptions += work
        return work

    def _apply(self, committer: int, staged: StagedCommit) -> None:
        self._store(self.groups[committer], staged)
        msg = staged.message
        for leaf, g in self.groups.items():
            if leaf == committer:
                g.merge(staged)
            else:
                g.process(msg)

    def do_churn(self) -> None:
        leaves = sorted(self.groups)
        for i in range(self.churn):
            c = leaves[i % len(leaves)]
            self._apply(c, self.groups[c].commit(self.rand))
        g = self.groups[0]
        present = [int(i) for i, _ in g.tree.leaves() if int(i) not in self.groups]
        gone = self.pick.sample(present, max(1, self.n // 20))
        self._apply(0, g.commit(self.rand, removes=gone))
        fresh = [member(self.suite, f"new{self.n}-{k}", self.rand) for k in range(max(1, self.n // 20))]
        staged = g.commit(self.rand, adds=[m.bundle.key_package for m in fresh], path=False)
        self._apply(0, staged)

    def measure(self) -> dict[str, float]:
        c = max(self.groups)  # the member at the right edge commits
        g = self.groups[c]
        # the split-commit draft's SCommit on the same state, split by a DS that tracks the tree
        draft = g.commit(self.rand, framing=SPLIT_FRAMING)
        scommit = draft.message.body
        assert isinstance(scommit, SCommit)
        projected = project_all(scommit, draft.ratchet_tree, int(draft.committer), frozenset())
        draft_down = [len(encode(MLSMessage(body=ic))) for ic in projected.values()]
        g.discard(draft)
        staged = g.commit(self.rand)
        plain = len(staged.message_bytes)
        merkle = download_sizes(self.suite, staged)
        pre_up = len(committer_upload(self.suite, self.pre, g, staged, self.rand).encoded())
        # the DS's epoch change under pre
        before = self.reencryptions
        self._store(g, staged)
        work = self.reencryptions - before
        g.discard(staged)
        # an Add of one new member, by the same member, with its path
        newbie = member(self.suite, f"joiner{self.n}-{self.new}", self.rand)
        self.new += 1
        with_tree = g.copy()
        with_tree.config = dataclasses.replace(self.config, ratchet_tree_in_welcome=True)
        add_tree = with_tree.commit(self.rand, adds=[newbie.bundle.key_package])
        with_tree.discard(add_tree)
        add = g.commit(self.rand, adds=[newbie.bundle.key_package])
        tree_bytes = len(add.ratchet_tree.encode())
        gi_bytes = len(encode(add.group_info))
        assert add.welcome is not None and add_tree.welcome is not None
        welcome = len(encode(add.welcome))
        secret = seal_join_secret(self.suite, self.pre, add, newbie.bundle.key_package, self.rand)
        self._store(g, add)
        leaf = next(i for i, node in add.ratchet_tree.leaves() if node == newbie.bundle.key_package.leaf_node)
        records = self.store.download_for(add.ratchet_tree, leaf, add.committer)
        g.discard(add)
        ext_gi = g.group_info()
        _, ext = Group.external_join(
            self.suite,
            ext_gi.body,  # type: ignore[arg-type]
            identity=newbie.identity,
            rand=self.rand,
            ratchet_tree=g.tree,
            config=self.config,
        )
        public = len(encode(ext_gi)) + len(g.tree.encode())
        return {
            "plain_download": plain,
            "plain_upload": plain,
            "split_download": sum(draft_down) / len(draft_down),
            "split_download_max": max(draft_down),
            "split_upload": len(draft.message_bytes),
            "merkle_download": sum(merkle.values()) / len(merkle),
            "merkle_upload": upload_size(self.suite, staged),
            "pre_download": plain,
            "pre_upload": plain + pre_up,
            "pre_reencryptions": work,
            "join_welcome_with_tree": len(encode(add_tree.welcome)),
            "join_tree_from_ds": welcome + tree_bytes,
            "join_external_commit": public,
            "join_external_commit_upload": len(ext.message_bytes),
            "join_pre": gi_bytes + tree_bytes + len(records.encoded()) + len(secret.encoded()),
            "adder_welcome_with_tree": len(encode(add_tree.welcome)),
            "adder_tree_from_ds": welcome,
            "adder_pre": len(secret.encoded()),
            "ds_storage": public,
            "ds_storage_pre": public + self.store.storage_bytes(),
            "pre_records": len(self.store.records),
        }


def fmt(x: float) -> str:
    return f"{x:,.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 10_000, 50_000])
    ap.add_argument("--churn", type=int, default=32, help="path commits before the churned measurement")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument(
        "--suite", type=lambda v: int(v, 0), default=1, help="cipher suite id (model twin), e.g. 0xF001"
    )
    ap.add_argument("--figure", type=Path, help="also write WG figure (a) at scale (PNG/PDF, caption) here")
    args = ap.parse_args()
    rows = []
    for n in args.sizes:
        t0 = time.perf_counter()
        b = Bench(n, args.churn, args.suite)
        fresh = b.measure()
        b.do_churn()
        churned = b.measure()
        rows.append((n, "fresh", fresh))
        rows.append((n, "churned", churned))
        print(f"# N={n}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    cols = [
        ("N", None),
        ("tree", None),
        ("plain ↓/commit", "plain_download"),
        ("split ↓/commit", "split_download"),
        ("split ↓ max", "split_download_max"),
        ("Merkle ↓/commit", "merkle_download"),
        ("pre ↓/commit", "pre_download"),
        ("plain ↑", "plain_upload"),
        ("split ↑", "split_upload"),
        ("Merkle ↑", "merkle_upload"),
        ("pre ↑", "pre_upload"),
        ("pre re-enc/epoch", "pre_reencryptions"),
        ("join: Welcome+tree", "join_welcome_with_tree"),
        ("join: tree-from-DS", "join_tree_from_ds"),
        ("join: external ↓", "join_external_commit"),
        ("join: external ↑", "join_external_commit_upload"),
        ("join: pre", "join_pre"),
        ("adder ↑ Welcome+tree", "adder_welcome_with_tree"),
        ("adder ↑ Welcome", "adder_tree_from_ds"),
        ("adder ↑ pre secret", "adder_pre"),
        ("DS storage", "ds_storage"),
        ("DS storage, pre", "ds_storage_pre"),
    ]
    if args.markdown:
        print("| " + " | ".join(c for c, _ in cols) + " |")
        print("|" + "|".join(" ---: " for _ in cols) + "|")
        for n, state, r in rows:
            print("| " + " | ".join([fmt(n), state] + [fmt(r[k]) for _, k in cols[2:] if k]) + " |")
    else:
        print("\t".join(c for c, _ in cols))
        for n, state, r in rows:
            print("\t".join([str(n), state] + [fmt(r[k]) for _, k in cols[2:] if k]))
    print(
        f"suite {args.suite:#06x} (model twin); bytes; ↓ = a member's (or joiner's) download, "
        "↑ = the committer's (or joiner's) upload"
    )
    if args.figure is not None:
        figure(args.figure, rows, args.churn, args.sizes)


def figure(out: Path, rows: list[tuple[int, str, dict[str, float]]], churn: int, sizes: list[int]) -> None:
    from mlssim.report.figures import Series, plot

    out.mkdir(parents=True, exist_ok=True)
    panels = (
        ("download", "commit download per member (bytes)", ("plain", "split", "merkle", "pre")),
        ("upload", "commit upload per committer (bytes)", ("plain", "split", "merkle", "pre")),
        ("join", "join download per new member (bytes)", ("welcome_with_tree", "tree_from_ds", "pre")),
    )
    for panel, label, strategies in panels:
        data = []
        for state in ("fresh", "churned"):
            for strat in strategies:
                key = f"join_{strat}" if panel == "join" else f"{strat}_{panel}"
                pts = [(float(n), float(r[key])) for n, st, r in rows if st == state]
                name = {"split": "split (draft)", "merkle": "split (Merkle variant)"}.get(
                    strat, strat.replace("_", "-")
                )
                data.append(
                    Series(
                        f"{name}, {state}",
                        tuple(x for x, _ in pts),
                        tuple(y for _, y in pts),
                        tuple(0.0 for _ in pts),
                        tuple(1 for _ in pts),
                    )
                )
        stem = out / f"scale--{panel}"
        plot(data, "group size (members)", label, "Per-operation bytes at scale", stem, "strategy, tree")
        stem.with_suffix(".caption.txt").write_text(
            f"WG figure (a) at scale: {label} vs group size N = {', '.join(map(str, sizes))}; exact "
            "encodings, model suite 1 (suite-1 sizes) and model PRE (Umbral sizes); fresh = one Add "
            f"commit of N-1 members (every parent blank); churned = then {churn} path commits by five "
            "members spread over the tree, 5% removed, 5% added. One empty path commit (download, "
            "upload) and one Add of a new member (join) measured per point; no simulation of timing. "
            "split (draft) = draft-mularczyk-mls-splitcommit's SCommit up and mean IndividualCommit "
            "down; split (Merkle variant) = mlssim's earlier signed-Merkle-root format, kept for "
            "comparison. pre members download the plain commit, so pre's download line covers "
            "plain's. "
            "Regenerate: python benchmarks/bandwidth.py --figure reports/bandwidth\n"
        )


if __name__ == "__main__":
    main()
