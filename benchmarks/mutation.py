"""Mutation score of one module: how many small faults in it the tests that matter for it catch.

    python benchmarks/mutation.py --module mlssim/mls/proposal_list.py
    python benchmarks/mutation.py --module mlssim/mls/protect.py --list        # the mutants only
    python benchmarks/mutation.py --module mlssim/mls/welcome.py --only 3 17   # some of them again

One module per run (shard by module; run them one at a time on a shared machine, with ``nice``).
Not part of the default test run. The mutants are generated here by a small AST operator set,
not by mutmut (mutmut 3 mutates a whole project in a ``mutants/`` copy and runs the full suite
once for its coverage map before the first mutant; per module that is the slow part):

* ``compare``: a comparison flipped (``==``/``!=``, ``<``/``>=``, ``>``/``<=``, ``in``/``not in``,
  ``is``/``is not``);
* ``raise``: a ``raise`` statement dropped (replaced by ``pass``);
* ``constant``: an integer constant ``n`` made ``n + 1``, ``True``/``False`` swapped;
* ``term``: one operand of a ``+`` or ``-`` dropped (``a + b`` becomes ``a`` and ``b``);
* ``boolean``: ``and``/``or`` swapped, a ``not`` dropped.

Docstrings, annotations, decorators, ``__all__`` and ``rfc_section`` are left alone. Each
mutant is written into a private copy of the project (``mlssim`` and ``tests`` copied, the rest
linked) and the module's tests (``TESTS`` below) run there in a fresh ``pytest -x`` process; a
failing test (or a run over the time limit) kills it. The unmutated copy must pass first. Prints
per mutant its line, operator and verdict, then ``mutants``, ``killed``, ``survived`` and the
score; survivors are listed with their source line.
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlssim.vectors import default_vector_dir  # noqa: E402

#: the tests that matter for each module in scope (fast files; no hypothesis state machines)
TESTS: dict[str, list[str]] = {
    "mlssim/mls/proposal_list.py": [
        "tests/test_proposal_list_rules.py",
        "tests/test_musts_proposals.py",
        "tests/test_musts_join.py",
        "tests/test_group_proposal_kinds.py",
        "tests/test_receive_hardening.py",
        "tests/test_group.py",
    ],
    "mlssim/mls/commit_outcome.py": [
        "tests/test_musts_commit.py",
        "tests/test_musts_proposals.py",
        "tests/test_musts_leaf.py",
        "tests/test_receive_hardening.py",
        "tests/test_group.py",
        "tests/test_group_proposal_kinds.py",
    ],
    "mlssim/mls/tree_validation.py": [
        "tests/test_tree_validation_rules.py",
        "tests/test_musts_join.py",
        "tests/test_ratchet_tree.py",
        "tests/test_leaf_validation.py",
        "tests/test_receive_hardening.py",
        "tests/test_vectors.py",
    ],
    "mlssim/mls/leaf_nodes.py": [
        "tests/test_musts_leaf.py",
        "tests/test_leaf_validation.py",
        "tests/test_credentials.py",
        "tests/test_musts_commit.py",
        "tests/test_key_packages.py",
    ],
    "mlssim/mls/welcome.py": [
        "tests/test_musts_join.py",
        "tests/test_group.py",
        "tests/test_receive_hardening.py",
        "tests/test_vectors.py",
    ],
    "mlssim/mls/protect.py": [
        "tests/test_musts_framing.py",
        "tests/test_messages.py",
        "tests/test_receive_hardening.py",
        "tests/test_vectors.py",
        "tests/test_group.py",
    ],
    "mlssim/mls/secret_tree.py": [
        "tests/test_secret_tree.py",
        "tests/test_vectors.py",
        "tests/test_musts_framing.py",
        "tests/test_group.py",
    ],
    "mlssim/mls/group_join.py": [
        "tests/test_musts_join.py",
        "tests/test_group.py",
        "tests/test_receive_hardening.py",
        "tests/test_group_sharing.py",
        "tests/test_group_join_edges.py",
    ],
    # the summary's tests: every figure recomputed from the record, and the simulations whose
    # summary values the other tests pin (node ids: the rest of those files is slow and checks
    # other code)
    "mlssim/sim/summary.py": [
        "tests/test_summary_accounting.py",
        "tests/test_federation.py::test_ordered_designs_never_fork",
        "tests/test_federation.py::test_leaderless_designs_fork_and_reconverge",
        "tests/test_federation.py::test_a_member_that_misses_commits_resyncs_into_the_current_epoch",
        "tests/test_federation.py::test_leaderless_topologies_upload_one_copy_per_provider_or_member",
        "tests/test_federation.py::test_no_application_message_is_lost_silently",
        "tests/test_pre_sim.py",
        "tests/test_devices_sim.py",
        "tests/test_sim_features.py::test_update_proposals_are_committed_by_the_designated_committer",
        "tests/test_sim_features.py::test_external_commit_joins_and_tree_downloads",
        "tests/test_sim_features.py::test_welcome_without_tree_downloads_it_from_the_ds",
        "tests/test_branch_metrics.py",
        "tests/test_bandwidth.py",
    ],
}

FLIP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}


@dataclass(frozen=True)
class Mutant:
    index: int
    line: int
    operator: str
    what: str


def _skipped(tree: ast.Module) -> set[int]:
    """ids of nodes never mutated: docstrings, annotations, ``__all__``, ``rfc_section``."""
    out: set[int] = set()

    def skip(node: ast.AST | None) -> None:
        if node is not None:
            out.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                skip(body[0])
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            for d in node.decorator_list:
                skip(d)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            skip(node.returns)
            for a in [*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs]:
                skip(a.annotation)
            for a in (node.args.vararg, node.args.kwarg):
                if a is not None:
                    skip(a.annotation)
        if isinstance(node, ast.AnnAssign):
            skip(node.annotation)
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id in ("__all__", "rfc_section") for t in targets):
                skip(node)
    return out


class _Sites(ast.NodeVisitor):
    """Every mutation site of a module, in source order: (node id, operator, variant, text)."""

    def __init__(self, skipped: set[int]) -> None:
        self.skipped = skipped
        self.sites: list[tuple[int, str, int, int, str]] = []

    def add(self, node: ast.AST, operator: str, variant: int, what: str) -> None:
        self.sites.append((id(node), operator, variant, getattr(node, "lineno", 0), what))

    def generic_visit(self, node: ast.AST) -> None:
        if id(node) in self.skipped:
            return
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in FLIP:
                    self.add(node, "compare", i, f"{type(op).__name__} -> {FLIP[type(op)].__name__}")
        elif isinstance(node, ast.Raise):
            self.add(node, "raise", 0, "raise dropped")
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            self.add(node, "constant", 0, f"{node.value} -> {not node.value}")
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            self.add(node, "constant", 0, f"{node.value} -> {node.value + 1}")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            self.add(node, "term", 0, "right operand dropped")
            if isinstance(node.op, ast.Add):
                self.add(node, "term", 1, "left operand dropped")
        elif isinstance(node, ast.BoolOp):
            self.add(
                node,
                "boolean",
                0,
                f"{type(node.op).__name__} -> {'Or' if isinstance(node.op, ast.And) else 'And'}",
            )
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            self.add(node, "boolean", 0, "not dropped")
        super().generic_visit(node)


class _Apply(ast.NodeTransformer):
    """The one mutation at the site (node id, variant)."""

    def __init__(self, target: int, variant: int) -> None:
        self.target = target
        self.variant = variant

    def visit(self, node: ast.AST) -> ast.AST:
        if id(node) != self.target:
            return super().visit(node)
        v = self.variant
        if isinstance(node, ast.Compare):
            node.ops[v] = FLIP[type(node.ops[v])]()
            return node
        if isinstance(node, ast.Raise):
            return ast.copy_location(ast.Pass(), node)
        if isinstance(node, ast.Constant):
            node.value = (not node.value) if type(node.value) is bool else node.value + 1
            return node
        if isinstance(node, ast.BinOp):
            return node.left if v == 0 else node.right
        if isinstance(node, ast.BoolOp):
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            return node
        if isinstance(node, ast.UnaryOp):
            return node.operand
        raise AssertionError(node)


def mutants(source: str) -> tuple[list[Mutant], list[str]]:
    """Every mutant of ``source`` and its mutated source."""
    tree = ast.parse(source)
    sites = _Sites(_skipped(tree))
    sites.visit(tree)
    out, texts = [], []
    for i, (node_id, op, variant, line, what) in enumerate(sites.sites):
        # the node ids belong to ``tree``: mutate a copy by walking both in step
        fresh = copy.deepcopy(tree)
        by_id = {id(a): b for a, b in zip(ast.walk(tree), ast.walk(fresh), strict=True)}
        mutated = _Apply(id(by_id[node_id]), variant).visit(fresh)
        texts.append(ast.unparse(ast.fix_missing_locations(mutated)))
        out.append(Mutant(i, line, op, what))
    return out, texts


def run_tests(copy_root: Path, tests: list[str], timeout: float) -> tuple[bool, float]:
    """True if the tests pass against the package in ``copy_root``."""
    env = dict(os.environ, PYTHONPATH=str(copy_root), PYTHONDONTWRITEBYTECODE="1")
    vectors = default_vector_dir()
    if vectors is not None:
        env["MLSSIM_VECTORS"] = str(vectors)
    # run in the copy: ``python -m`` puts the working directory first on sys.path
    probe = "import mlssim, sys; sys.exit(0 if mlssim.__file__.startswith(sys.argv[1]) else 1)"
    if subprocess.run([sys.executable, "-c", probe, str(copy_root)], cwd=copy_root, env=env).returncode:
        raise SystemExit(f"mlssim is not imported from the copy in {copy_root}")
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
    start = time.monotonic()
    try:
        res = subprocess.run(
            [*cmd, *tests], cwd=copy_root, env=env, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return False, time.monotonic() - start
    return res.returncode == 0, time.monotonic() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--module", required=True, help="e.g. mlssim/mls/proposal_list.py")
    ap.add_argument("--tests", nargs="*", help="test files (default: the module's entry in TESTS)")
    ap.add_argument("--list", action="store_true", help="list the mutants and stop")
    ap.add_argument("--only", nargs="*", type=int, help="run only these mutant indexes")
    args = ap.parse_args(argv)
    module = args.module
    tests = args.tests or TESTS.get(module)
    if not tests:
        ap.error(f"no tests known for {module}: pass --tests")
    source = (ROOT / module).read_text()
    found, texts = mutants(source)
    lines = source.splitlines()
    if args.list:
        for m in found:
            print(f"{m.index:4d}  line {m.line:4d}  {m.operator:8s} {m.what}: {lines[m.line - 1].strip()}")
        return 0
    chosen = [m for m in found if args.only is None or m.index in args.only]
    with tempfile.TemporaryDirectory(prefix="mlssim-mutation-") as tmp:
        copy_root = Path(tmp)
        for part in ("mlssim", "tests"):
            shutil.copytree(ROOT / part, copy_root / part, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(ROOT / "pyproject.toml", copy_root)
        for part in ("scenarios", "docs", "benchmarks", "reports"):
            if (ROOT / part).exists():
                (copy_root / part).symlink_to(ROOT / part)
        target = copy_root / module
        ok, baseline = run_tests(copy_root, tests, timeout=1800)
        if not ok:
            print(f"the tests fail on the unmutated module ({' '.join(tests)}): nothing to measure")
            return 2
        print(f"{module}: {len(chosen)} mutants; tests {' '.join(tests)} pass in {baseline:.1f} s")
        limit = max(60.0, 5 * baseline)
        survivors = []
        for m in chosen:
            target.write_text(texts[m.index])
            passed, took = run_tests(copy_root, tests, timeout=limit)
            verdict = "SURVIVED" if passed else ("killed (timeout)" if took >= limit else "killed")
            print(
                f"{m.index:4d}  line {m.line:4d}  {m.operator:8s} {m.what}: {verdict} ({took:.1f} s)",
                flush=True,
            )
            if passed:
                survivors.append(m)
        target.write_text(source)
    killed = len(chosen) - len(survivors)
    score = 100.0 * killed / len(chosen) if chosen else 100.0
    print(
        f"\n{module}: mutants {len(chosen)}, killed {killed}, survived {len(survivors)}, score {score:.1f} %"
    )
    for m in survivors:
        print(f"  survivor {m.index}: line {m.line} {m.operator} {m.what}: {lines[m.line - 1].strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
