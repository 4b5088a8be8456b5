"""Do this checkout's shipped scenarios give byte-identical results to another commit's?

Refactors and speed work must change no result. This script checks out REF (default: HEAD)
into a temporary git worktree, runs every scenario in ``scenarios/`` with both trees (each
run in its own process, with the tree on PYTHONPATH), under two PYTHONHASHSEEDs, and
compares ``summary.json``, ``transmissions.csv`` and ``events.jsonl`` byte for byte (the
manifest holds wall times, so it is not compared). It prints one line per scenario and
exits 1 on any difference.

    python benchmarks/compare_outputs.py                 # against HEAD (uncommitted changes)
    python benchmarks/compare_outputs.py --ref 14720f0   # against a given commit
    python benchmarks/compare_outputs.py --slow          # also scale-10k (about 4 minutes)
    python benchmarks/compare_outputs.py --ref 8fc1a66 --cache /tmp/ref-out   # reuse REF's runs

With ``--cache DIR`` the runs of REF are kept under ``DIR/<commit>/`` and reused next time
(a commit's outputs never change), so repeated checks during a refactor cost one tree's runs.

A printed number, not a test: a full run takes a few minutes on two cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPARED = ("summary.json", "transmissions.csv", "events.jsonl")
SLOW = {"scale-10k.yaml"}
HASH_SEEDS = ("0", "12345")


def _run(tree: Path, scenario: Path, out: Path, hash_seed: str) -> Path:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": hash_seed}
    code = "import sys; from mlssim.cli import main; sys.exit(main())"
    cmd = [sys.executable, "-c", code, "run", str(scenario), "--out", str(out), "--no-progress"]
    subprocess.run(cmd, env=env, check=True, capture_output=True, cwd=tree)
    found = [p.parent for p in out.rglob("summary.json")]
    if len(found) != 1:
        raise RuntimeError(f"{scenario.name}: expected one run folder under {out}, found {found}")
    return found[0]


def _compare(a: Path, b: Path) -> list[str]:
    return [name for name in COMPARED if (a / name).read_bytes() != (b / name).read_bytes()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", default="HEAD", help="commit to compare against (default: HEAD)")
    ap.add_argument("--slow", action="store_true", help="include the scenarios of the slow suite")
    ap.add_argument("--only", nargs="*", help="scenario file names to compare (default: all)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cache", type=Path, help="keep and reuse REF's outputs under this folder")
    args = ap.parse_args()

    scenarios = sorted((ROOT / "scenarios").glob("*.yaml"))
    if args.only:
        scenarios = [s for s in scenarios if s.name in args.only]
    if not args.slow:
        scenarios = [s for s in scenarios if s.name not in SLOW]

    sha = subprocess.run(
        ["git", "rev-parse", "--verify", f"{args.ref}^{{commit}}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="mlssim-compare-") as tmp:
        base = Path(tmp) / "base"
        base_out = args.cache / sha if args.cache else Path(tmp) / "o-base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(base), args.ref],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        try:
            jobs = []
            for s in scenarios:
                for seed in HASH_SEEDS:
                    jobs.append((s, seed, "base", base, base_out / seed / s.stem))
                    jobs.append((s, seed, "work", ROOT, Path(tmp) / "o-work" / seed / s.stem))
            results: dict[tuple[str, str, str], Path] = {}
            with ThreadPoolExecutor(max_workers=args.jobs) as pool:
                futures = {}
                for s, seed, side, tree, out in jobs:
                    if not (tree / "scenarios" / s.name).is_file():
                        continue  # a scenario new since the ref: nothing to compare it with
                    kept = [p.parent for p in out.rglob("summary.json")] if side == "base" else []
                    if len(kept) == 1 and all((kept[0] / n).is_file() for n in COMPARED):
                        results[(s.name, seed, side)] = kept[0]
                        continue
                    if out.exists():
                        shutil.rmtree(out)
                    futures[(s.name, seed, side)] = pool.submit(
                        _run, tree, tree / "scenarios" / s.name, out, seed
                    )
                results.update({k: f.result() for k, f in futures.items()})
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False)
        bad = 0
        for s in scenarios:
            if (s.name, HASH_SEEDS[0], "base") not in results:
                first, second = (results[(s.name, seed, "work")] for seed in HASH_SEEDS)
                across = _compare(first, second)
                bad += bool(across)
                verdict = "new since the ref" + (": differs between hash seeds" if across else "")
                print(f"{s.name:36} {verdict}")
                continue
            diffs = []
            for seed in HASH_SEEDS:
                diffs += [
                    f"{n} (PYTHONHASHSEED={seed})"
                    for n in _compare(results[(s.name, seed, "base")], results[(s.name, seed, "work")])
                ]
            first, second = (results[(s.name, seed, "work")] for seed in HASH_SEEDS)
            across = _compare(first, second)
            diffs += [f"{n} differs between hash seeds" for n in across]
            bad += bool(diffs)
            print(f"{s.name:36} {'identical' if not diffs else 'DIFFERS: ' + ', '.join(diffs)}")
        new = sum((s.name, HASH_SEEDS[0], "base") not in results for s in scenarios)
        print(
            f"{len(scenarios) - new - bad} of {len(scenarios) - new} scenarios byte-identical to {args.ref}"
            + (f"; {new} new since it, each the same under both hash seeds" if new else "")
        )
        return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
