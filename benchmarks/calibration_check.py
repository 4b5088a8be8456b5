"""Does a fresh measurement on this machine agree with the shipped calibration within ±20 %?

Usage: ``python benchmarks/calibration_check.py [--file F] [--repeat N] [--suites 1,0xF001]``.
Reruns ``mlssim.calibration.measure`` (the median of ``--repeat`` samples, default the file's)
and prints, per suite and primitive, the ratio new / shipped of the cost of one call, for a
byte-counted primitive at 1 KiB of input (``per_call + 1024 × per_byte``, the size where MLS
spends most calls), and whether it is within ±20 %. Ends with the share within and the
largest deviations.

A printed number, not a test: on another machine every ratio is expected to move together
(that is what a new calibration is for); on the calibration's own machine a ratio outside
±20 % means the measurement is noisy there, or the machine was busy.
"""

from __future__ import annotations

import argparse
import statistics
import time

from mlssim.calibration import DEFAULT_PATH, load_calibration, measure, real_suite_ids
from mlssim.calibration.model import PrimitiveCost
from mlssim.mls.crypto.counting import BYTE_COUNTED, PRIMITIVES

TOLERANCE = 0.20
AT_BYTES = 1024


def _cost(c: PrimitiveCost, name: str) -> float:
    return c.per_call + (AT_BYTES * c.per_byte if name in BYTE_COUNTED else 0.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--file", default=str(DEFAULT_PATH), help="calibration to check (default: the shipped one)"
    )
    ap.add_argument("--repeat", type=int, default=None, help="samples per primitive (default: the file's)")
    ap.add_argument("--suites", default=None, help="comma-separated suite ids (default: all in the file)")
    args = ap.parse_args()
    shipped = load_calibration(args.file)
    ids = sorted(shipped.suites)
    if args.suites:
        ids = [int(s, 0) for s in args.suites.split(",")]
    ids = [s for s in ids if s in real_suite_ids()]
    start = time.perf_counter()
    fresh = measure(ids, args.repeat or shipped.repeat)
    wall = time.perf_counter() - start
    print(f"shipped: {shipped.machine.cpu_model}, {shipped.date}, repeat {shipped.repeat}")
    print(f"now:     {fresh.machine.cpu_model}, {fresh.date}, repeat {fresh.repeat} ({wall:.1f} s)")
    print(f"ratio new/shipped of the cost of one call (byte-counted: at {AT_BYTES} bytes); ±20 % ok\n")
    names = list(PRIMITIVES)
    print(f"{'suite':>6} " + " ".join(f"{n[:9]:>9}" for n in names))
    ratios: list[tuple[float, int, str]] = []
    for s in ids:
        cells = []
        for n in names:
            r = _cost(fresh.suites[s].costs[n], n) / _cost(shipped.suites[s].costs[n], n)
            ratios.append((r, s, n))
            cells.append(f"{r:8.2f}{' ' if abs(r - 1) <= TOLERANCE else '*'}")
        label = str(s) if s < 0xF000 else f"{s:#06x}"
        print(f"{label:>6} " + " ".join(cells))
    within = sum(abs(r - 1) <= TOLERANCE for r, _, _ in ratios)
    print(
        f"\n* outside ±{TOLERANCE:.0%}. within: {within}/{len(ratios)} ({within / len(ratios):.0%}); "
        f"median ratio {statistics.median(r for r, _, _ in ratios):.3f}"
    )
    worst = sorted(ratios, key=lambda t: -abs(t[0] - 1))[:8]
    print("largest deviations: " + ", ".join(f"{n} suite {s:#x} {r:.2f}" for r, s, n in worst))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
