"""YAML scenario files → validated :class:`~mlssim.scenario.schema.Scenario` objects.

A user who mistypes a key should learn where, not read a pydantic dump, so every problem
becomes one :class:`ScenarioIssue` ``file:line: dotted.key: short message`` and all of a file's
problems are raised together in one :class:`ScenarioError` (desmod ``config.py``: keys named on
failure). The pipeline, and why each step is there:

1. **Compose** the YAML into a node tree (PyYAML ``SafeLoader``): nodes carry marks, so every
   mapping key and list item gets a line. Duplicate keys, which PyYAML would silently collapse,
   are reported here.
2. **Construct** plain data from the same tree (safe tags only) and walk the tree once more to
   map dotted key paths (``groups[0].workload.app_rate``) to lines.
3. **Copy** the data without YAML aliasing, so an override of ``groups[0]`` never changes a
   ``groups[1]`` that was written as ``*alias`` of it.
4. **Override** dotted keys (``--seed``, sweep points); paths are checked against the schema.
5. **Validate** with pydantic and translate each error: pydantic's loc becomes the dotted path
   (discriminator tags dropped), its message a short human one, and the path a line — the
   nearest enclosing key that is in the file when the key itself is missing.
6. **Check** ``Empirical.file`` paths against the scenario's folder: they must exist and hold
   numbers; so must ``hardware.calibration`` (a calibration file that covers the scenario's
   cipher suite). Paths stay relative (no machine path ever lands in a run folder or a report); a
   run's key hashes the files' contents.
7. **Check** the ``sweep:`` grid, if any: every key is a path of the schema and every value,
   set alone on the file, validates; problems are named at the grid's lines, so a sweep's typo
   shows in ``mlssim validate`` and not only once the sweep runs.

This module runs the pipeline and does step 6; steps 1–3 are in ``yaml_lines``, 4 in
``overrides``, 5 in ``validation_issues`` and 7 in ``sweep_grid``. ``issues`` holds the issue
types and the key path notation they share, ``typetree`` the walk through the schema's types.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..calibration import CalibrationError, default_calibration, load_calibration
from .issues import KeyPath, ScenarioError, ScenarioIssue, format_path, parse_path
from .overrides import _apply_overrides, _get
from .samples import load_samples
from .schema import Empirical, Scenario
from .sweep_grid import grid_issues, point_issues
from .validation_issues import _Context, _issue, _issues_from
from .yaml_lines import _compose

__all__ = ["ScenarioIssue", "ScenarioError", "load_scenario", "parse_scenario", "format_path", "parse_path"]


# ---- empirical sample files ---------------------------------------------------------------------


def _empiricals(value: object, path: KeyPath) -> Iterator[tuple[KeyPath, Empirical]]:
    if isinstance(value, Empirical):
        yield path, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _empiricals(getattr(value, name), (*path, name))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _empiricals(item, (*path, i))
    elif isinstance(value, dict):
        for k, item in value.items():
            yield from _empiricals(item, (*path, k))


def _file_issues(scenario: Scenario, base: Path, ctx: _Context) -> list[ScenarioIssue]:
    """Every ``Empirical.file`` exists (relative to the scenario) and holds numeric samples.

    The path stays as written, so a scenario (and the reports that quote it) never holds a path
    of the machine it ran on; runs hash the files' contents into their run key instead."""
    issues: list[ScenarioIssue] = []
    for path, emp in _empiricals(scenario, ()):
        target = base / emp.file
        if not target.is_file():
            why = "a folder, not a file" if target.is_dir() else "no such file"
            issues.append(_issue(ctx, (*path, "file"), f"{why}: {emp.file} (looked for {target})"))
            continue
        try:
            load_samples(str(target.resolve()))
        except (ValueError, OSError, UnicodeDecodeError) as err:
            issues.append(_issue(ctx, (*path, "file"), f"unreadable samples in {emp.file}: {err}"))
    return issues


