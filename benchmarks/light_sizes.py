"""Full vs light members (draft-kiefer-mls-light): what each downloads to join, downloads per
commit, and keeps between messages, from exact encodings (model suite 1: suite 1's byte sizes).

For each N a group is built by one Add commit of N − 1 members, then ``--churn`` empty path
commits by members spread over the tree (so parents are not all blank). A light member at the
last leaf joined by an AnnotatedWelcome and followed every commit by its AnnotatedCommits (the
DS annotates, choice L2 of ``mlssim/mls/light.py``). The measured commit is an empty path commit
by the light member's sibling, after which the light member holds a key on every level (its
largest state). In that state:

* join: a full joiner's Welcome plus the tree it fetches from the DS (choice L8: no tree in the
  Welcome of a group with light members) vs a light joiner's AnnotatedWelcome;
* per commit: the plain commit (a full member's download) vs the AnnotatedCommits of up to
  ``--sample`` receivers spread over the tree (mean and max);
* kept state: ``light.kept_state_bytes`` of a full member (with its tree) and of the light member.

    python benchmarks/light_sizes.py                      # N = 10, 100, 1,000, 10,000, 50,000
    python benchmarks/light_sizes.py --sizes 10 100       # quicker
    python benchmarks/light_sizes.py --markdown           # as a Markdown table
    python benchmarks/light_sizes.py --json light.json --figure reports/light --runs runs/wg-light

``--figure`` draws the WG figure (issue 22 item 4): the three quantities against N, full vs
light, as lines from these exact encodings, with the simulated means of ``--runs`` (the
``scenarios/wg-light.yaml`` sweep's ``results.csv``, summary section ``light_members``) as points
with their 95 % Student-t intervals. ``--json`` keeps the table (read back when it exists and
``--figure`` is given, so the figure can be redrawn without measuring again).

No figure is hard-coded: every number is measured on the encodings the core produces.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from pathlib import Path

from bandwidth import member  # benchmarks/bandwidth.py: one way to make a member

from mlssim.mls.codec import decode, encode
from mlssim.mls.crypto import get_suite
from mlssim.mls.group import Group, GroupConfig, StagedCommit
from mlssim.mls.light import annotate_commits, annotate_welcome, kept_state_bytes
from mlssim.mls.light_group import LightGroup
from mlssim.mls.messages import AnnotatedCommit, Welcome
from mlssim.mls.rand import SeededRandom

COLUMNS = (
    ("join_full", "join full (Welcome + tree)"),
    ("join_light", "join light (AnnotatedWelcome)"),
    ("commit_full", "commit full"),
    ("commit_light", "commit light (mean)"),
    ("commit_light_max", "commit light (max)"),
    ("state_full", "kept state full"),
    ("state_light", "kept state light"),
)


def measure(n: int, churn: int, sample: int) -> dict[str, float]:
    suite = get_suite(1, "model")
    rand = SeededRandom(n, "light-sizes")
    cfg = GroupConfig(ratchet_tree_in_welcome=False)
    members = [member(suite, f"m{i}", rand) for i in range(n)]
    m0 = members[0]
    g0 = Group.create(
        suite,
        group_id=b"light-sizes",
        identity=m0.identity,
        rand=rand,
        config=cfg,
        encryption_priv=m0.bundle.encryption_priv,
        leaf_node=m0.bundle.key_package.leaf_node,
    )
    add = g0.commit(rand, adds=[m.bundle.key_package for m in members[1:]], path=False)
    g0.merge(add)
    assert isinstance(add.welcome.body if add.welcome else None, Welcome)
    welcome = add.welcome.body  # type: ignore[union-attr]
    light_leaf = n - 1
    groups: dict[int, Group] = {0: g0}
    # committers spread over the tree; the last, the light member's sibling, makes the measured commit
    for leaf in sorted({n // 3, n // 2 + 1, (3 * n) // 4, n - 2} - {0, light_leaf}):
        m = members[leaf]
        groups[leaf] = Group.join(
            suite,
            welcome,  # type: ignore[arg-type]
            key_package=m.bundle.key_package,
            init_priv=m.bundle.init_priv,
            encryption_priv=m.bundle.encryption_priv,
            identity=m.identity,
            ratchet_tree=add.ratchet_tree,
            config=cfg,
        )
    me = members[light_leaf]
    light = LightGroup.join(
        suite,
        annotate_welcome(add.ratchet_tree, welcome, 0, light_leaf),  # type: ignore[arg-type]
        key_package=me.bundle.key_package,
        init_priv=me.bundle.init_priv,
        encryption_priv=me.bundle.encryption_priv,
        identity=me.identity,
        config=cfg,
    )
    tree = add.ratchet_tree

    def annotations(c: int, staged: StagedCommit, receivers: list[int]) -> list[bytes]:
        anns = annotate_commits(
            tree,
            staged.ratchet_tree,
            staged.message,
            sender_before=c,
            sender_after=c,
            receivers=receivers,
            added=frozenset(int(x) for x in staged.added),
            removed=frozenset(),
            with_path=staged.with_path,
        )
        return [encode(anns[r]) for r in receivers]  # type: ignore[index]

    def apply(c: int, staged: StagedCommit) -> None:
        nonlocal tree
        light.process(decode(AnnotatedCommit, annotations(c, staged, [light_leaf])[0]))
        for leaf, member_group in groups.items():
            if leaf == c:
                member_group.merge(staged)
            else:
                member_group.process(staged.message)
        tree = staged.ratchet_tree
        if light.epoch_authenticator != groups[c].epoch_authenticator:
            raise SystemExit(f"N={n}: the light member disagrees on the epoch authenticator")

    committers = sorted(groups)
    for i in range(churn):
        c = committers[i % len(committers)]
        apply(c, groups[c].commit(rand))
    c = max(committers)
    g = groups[c]
    staged = g.commit(rand)
    step = max(1, n // sample)
    receivers = [r for r in range(0, n, step) if r != c]
    sizes = [len(b) for b in annotations(c, staged, receivers)]
    apply(c, staged)
    newbie = member(suite, f"joiner{n}", rand)
    join = g.commit(rand, adds=[newbie.bundle.key_package])
    assert join.welcome is not None
    new_leaf = next(
        int(i) for i, node in join.ratchet_tree.leaves() if node == newbie.bundle.key_package.leaf_node
    )
    aw = annotate_welcome(join.ratchet_tree, join.welcome.body, c, new_leaf)  # type: ignore[arg-type]
    g.discard(join)
    full_state = kept_state_bytes(
        g.context,
        g.public.interim_transcript_hash,
        g.public.confirmation_tag,
        g.tree.n_leaves,
        g.path_keys,
        g.secrets,
        g.tree,
    )
    return {
        "join_full": len(encode(join.welcome)) + len(join.ratchet_tree.encode()),
        "join_light": len(encode(aw)),
        "commit_full": len(staged.message_bytes),
        "commit_light": statistics.fmean(sizes),
        "commit_light_max": max(sizes),
        "state_full": len(full_state),
        "state_light": len(light.kept_state()),
    }


#: figure panels: (file stem, y label, exact column per kind, simulated metric per kind)
PANELS = (
    ("join", "join download (bytes)", "join_{}", "join_download_bytes_mean"),
    ("commit", "download per commit (bytes)", "commit_{}", "commit_download_bytes_mean"),
    ("state", "kept state, encoded (bytes)", "state_{}", "kept_state_bytes_mean"),
)


def simulated(runs: Path) -> dict[tuple[str, str, int], list[float]]:
    """Per (metric, kind, N): one value per replication that has it, from ``results.csv``."""
    out: dict[tuple[str, str, int], list[float]] = {}
    with (runs / "results.csv").open() as f:
        for row in csv.DictReader(f):
            if row["status"] != "complete":
                continue
            for _, _, _, metric in PANELS:
                for kind in ("full", "light"):
                    v = row.get(f"light_members.by_kind.{kind}.{metric}", "")
                    if v not in ("", "None"):
                        out.setdefault((metric, kind, int(row["groups[0].size"])), []).append(float(v))
    return out


def figure(
    out: Path, rows: list[tuple[int, dict[str, float]]], runs: Path | None, args: argparse.Namespace
) -> None:
    """One figure, three panels (join, per commit, kept state), full vs light (module docstring)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mlssim.report.figures import STYLE
    from mlssim.report.stats import mean_t

    sim = simulated(runs) if runs is not None else {}
    sizes = [n for n, _ in rows]
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[tuple[str, str, int], int] = {}
    with plt.style.context(str(STYLE)):
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
        for ax, (panel, ylabel, col, metric) in zip(axes, PANELS, strict=True):
            for i, kind in enumerate(("full", "light")):
                (line,) = ax.plot(
                    sizes,
                    [r[col.format(kind)] for _, r in rows],
                    "-",
                    lw=1.2,
                    label=f"{kind}, exact encodings",
                )
                pts = sorted((n, v) for (m, k, n), v in sim.items() if m == metric and k == kind)
                for n, v in pts:
                    counts[(metric, kind, n)] = len(v)
                if pts:
                    est = [mean_t(v) for _, v in pts]
                    ax.errorbar(
                        [n * (0.96 if i == 0 else 1.04) for n, _ in pts],
                        [e.value for e in est],
                        yerr=[e.half_width or 0.0 for e in est],
                        fmt="o",
                        ms=3.5,
                        color=line.get_color(),
                        capsize=2,
                        label=f"{kind}, simulated",
                    )
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("group size N (members)")
            ax.set_ylabel(ylabel)
            ax.set_title({"join": "Join", "commit": "Per commit", "state": "Kept state"}[panel])
        axes[0].legend(fontsize=7)
        fig.suptitle("Full vs light members (draft-kiefer-mls-light)")
        stem = out / "light--sizes"
        fig.savefig(stem.with_suffix(".png"), dpi=150, metadata={"Software": None})
        fig.savefig(stem.with_suffix(".pdf"), metadata={"CreationDate": None, "Producer": None})
        plt.close(fig)
    reps = sorted(set(counts.values())) or [0]
    rep_text = str(reps[0]) if len(reps) == 1 else f"{reps[0]}–{reps[-1]}"
    sim_text = (
        "Points: simulated means over the runs of `mlssim sweep scenarios/wg-light.yaml --jobs 1 --out "
        f"runs` (N = {', '.join(f'{n:,}' for n in sorted({n for _, _, n in counts}))}; "
        f"{rep_text} paired replications per point, sweep.seeds: common: a run without a "
        "join of a kind has no join value for it), 95 % Student-t intervals; per run: summary "
        "light_members.by_kind.<kind>.{join_download_bytes_mean, commit_download_bytes_mean, "
        "kept_state_bytes_mean}, half the initial members light (groups[].light_share 0.5), empty "
        "path commits and Adds by full members, workload joiners alternating between kinds, kept "
        "state at the end of the run (the group has grown by its joins). The simulated commits "
        "include Adds and meet the creation tree's blank parents (long copath resolutions), so "
        "at small N they sit above the lines; the exact per-commit line is not monotone in N "
        "because a commit's size is its copath's resolution sizes, which depend on the tree's "
        "shape after the churn commits. "
        if counts
        else ""
    )
    stem.with_suffix(".caption.txt").write_text(
        "WG figure, light clients (issue 22): what a full and a light member (draft-kiefer-mls-light) "
        "download to join, download per commit and keep between messages, against group size N. "
        f"Lines: exact encodings from benchmarks/light_sizes.py (N = {', '.join(f'{n:,}' for n in sizes)}; "
        f"one Add commit of N-1 members, then {args.churn} empty path commits by members spread over the "
        "tree; join = a full joiner's Welcome plus the tree from the DS vs a light joiner's "
        "AnnotatedWelcome (choice L8: no tree in the Welcome); per commit = the plain commit vs the mean "
        f"AnnotatedCommit of up to {args.sample} receivers, for an empty path commit by the light "
        "member's sibling; kept state = light.kept_state_bytes (choice L9: a full member's includes its "
        "tree)). "
        + sim_text
        + "Model suite 1 (suite-1 sizes). A light member's AnnotatedCommit is the whole commit plus three "
        "O(log N) membership proofs, so its per-commit download stays O(N) and above a full member's "
        "(draft §12; Light + Split would make it O(log N), not implemented); its join and kept state "
        "are O(log N) beside a full member's O(N). The DS's annotation work is in each run's "
        "light_members.ds_annotations. Regenerate: python benchmarks/light_sizes.py --json "
        "reports/light/light-sizes.json --figure reports/light --runs runs/wg-light\n"
    )


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 10000, 50000])
    ap.add_argument("--churn", type=int, default=6, help="empty path commits before measuring")
    ap.add_argument("--sample", type=int, default=256, help="receivers whose AnnotatedCommit is measured")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--json", type=Path, help="write the table here (read it back with --figure)")
    ap.add_argument("--figure", type=Path, help="write the WG figure (light--sizes.*) here")
    ap.add_argument("--runs", type=Path, help="the wg-light sweep folder, for the simulated points")
    args = ap.parse_args(argv)
    rows: list[tuple[int, dict[str, float]]] = []
    if args.figure is not None and args.json is not None and args.json.exists():
        rows = [(int(n), r) for n, r in json.loads(args.json.read_text())]
    else:
        for n in args.sizes:
            t = time.perf_counter()
            rows.append((n, measure(n, args.churn, args.sample)))
            print(f"# N={n}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
        if args.json is not None:
            args.json.write_text(json.dumps(rows, indent=1) + "\n")
    if args.figure is not None:
        figure(args.figure, rows, args.runs, args)
    head = ["N", *(title for _, title in COLUMNS)]
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for n, r in rows:
            print(f"| {n:,} | " + " | ".join(f"{r[k]:,.0f}" for k, _ in COLUMNS) + " |")
        return
    print("bytes, model suite 1 (exact suite-1 encodings)")
    print("  ".join(f"{h:>14}" for h in ["N", *(k for k, _ in COLUMNS)]))
    for n, r in rows:
        print("  ".join(f"{v:>14,.0f}" for v in [n, *(r[k] for k, _ in COLUMNS)]))


if __name__ == "__main__":
    main(sys.argv[1:])
