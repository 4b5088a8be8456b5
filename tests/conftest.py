"""Shared fixtures: where the official vectors live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlssim.sim.free import Candidates
from mlssim.vectors import default_vector_dir

WHERE = (
    "official MLS test vectors not found: set $MLSSIM_VECTORS or put the files from "
    "github.com/mlswg/mls-implementations (folder test-vectors/) in ../shared/mls-test-vectors/"
)


def vector_dir() -> Path | None:
    d = default_vector_dir()
    return d if d is not None and d.is_dir() else None


@pytest.fixture(scope="session")
def vectors_path() -> Path:
    d = vector_dir()
    if d is None:
        if os.environ.get("CI") == "true":
            pytest.fail(WHERE + " (CI=true: a missing vector folder is a failure)")
        pytest.skip(WHERE)
    return d


@pytest.fixture(autouse=True)
def check_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every simulated run in the tests also scans the workload's candidates on each draw and
    fails if the kept list differs (``sim/free.py``): a change to what makes a member free that
    does not move ``World.changes`` shows up here."""
    monkeypatch.setattr(Candidates, "check", True)
