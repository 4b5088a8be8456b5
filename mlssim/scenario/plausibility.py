"""Values that validate but are almost surely wrong, reported as warnings by ``mlssim validate``.

The schema accepts any latency ≥ 0 and any duration > 0, so ``ds_ds.latency.value: 150`` (meant
as milliseconds, read as seconds) with ``duration: 60`` is a valid scenario whose group is never
created. These checks name such values at their line, as the loader names errors, but as
``file:line: key: warning: message``: a warning never stops a run (``validate --strict`` makes
it an error). The rules, documented in ``docs/metrics.md`` ("Plausibility warnings"):

* **latency above 10 s**: a link class (``network.client_ds``, ``ds_ds``, ``ds_as``) whose
  latency's typical value (:func:`typical_latency`) exceeds :data:`MAX_LATENCY_S`;
* **duration shorter than the setup**: ``duration`` at most :func:`setup_time`, the typical time
  to create a group (two round trips: the KeyPackages, then the creation commit and its
  verdict); per groups entry, a workload whose ``start`` pushes it past its window's end;
* **orderer ignored**: ``federation.orderer`` under ``ordering: hub`` (the default), where each
  group's owner orders it and ``orderer`` has no effect — unless the file's sweep also runs a
  design that uses it (``single``, or the leaderless designs' directory);
* **hardware keys without processing time**: ``hardware.ds`` or ``hardware.kem_cost: native``
  while ``hardware.processing_time`` is off (nothing is priced) — unless the file's sweep also
  runs it on.

A ``sweep:`` grid's values are checked one at a time on the base file, as the loader checks
them for errors, and a warning the base does not have (or one about the grid key itself) is
named at the value's line.
"""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path

from .issues import KeyPath, ScenarioError, ScenarioIssue, format_path, parse_path
from .loader import load_scenario
from .samples import load_samples
from .schema import Constant, Distribution, Empirical, Exponential, LogNormal, Normal, Scenario, Uniform
from .validation_issues import _Context, _line_of
from .yaml_lines import _compose

__all__ = [
    "MAX_LATENCY_S",
    "LINK_CLASSES",
    "scenario_warnings",
    "setup_time",
    "typical_latency",
    "warnings_of",
]

#: a one-way latency whose typical value exceeds this is taken for a unit mistake (s)
MAX_LATENCY_S = 10.0
LINK_CLASSES = ("client_ds", "ds_ds", "ds_as")

#: a warning before it has a file and a line: the key path it is about, and its message
Finding = tuple[KeyPath, str]


def typical_latency(dist: Distribution, base: Path) -> tuple[KeyPath, float] | None:
    """The typical value of a latency distribution and the key (inside it) that sets it.

    Constant: ``value``; uniform: the midpoint of ``low`` and ``high`` (named at the mapping
    itself); normal and exponential: ``mean``; log-normal: ``median``; empirical: the mean of
    the file's samples (None when the file cannot be read: the loader reports that)."""
    if isinstance(dist, Constant):
        return ("value",), dist.value
    if isinstance(dist, Uniform):
        return (), (dist.low + dist.high) / 2
    if isinstance(dist, Normal | Exponential):
        return ("mean",), dist.mean
    if isinstance(dist, LogNormal):
        return ("median",), dist.median
    assert isinstance(dist, Empirical)
    try:
        return ("file",), statistics.fmean(load_samples(str((base / dist.file).resolve())))
    except (OSError, ValueError):
        return None


def _typical(scenario: Scenario, link: str, base: Path) -> float:
    found = typical_latency(getattr(scenario.network, link).latency, base)
    return 0.0 if found is None else found[1]


def setup_time(scenario: Scenario, base: Path) -> float:
    """Typical time from the start of a run until a group exists (s).

    Two round trips over typical one-way latencies: the creator fetches each member's KeyPackage
    (client → DS → DS → AS and back: 2·client_ds + 2·ds_ds + 2·ds_as), then sends the creation
    commit to the ordering DS and gets its verdict (2·client_ds + 2·ds_ds). DS–DS hops count
    only when the scenario has more than one provider. Transmission time, loss and queueing are
    left out, so the estimate is a lower bound."""
    client_ds = _typical(scenario, "client_ds", base)
    ds_ds = _typical(scenario, "ds_ds", base) if len(scenario.providers) > 1 else 0.0
    ds_as = _typical(scenario, "ds_as", base)
    return 4 * client_ds + 4 * ds_ds + 2 * ds_as


def _has_rates(scenario: Scenario, i: int) -> bool:
    wl = scenario.groups[i].workload
    return any(
        r > 0 for r in (wl.app_rate, wl.update_rate, wl.update_group_rate, wl.add_rate, wl.remove_rate)
    )


