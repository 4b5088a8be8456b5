"""Runners for the official MLS interop test vectors (mlswg/mls-implementations).

One module per vector file; each exposes ``check(case) -> list[str]`` returning one
message per mismatching field (empty: the case passed), or raising
:class:`NotSupported` for a case this core cannot run yet. Nothing here is ever
reported as passed without having been checked.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "NotSupported",
    "CaseResult",
    "RUNNER_MODULES",
    "default_vector_dir",
    "run_file",
    "runner_for",
]

#: vector file stem -> runner module under mlssim.vectors
RUNNER_MODULES: dict[str, str] = {
    "deserialization": "deserialization",
    "tree-math": "tree_math",
    "crypto-basics": "crypto_basics",
    "key-schedule": "key_schedule",
    "psk_secret": "psk_secret",
    "transcript-hashes": "transcript_hashes",
    "secret-tree": "secret_tree",
    "message-protection": "message_protection",
    "welcome": "welcome",
    "messages": "messages",
    "tree-operations": "tree_operations",
    "tree-validation": "tree_validation",
    "treekem": "treekem",
    "passive-client-welcome": "passive_client",
    "passive-client-handling-commit": "passive_client",
    "passive-client-random": "passive_client",
}


class NotSupported(Exception):
    """This core cannot run the case yet; reported as not supported, never as passed."""


@dataclass
class CaseResult:
    file: str
    index: int
    suite: int | None
    status: str  # "passed" | "failed" | "unsupported"
    messages: list[str] = field(default_factory=list)


def default_vector_dir() -> Path | None:
    """``$MLSSIM_VECTORS``, else ``../shared/mls-test-vectors`` beside the project."""
    env = os.environ.get("MLSSIM_VECTORS")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parents[2] / ".." / "shared" / "mls-test-vectors"
    return here.resolve() if here.is_dir() else None


def runner_for(stem: str) -> Callable[[dict[str, Any]], list[str]] | None:
    mod_name = RUNNER_MODULES.get(stem)
    if mod_name is None:
        return None
    try:
        mod = importlib.import_module(f"{__name__}.{mod_name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{mod_name}":
            return None
        raise
    fn: Callable[[dict[str, Any]], list[str]] = mod.check
    return fn


def load_cases(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text())
    if isinstance(data, dict):
        data = [data]
    return list(data)


def run_file(path: Path) -> Iterator[CaseResult]:
    """Run every case of one vector file."""
    stem = path.stem
    runner = runner_for(stem)
    for i, case in enumerate(load_cases(path)):
        suite = case.get("cipher_suite") if isinstance(case, dict) else None
        if runner is None:
            yield CaseResult(stem, i, suite, "unsupported", ["no runner for this vector type yet"])
            continue
        try:
            msgs = runner(case)
        except NotSupported as exc:
            yield CaseResult(stem, i, suite, "unsupported", [str(exc)])
            continue
        except Exception as exc:  # a crash is a failure with its reason, not a traceback
            yield CaseResult(stem, i, suite, "failed", [f"{type(exc).__name__}: {exc}"])
            continue
        yield CaseResult(stem, i, suite, "failed" if msgs else "passed", msgs)