def _calibration_issues(scenario: Scenario, base: Path, ctx: _Context) -> list[ScenarioIssue]:
    """``hardware.calibration`` is ``default`` or a readable calibration file (relative to the
    scenario, kept relative like sample files) with costs for the scenario's cipher suite."""
    hw = scenario.hardware
    if hw is None:
        return []
    path: KeyPath = ("hardware", "calibration")
    if hw.calibration == "default":
        calibration = default_calibration()
    else:
        target = base / hw.calibration
        if not target.is_file():
            why = "a folder, not a file" if target.is_dir() else "no such file"
            return [_issue(ctx, path, f"{why}: {hw.calibration} (looked for {target})")]
        try:
            calibration = load_calibration(target)
        except CalibrationError as err:
            first = err.problems[0]
            where = f"{first[0]}: " if first[0] else ""
            more = f" (and {len(err.problems) - 1} more)" if len(err.problems) > 1 else ""
            return [_issue(ctx, path, f"not a usable calibration: {where}{first[1]}{more}")]
    suite = scenario.crypto.suite
    if suite not in calibration.suites:
        label = str(suite) if suite < 0xF000 else f"0x{suite:04X}"
        return [_issue(ctx, path, f"{hw.calibration} has no costs for cipher suite {label} (crypto.suite)")]
    if hw.ds is not None and calibration.ds is None:
        why = "has no costs for the DS's primitives (hardware.ds); rerun `mlssim calibrate`"
        return [_issue(ctx, path, f"{hw.calibration} {why}")]
    if hw.kem_cost == "native" and calibration.group_ops is None:
        why = "has no curve timings (hardware.kem_cost: native); rerun `mlssim calibrate`"
        return [_issue(ctx, path, f"{hw.calibration} {why}")]
    return []


def _validate(data: dict[str, Any], ctx: _Context, base: Path) -> tuple[Scenario | None, list[ScenarioIssue]]:
    """Steps 5 and 6 on ``data``: the scenario, or None and its issues."""
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        return None, _issues_from(err, ctx)
    issues = _file_issues(scenario, base, ctx) + _calibration_issues(scenario, base, ctx)
    return (None if issues else scenario), issues


# ---- entry points ---------------------------------------------------------------------------------


def parse_scenario(
    text: str,
    filename: str | os.PathLike[str],
    overrides: Mapping[str, object] | None = None,
    *,
    point: Sequence[tuple[str, object]] | None = None,
) -> Scenario:
    """Validate scenario YAML ``text``; ``filename`` names it in messages and anchors relative paths.

    ``point`` is a sweep grid point (``expand``), set before ``overrides``; its problems are
    named at the grid's lines. Raises :class:`ScenarioError` listing every problem found, each
    with file, line and key.
    """
    name = os.fspath(filename)
    doc = _compose(text, name)
    if doc.issues:
        raise ScenarioError(doc.issues)
    data = doc.data
    assert isinstance(data, dict)  # _compose only accepts a top-level mapping
    if point:
        _apply_overrides(data, {key: copy.deepcopy(value) for key, value in point}, name)
    applied = _apply_overrides(data, overrides, name) if overrides else []
    ctx = _Context(name, doc.lines, data, {p: _get(data, p) for p in applied})
    folder = Path(name).parent
    scenario, issues = _validate(data, ctx, folder)
    if point and issues:
        raise ScenarioError(point_issues(issues, point, ctx))

    def judge(trial: dict[str, Any]) -> list[ScenarioIssue]:  # a grid value, set alone on the base
        return _validate(trial, ctx._replace(data=trial, overrides={}), folder)[1]

    issues += grid_issues(ctx, judge if scenario is not None else None)
    if issues or scenario is None:
        issues.sort(key=lambda i: (i.line is None, i.line or 0))
        raise ScenarioError(issues)
    return scenario


def load_scenario(
    path: str | os.PathLike[str],
    overrides: Mapping[str, object] | None = None,
    *,
    point: Sequence[tuple[str, object]] | None = None,
) -> Scenario:
    """Read and validate the scenario file at ``path``, after setting ``overrides`` (dotted keys).

    ``overrides`` such as ``{"seed": 3, "groups[0].size": 50}`` are applied before validation,
    so an override is checked like a value in the file; ``point`` is a sweep grid point, set
    first and blamed on the grid's lines (see :func:`parse_scenario`). Raises
    :class:`ScenarioError`, naming the file, for everything from a missing file to a bad value.
    """
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([ScenarioIssue(name, None, "", "no such file")]) from None
    except IsADirectoryError:
        raise ScenarioError([ScenarioIssue(name, None, "", "is a folder, not a scenario file")]) from None
    except UnicodeDecodeError as err:
        msg = f"not UTF-8 text (byte {err.start})"
        raise ScenarioError([ScenarioIssue(name, None, "", msg)]) from None
    except OSError as err:
        raise ScenarioError([ScenarioIssue(name, None, "", err.strerror or str(err))]) from None
    return parse_scenario(text, name, overrides, point=point)