def warnings_of(
    scenario: Scenario, base: Path, *, orderer_swept: bool = False, processing_swept: bool = False
) -> list[Finding]:
    """Every plausibility warning of ``scenario`` (sample files relative to ``base``).
    ``orderer_swept``: the file's sweep also runs designs that use ``federation.orderer``;
    ``processing_swept``: it also runs ``hardware.processing_time: on``."""
    found: list[Finding] = []
    for link in LINK_CLASSES:
        typical = typical_latency(getattr(scenario.network, link).latency, base)
        if typical is not None and typical[1] > MAX_LATENCY_S:
            where, value = typical
            what = "typical value" if where else "mean (low + high) / 2"
            found.append(
                (
                    ("network", link, "latency", *where),
                    f"a one-way latency with a {what} of {value:g} s (above {MAX_LATENCY_S:g} s); "
                    f"latencies are in seconds ({value:g} ms is {value / 1000:g})",
                )
            )
    setup = setup_time(scenario, base)
    if scenario.duration <= setup:
        found.append(
            (
                ("duration",),
                f"{scenario.duration:g} s is not longer than a group's setup (about {setup:.3g} s: "
                "two round trips of the typical latencies, for the KeyPackages and the creation "
                "commit); its workload cannot run",
            )
        )
    for i, g in enumerate(scenario.groups):
        wl = g.workload
        end = wl.stop if wl.stop is not None else scenario.duration
        if wl.start > 0 and _has_rates(scenario, i) and setup < end <= setup + wl.start:
            found.append(
                (
                    ("groups", i, "workload", "start"),
                    f"the workload begins {wl.start:g} s after the group exists (about {setup:.3g} s "
                    f"of setup), at or after its end at {end:g} s: it cannot fire",
                )
            )
    fed = scenario.federation
    if fed.orderer is not None and fed.ordering == "hub" and not orderer_swept:
        found.append(
            (
                ("federation", "orderer"),
                "ignored under ordering: hub (each group's owner orders it: groups[].owner); "
                "it names the orderer under single, or the directory DS under client-fanout and "
                "decentralised",
            )
        )
    hw = scenario.hardware
    if hw is not None and not hw.processing_time and not processing_swept:
        for key, is_set in (("ds", hw.ds is not None), ("kem_cost", hw.kem_cost != "measured")):
            if is_set:
                found.append(
                    (
                        ("hardware", key),
                        "has no effect with hardware.processing_time off (nothing is priced: work takes "
                        "no simulated time)",
                    )
                )
    return found


def _value_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def scenario_warnings(path: str | os.PathLike[str], scenario: Scenario | None = None) -> list[ScenarioIssue]:
    """The plausibility warnings of the scenario file at ``path``, in line order.

    ``scenario`` is the file as the loader returned it (loaded here when None; raises the
    loader's :class:`ScenarioError` for an invalid file). Each issue's message starts with
    ``warning:``, so it prints as ``file:line: key: warning: message``."""
    name = os.fspath(path)
    if scenario is None:
        scenario = load_scenario(name)
    doc = _compose(Path(name).read_text(encoding="utf-8"), name)
    assert isinstance(doc.data, dict)
    ctx = _Context(name, doc.lines, doc.data, {})
    base = Path(name).parent
    grid = scenario.sweep.grid if scenario.sweep is not None else {}
    # a sweep over the ordering that also runs single (or a leaderless design) uses the orderer
    swept = any(v != "hub" for v in grid.get("federation.ordering", []))
    # a sweep that also runs processing time on uses hardware.ds and kem_cost at those points
    timed = any(v is True for v in grid.get("hardware.processing_time", []))
    own = warnings_of(scenario, base, orderer_swept=swept, processing_swept=timed)
    issues = [ScenarioIssue(name, _line_of(ctx, p), format_path(p), f"warning: {m}") for p, m in own]
    warned = {p for p, _ in own}
    for key, values in grid.items():
        varied = parse_path(key)
        for i, value in enumerate(values):
            try:
                trial = load_scenario(name, {"sweep": None}, point=[(key, value)])
            except ScenarioError:
                continue  # the loader names a bad value; a warning adds nothing
            where: KeyPath = ("sweep", "grid", key, i)
            for p, m in warnings_of(trial, base, orderer_swept=swept, processing_swept=timed):
                if p in warned and p[: len(varied)] != varied[: len(p)]:
                    continue  # the base's own warning, unchanged in kind by this value
                msg = f"warning: at sweep point {key}={_value_text(value)}: {format_path(p)}: {m}"
                issues.append(ScenarioIssue(name, _line_of(ctx, where), format_path(where), msg))
    issues.sort(key=lambda i: i.line or 0)
    return issues
