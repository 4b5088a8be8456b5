"""The cost of adding a device to a user, against the number of groups the user is in (WG figure e).

A user's existing device is in G groups whose sizes are drawn from a lognormal (median 20
members, σ = 1, clipped to 2…1,000; seeded). Each group has seen a few path commits (a churned
tree, not a fresh one). Adding the user's new device costs, in every group, an Add commit by the
existing device and a join by the new one:

* ``full-update``: the Add commit carries an UpdatePath (the adding device refreshes its path);
* ``lazy-update``: the Add commit has no path (RFC 9420 allows it for Adds); the new device's
  leaf stays unmerged above it, and the full update is paid later: the new device's first own path
  commit, counted separately as *deferred*.

The new device joins with a Welcome without the tree and downloads the tree from the DS. Bytes are
exact encodings (model suite 1 = suite-1 sizes): the adder's upload (commit + Welcome), every other
member's download of the commit, the new device's download (Welcome + tree), and for lazy the
deferred commit's upload and downloads. Groups are independent here (no concurrency: collisions
of device adds with other commits are the simulator's business), so the cost over G groups is the
sum of per-group costs.

    python benchmarks/device_add.py                          # table
    python benchmarks/device_add.py --figure reports/devices # + figure (e), PNG/PDF, caption
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bandwidth import member

from mlssim.mls.codec import encode
from mlssim.mls.crypto import get_suite
from mlssim.mls.group import Group, GroupConfig
from mlssim.mls.rand import SeededRandom

GROUP_COUNTS = [1, 2, 5, 10, 20, 50, 100, 200]
SEED = 5


@dataclass
class Cost:
    adder_up: int
    members_down: int  # summed over the other members
    joiner_down: int
    deferred: int  # lazy: the new device's later path commit (upload + every download)

    @property
    def total(self) -> int:
        return self.adder_up + self.members_down + self.joiner_down + self.deferred


def group_sizes(count: int, seed: int = SEED) -> list[int]:
    rng = random.Random(seed)
    return [max(2, min(1000, round(math.exp(math.log(20) + rng.gauss(0, 1.0))))) for _ in range(count)]


def one_group(n: int, index: int) -> dict[str, Cost]:
    """Costs of adding the user's new device to one n-member group, per mode."""
    suite = get_suite(1, "model")
    rand = SeededRandom(index, f"device-add/{n}")
    config = GroupConfig(ratchet_tree_in_welcome=False)
    people = [member(suite, f"g{index}-m{i}", rand) for i in range(n)]
    creator = people[0]
    g0 = Group.create(
        suite,
        group_id=f"group-{index}".encode(),
        identity=creator.identity,
        rand=rand,
        config=config,
        encryption_priv=creator.bundle.encryption_priv,
        leaf_node=creator.bundle.key_package.leaf_node,
    )
    if n > 1:
        add = g0.commit(rand, adds=[p.bundle.key_package for p in people[1:]], path=False)
        g0.merge(add)
    # the user's existing device is the last member; churn: a few path commits by the creator
    # and by the user's device fill the tree along their paths
    user = people[-1]
    if n > 1:
        assert add.welcome is not None
        gu = Group.join(
            suite,
            add.welcome.body,  # type: ignore[arg-type]
            key_package=user.bundle.key_package,
            init_priv=user.bundle.init_priv,
            encryption_priv=user.bundle.encryption_priv,
            identity=user.identity,
            ratchet_tree=add.ratchet_tree,
            config=config,
        )
        for committer, other in ((g0, gu), (gu, g0), (g0, gu)):
            staged = committer.commit(rand)
            other.process(staged.message)
            committer.merge(staged)
    else:
        gu = g0
    device = member(suite, f"g{index}-user-device2", rand)
    out: dict[str, Cost] = {}
    for mode in ("full-update", "lazy-update"):
        g = gu.copy()
        staged = g.commit(rand, adds=[device.bundle.key_package], path=(mode == "full-update"))
        assert staged.welcome is not None
        commit = len(staged.message_bytes)
        welcome = len(encode(staged.welcome))
        tree = len(staged.ratchet_tree.encode())
        deferred = 0
        if mode == "lazy-update":
            g.merge(staged)
            joined = Group.join(
                suite,
                staged.welcome.body,  # type: ignore[arg-type]
                key_package=device.bundle.key_package,
                init_priv=device.bundle.init_priv,
                encryption_priv=device.bundle.encryption_priv,
                identity=device.identity,
                ratchet_tree=staged.ratchet_tree,
                config=config,
            )
            later = len(joined.commit(rand).message_bytes)
            deferred = later + later * n  # uploaded once, downloaded by the n other members
        else:
            g.discard(staged)
        out[mode] = Cost(
            adder_up=commit + welcome,
            members_down=commit * (n - 1),
            joiner_down=welcome + tree,
            deferred=deferred,
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--figure", type=Path, help="write figure (e) and its caption and table here")
    args = ap.parse_args()
    sizes = group_sizes(max(GROUP_COUNTS))
    per_group = [one_group(n, i) for i, n in enumerate(sizes)]
    rows = []
    for count in GROUP_COUNTS:
        for mode in ("full-update", "lazy-update"):
            costs = [pg[mode] for pg in per_group[:count]]
            rows.append(
                (
                    count,
                    mode,
                    sum(c.adder_up for c in costs),
                    sum(c.members_down for c in costs),
                    sum(c.joiner_down for c in costs),
                    sum(c.deferred for c in costs),
                    sum(c.total for c in costs),
                    sum(c.total - c.deferred for c in costs),
                )
            )
    head = "| groups | mode | adder upload | members' downloads | new device download | deferred | total |"
    lines = [head, "| ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r[0]} | {r[1]} | " + " | ".join(f"{v:,}" for v in r[2:7]) + " |" for r in rows]
    table = "\n".join(lines)
    print(table)
    print(f"group sizes (first 10 of {len(sizes)}): {sizes[:10]}; median {sorted(sizes)[len(sizes) // 2]}")
    if args.figure is None:
        return
    from mlssim.report.figures import Series, plot

    args.figure.mkdir(parents=True, exist_ok=True)
    files = []
    for metric, col, label in (
        ("adder_upload", 2, "adding device's upload (bytes)"),
        ("at_add", 7, "all bytes at add time (bytes)"),
        ("total", 6, "all bytes incl. deferred (bytes)"),
    ):
        data = [
            Series(
                mode,
                tuple(float(r[0]) for r in rows if r[1] == mode),
                tuple(float(r[col]) for r in rows if r[1] == mode),
                tuple(0.0 for r in rows if r[1] == mode),
                tuple(1 for r in rows if r[1] == mode),
            )
            for mode in ("full-update", "lazy-update")
        ]
        stem = args.figure / f"device-add--{metric}"
        files += plot(data, "groups the user is in", label, "Adding a device to a user", stem, "device add")
        stem.with_suffix(".caption.txt").write_text(
            f"Figure (e): cost of adding a device to a user vs the number of groups it is in ({label}; "
            "at add time = the adder's upload, every other member's download of the commit and the new "
            "device's Welcome and tree; incl. deferred = plus the lazy mode's later path commit). "
            f"Group sizes lognormal (median 20, sigma 1, clipped 2-1000, seed {SEED}); each group churned by "
            "three path commits; model suite 1 (suite-1 sizes); exact encodings, no simulation of "
            "concurrency. full-update = Add commit with an UpdatePath; lazy-update = Add commit without "
            "a path, the new device's first path commit counted as deferred. "
            "Regenerate: python benchmarks/device_add.py --figure reports/devices\n"
        )
    (args.figure / "device-add.md").write_text(
        "# Figure (e): adding a device\n\n"
        + (__doc__ or "").split("\n\n", 1)[1].split("    python")[0].strip()
        + "\n\n"
        + table
        + "\n\n![adder upload](device-add--adder_upload.png)\n\n![at add time](device-add--at_add.png)"
        + "\n\n![total](device-add--total.png)\n"
    )
    for f in files:
        print(f)


if __name__ == "__main__":
    main()
