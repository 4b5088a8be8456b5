"""Where a group's creation commit spends its processing time: the committer's counted work for
one commit adding N − 1 members (``Group.commit(adds=...)``), priced per primitive as the
simulator prices it (``calibration.cost_of``), the largest first.

Why it exists (issue 19): in ``scenarios/wg-processing-native.yaml`` a phone takes about 34 s to
build the creation commit of a 3,000-member 0xF001 group even with a native ML-KEM. The cause
is RFC 9420 §12.4.3.1: each joiner's GroupSecrets is sealed with
``EncryptWithLabel(init_key, "Welcome", encrypted_group_info, group_secrets)``, so every HPKE
setup takes the whole encrypted GroupInfo as its context and hashes it (RFC 9180's key schedule:
``LabeledExtract("", "info_hash", info)``). With the ratchet tree in the Welcome
(``mls.ratchet_tree_in_welcome``, the default) that GroupInfo grows with N, and the committer
hashes N copies of it: O(N²) bytes. ``--tree-out-of-band`` shows the same commit with the tree
fetched out of band. Usage::

    python benchmarks/creation_cost.py 1000 --suite 0xF001 --kem-cost native --cpu-factor 4
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlssim.calibration import cost_of, default_calibration, native_pq_calibration
from mlssim.mls.crypto import get_suite
from mlssim.mls.crypto.counting import CountingSuite, WorkCounts, counting
from mlssim.mls.group import Group, GroupConfig
from mlssim.mls.rand import SeededRandom

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, as steady_state.py
from tests.group_harness import make_client


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", type=int, help="members after the commit (the committer and N − 1 adds)")
    ap.add_argument(
        "--suite", type=lambda v: int(v, 0), default=1, help="cipher suite (0xF001 for the hybrid)"
    )
    ap.add_argument("--kem-cost", choices=("measured", "native"), default="measured")
    ap.add_argument("--cpu-factor", type=float, default=1.0, help="the profile's (phone: 4)")
    ap.add_argument("--tree-out-of-band", action="store_true", help="no ratchet tree in the Welcome")
    args = ap.parse_args()
    if args.n < 2:
        ap.error("n: a creation commit adds at least one member (n >= 2)")
    suite = CountingSuite(get_suite(args.suite, "model"))  # counts as its real suite (issue 19)
    rand = SeededRandom(1, "creation-cost")
    creator = make_client(suite, "creator", rand)
    joiners = [make_client(suite, f"m{i}", rand) for i in range(args.n - 1)]
    config = GroupConfig(ratchet_tree_in_welcome=not args.tree_out_of_band)
    group = Group.create(suite, group_id=b"g", identity=creator.identity, rand=rand, config=config)
    tally = WorkCounts()
    with counting(tally):
        group.commit(rand, adds=[c.bundle.key_package for c in joiners])
    cal = default_calibration()
    if args.kem_cost == "native":
        cal = native_pq_calibration(cal)
    total = cost_of(tally, cal, args.suite, args.cpu_factor)
    print(
        f"N = {args.n}, suite 0x{args.suite:04X}, kem_cost {args.kem_cost}, cpu factor {args.cpu_factor:g}, "
        f"tree {'out of band' if args.tree_out_of_band else 'in the Welcome'}: {total:.3f} s"
    )
    print(f"{'primitive':22} {'calls':>8} {'bytes':>14} {'seconds':>9} {'share':>6}")
    rows = []
    for name, calls in tally.items():
        if name.endswith("_bytes"):
            continue
        part = {
            name: calls,
            **({f"{name}_bytes": tally[f"{name}_bytes"]} if f"{name}_bytes" in tally else {}),
        }
        rows.append(
            (cost_of(part, cal, args.suite, args.cpu_factor), name, calls, tally.get(f"{name}_bytes"))
        )
    for seconds, name, calls, nbytes in sorted(rows, reverse=True):
        shown = f"{nbytes:,}" if nbytes is not None else "-"
        print(f"{name:22} {calls:>8} {shown:>14} {seconds:>9.3f} {seconds / total:>6.1%}")


if __name__ == "__main__":
    main()
