"""Exact bytes of the ``pre`` reading (``assist/pre_path.py``) against ``split`` and ``plain``, for
one empty path commit on a fresh tree (one Add commit of N − 1 members: every parent blank).

Model suite 1 and the model PRE (both byte-exact twins). Prints, per N: the committer's upload
(plain commit, split SCommit, pre SCommit), a member's download (plain; split and pre
IndividualCommit mean and max), the DS's re-encryptions, and the deposits: one deposit, a
join or refresh (2 × (N − 1) deposits + announcements), the whole group's setup (N × (N − 1)),
and the DS's kfrag store. ``python benchmarks/pre_path_sizes.py [N ...]`` (default 10 100 1000).
"""

from __future__ import annotations

import statistics
import sys

from bandwidth import member  # benchmarks/bandwidth.py: one way to make a member

from mlssim.assist.pre import get_pre
from mlssim.assist.pre_path import (
    KfragEntry,
    announce,
    deposit_batch_size,
    deposit_size,
    new_pre_keys,
    pre_framing,
    reencrypting_projection,
)
from mlssim.mls.codec import encode
from mlssim.mls.crypto import get_suite
from mlssim.mls.group import Group, GroupConfig
from mlssim.mls.messages import Lifetime, MLSMessage, SCommit
from mlssim.mls.rand import SeededRandom
from mlssim.mls.split_commit import SPLIT_FRAMING, project_all

FOREVER = Lifetime(not_before=0, not_after=2**63)


def measure(n: int) -> dict[str, float]:
    suite, pre = get_suite(1, "model"), get_pre("model")
    rand = SeededRandom(1, f"bench/{n}")
    m0 = member(suite, "m0", rand)
    ident, b = m0.identity, m0.bundle
    g = Group.create(
        suite,
        group_id=b"bench",
        identity=ident,
        rand=rand,
        config=GroupConfig(),
        encryption_priv=b.encryption_priv,
        leaf_node=b.key_package.leaf_node,
    )
    kps = [member(suite, f"m{i}", rand).bundle.key_package for i in range(1, n)]
    g.merge(g.commit(rand, adds=kps, path=False))
    # one empty path commit by m0 (leaf 0), staged three ways from the same state and randomness
    plain = g.commit(SeededRandom(2, "c"))
    g.discard(plain)
    split = g.commit(SeededRandom(2, "c"), framing=SPLIT_FRAMING)
    g.discard(split)
    keys = {i: new_pre_keys(pre, rand, 0) for i, _ in g.tree.leaves()}
    staged = g.commit(SeededRandom(2, "c"), framing=pre_framing(pre, keys[0].key.pub, rand))
    sc = staged.message.body
    ssc = split.message.body
    assert isinstance(sc, SCommit) and isinstance(ssc, SCommit)
    tree = staged.ratchet_tree

    def kfrag_of(d: int, r: int) -> KfragEntry:
        (k,) = pre.generate_kfrags(keys[d].key.priv, keys[r].key.pub, keys[d].signer.priv, rand)
        return KfragEntry(k, keys[d].key.pub, keys[r].key.pub, keys[d].signer.pub)

    proj = reencrypting_projection(pre, sc, tree, 0, frozenset(), kfrag_of)
    pre_down = [len(encode(MLSMessage(body=ic))) for ic in proj.individual.values()]
    split_down = [
        len(encode(MLSMessage(body=ic)))
        for ic in project_all(ssc, split.ratchet_tree, 0, frozenset()).values()
    ]
    ann = announce(suite, b"bench", 0, keys[0], ident.signature_priv)
    gid = b"bench"
    assert sc.path is not None
    return {
        "n": n,
        "plain_up": len(encode(plain.message)),
        "split_up": len(encode(split.message)),
        "pre_up": len(encode(staged.message)),
        "pre_cts": sum(len(x.encrypted_path_secret) for x in sc.path.nodes),
        "plain_down": len(encode(plain.message)),
        "split_down_mean": statistics.fmean(split_down),
        "split_down_max": max(split_down),
        "pre_down_mean": statistics.fmean(pre_down),
        "pre_down_max": max(pre_down),
        "reencryptions": proj.reencryptions,
        "deposit": deposit_size(pre),
        "announcement": len(ann.encoded()),
        # a join or refresh: the owner's announcement and N-1 deposits in one batch, and one
        # deposit (batch of 1) from each of the N-1 others
        "new_key_uploads": len(ann.encoded())
        + deposit_batch_size(pre, gid, n - 1)
        + (n - 1) * deposit_batch_size(pre, gid, 1),
        "setup_uploads": n * (len(ann.encoded()) + deposit_batch_size(pre, gid, n - 1)),
        "ds_kfrag_store": n * (n - 1) * deposit_size(pre),
    }


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [10, 100, 1000]
    cols = [
        "n",
        "plain_up",
        "split_up",
        "pre_up",
        "pre_cts",
        "plain_down",
        "split_down_mean",
        "split_down_max",
        "pre_down_mean",
        "pre_down_max",
        "reencryptions",
        "deposit",
        "announcement",
        "new_key_uploads",
        "setup_uploads",
        "ds_kfrag_store",
    ]
    print("| " + " | ".join(cols) + " |")
    print("|" + " ---: |" * len(cols))
    for n in sizes:
        r = measure(n)
        print(
            "| " + " | ".join(f"{r[c]:,.0f}" if isinstance(r[c], float) else f"{r[c]:,}" for c in cols) + " |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
