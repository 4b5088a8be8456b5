"""A calibration: what each counted primitive costs on one machine, and the processing time of
a tally of counted work (issue 19).

Processing time is ``Σ calls × per_call + bytes × per_byte`` over the primitives of a
:class:`~mlssim.mls.crypto.counting.WorkCounts` tally, times the ``cpu_factor`` of the hardware
that did the work (:func:`cost_of`). A delivery service's work (issue 19 item 4) is priced the
same way with the primitives of :data:`DS_PRIMITIVES` from the file's optional ``ds`` section
(:func:`ds_cost_of`); the ``group_ops`` section holds this machine's elliptic-curve operations,
the traditional halves of the hybrid KEMs (``native_pq.py``). The costs are measured on one
machine (``measure.py``) and kept in a JSON file with that machine's description and the date,
so a result can say whose seconds it counts; ``default.json`` beside this module is the shipped one.

A file is checked on load against this model (pydantic, unknown keys refused) and a bad one
raises :class:`CalibrationError` naming the file and the field, because a calibration that
silently lacks a primitive would make that primitive free.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..mls.crypto.counting import BYTE_COUNTED, PRIMITIVES

__all__ = [
    "FORMAT",
    "DEFAULT_PATH",
    "CalibrationError",
    "Machine",
    "PrimitiveCost",
    "SuiteCosts",
    "Calibration",
    "load_calibration",
    "parse_calibration",
    "save_calibration",
    "default_calibration",
    "cost_of",
    "ds_cost_of",
    "DSCosts",
    "DS_PRIMITIVES",
    "DS_BYTE_COUNTED",
    "GROUP_OPS",
]

#: version of the file layout; a file of another version is refused, never guessed at
FORMAT = 1
#: the calibration shipped with mlssim (package data), measured by ``mlssim calibrate``
DEFAULT_PATH = Path(__file__).with_name("default.json")


class CalibrationError(Exception):
    """A calibration file that cannot be used: ``file: field: message`` per problem."""

    def __init__(self, filename: str, problems: list[tuple[str, str]]) -> None:
        self.filename = filename
        self.problems = problems
        super().__init__("\n".join(f"{filename}: {f + ': ' if f else ''}{m}" for f, m in problems))


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Machine(_Frozen):
    """Where the costs were measured: enough to tell two machines apart in a report."""

    platform: str = Field(description="platform.platform()")
    architecture: str = Field(description="platform.machine()")
    cpu_model: str = Field(description="model name from /proc/cpuinfo, or platform.processor()")
    cpu_count: int = Field(ge=1, description="logical CPUs (os.cpu_count())")
    python: str = Field(description="implementation and version")
    cryptography: str = Field(description="cryptography package and its OpenSSL")


class PrimitiveCost(_Frozen):
    """Seconds per call, and seconds per byte for a byte-counted primitive."""

    per_call: float = Field(ge=0, allow_inf_nan=False)
    per_byte: float = Field(default=0.0, ge=0, allow_inf_nan=False)


class SuiteCosts(_Frozen):
    """The costs of every primitive of one real cipher suite."""

    name: str
    costs: dict[str, PrimitiveCost]

    @field_validator("costs")
    @classmethod
    def _every_primitive(cls, costs: dict[str, PrimitiveCost]) -> dict[str, PrimitiveCost]:
        missing = [p for p in PRIMITIVES if p not in costs]
        unknown = sorted(set(costs) - set(PRIMITIVES))
        if missing:
            raise ValueError(f"no cost for {', '.join(missing)} (every primitive needs one)")
        if unknown:
            raise ValueError(f"unknown primitive {', '.join(unknown)} (known: {', '.join(PRIMITIVES)})")
        flat = [p for p in costs if p not in BYTE_COUNTED and costs[p].per_byte != 0]
        if flat:
            raise ValueError(f"per_byte for a primitive counted by calls only: {', '.join(flat)}")
        return costs


#: what a DS's job counts besides the suite's primitives (``sim/ds_processing.py``):
#:
#: * ``copy`` (bytes): one transmission written out (a recipient's copy, a DS–DS copy, a
#:   control message) — a memory copy of its bytes;
#: * ``encode`` (bytes): one message the DS builds and serializes (an IndividualCommit, an
#:   AnnotatedCommit, a SenderAuthenticatedMessage), timed as ``codec.encode``;
#: * ``pre_reencrypt`` (calls): one PRE re-encryption (a kfrag applied to a capsule).
DS_PRIMITIVES = ("copy", "encode", "pre_reencrypt")
DS_BYTE_COUNTED = ("copy", "encode")
#: elliptic-curve operations timed on this machine: the traditional half of each hybrid KEM
GROUP_OPS = ("x25519_keygen", "x25519_dh", "p256_keygen", "p256_dh", "p384_keygen", "p384_dh")


class DSCosts(_Frozen):
    """The DS's own primitives (:data:`DS_PRIMITIVES`), measured on the file's machine at
    ``date`` (added later than the suites' costs, without re-measuring them)."""

    date: str = Field(min_length=1, description="when these were measured (ISO 8601, UTC)")
    copy_: PrimitiveCost = Field(alias="copy", description="one transmission written: per call, per byte")
    encode: PrimitiveCost = Field(description="one message serialized (codec.encode): per call, per byte")
    pre_reencrypt: PrimitiveCost = Field(description="one PRE re-encryption, of scheme pre_scheme")
    pre_scheme: str = Field(min_length=1, description="the PRE scheme timed (Umbral when installed)")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("pre_reencrypt")
    @classmethod
    def _flat(cls, v: PrimitiveCost) -> PrimitiveCost:
        if v.per_byte != 0:
            raise ValueError("per_byte for a primitive counted by calls only")
        return v

    def costs(self) -> dict[str, PrimitiveCost]:
        return {"copy": self.copy_, "encode": self.encode, "pre_reencrypt": self.pre_reencrypt}


class Calibration(_Frozen):
    """Costs per primitive per real suite, measured on ``machine`` at ``date``."""

    format: int = Field(default=FORMAT, description="file layout version")
    machine: Machine
    date: str = Field(min_length=1, description="when it was measured (ISO 8601, UTC)")
    repeat: int = Field(ge=1, description="timed samples per primitive and size (median kept)")
    suites: dict[int, SuiteCosts] = Field(min_length=1)
    ds: DSCosts | None = Field(default=None, description="the DS's primitives (needed by hardware.ds)")
    group_ops: dict[str, PrimitiveCost] | None = Field(
        default=None, description="elliptic-curve operations (needed by hardware.kem_cost: native)"
    )

    @field_validator("group_ops")
    @classmethod
    def _every_group_op(cls, v: dict[str, PrimitiveCost] | None) -> dict[str, PrimitiveCost] | None:
        if v is not None:
            missing = [p for p in GROUP_OPS if p not in v]
            unknown = sorted(set(v) - set(GROUP_OPS))
            if missing or unknown:
                raise ValueError(f"needs exactly {', '.join(GROUP_OPS)}")
        return v

    @field_validator("format")
    @classmethod
    def _known_format(cls, v: int) -> int:
        if v != FORMAT:
            raise ValueError(f"format {v} is not the one this mlssim reads ({FORMAT})")
        return v

    @model_validator(mode="after")
    def _positive_ids(self) -> Calibration:
        bad = [s for s in self.suites if s <= 0]
        if bad:
            raise ValueError(f"suite ids must be positive: {bad}")
        return self

    def suite(self, suite_id: int) -> SuiteCosts:
        """The costs of ``suite_id``; CalibrationError when the file has none."""
        try:
            return self.suites[suite_id]
        except KeyError:
            have = ", ".join(_suite_label(s) for s in sorted(self.suites))
            raise CalibrationError(
                "calibration",
                [("suites", f"no costs for cipher suite {_suite_label(suite_id)} (has {have})")],
            ) from None


def _suite_label(suite_id: int) -> str:
    return str(suite_id) if suite_id < 0xF000 else f"0x{suite_id:04X}"


def _field(loc: tuple[int | str, ...]) -> str:
    out = ""
    for seg in loc:
        out += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if out else str(seg))
    return out


def parse_calibration(data: Any, filename: str) -> Calibration:
    """Validate decoded JSON ``data`` as a calibration; ``filename`` names it in errors."""
    try:
        return Calibration.model_validate(data)
    except ValidationError as err:
        problems = []
        for e in err.errors(include_url=False):
            msg = e["msg"].removeprefix("Value error, ")
            problems.append((_field(tuple(e["loc"])), msg))
        raise CalibrationError(filename, problems) from None


def load_calibration(path: str | os.PathLike[str]) -> Calibration:
    """Read and check the calibration file at ``path`` (CalibrationError on any problem)."""
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CalibrationError(name, [("", "no such file")]) from None
    except IsADirectoryError:
        raise CalibrationError(name, [("", "a folder, not a calibration file")]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise CalibrationError(name, [("", f"unreadable: {err}")]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise CalibrationError(name, [("", f"not JSON: {err.msg} at line {err.lineno}")]) from None
    return parse_calibration(data, name)


def save_calibration(calibration: Calibration, path: str | os.PathLike[str]) -> None:
    """Write ``calibration`` as indented JSON with sorted suites (stable diffs)."""
    data = calibration.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["suites"] = {str(k): data["suites"][str(k)] for k in sorted(calibration.suites)}
    Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


@cache
def default_calibration() -> Calibration:
    """The shipped calibration (``default.json``), read once per process."""
    return load_calibration(DEFAULT_PATH)


def cost_of(
    counts: Mapping[str, int], calibration: Calibration, suite_id: int, cpu_factor: float = 1.0
) -> float:
    """Seconds of processing for ``counts`` on hardware ``cpu_factor`` times slower than the
    calibration's machine: ``cpu_factor × Σ (calls × per_call + bytes × per_byte)``.

    A model suite's tally is priced by the real suite of the same id (they count the same
    work). The sum is exactly rounded (``math.fsum``), so it does not depend on the order the
    tally was filled in. A name that is no primitive raises ValueError: it would cost nothing.
    """
    return _price(counts, _table(calibration, suite_id, ds=False), cpu_factor)


def ds_cost_of(
    counts: Mapping[str, int], calibration: Calibration, suite_id: int, cpu_factor: float = 1.0
) -> float:
    """:func:`cost_of` for a DS's job: its tally may also hold :data:`DS_PRIMITIVES` (priced by
    the file's ``ds`` section; CalibrationError when it has none)."""
    return _price(counts, _table(calibration, suite_id, ds=True), cpu_factor)


@dataclass(frozen=True)
class _CostTable:
    """What :func:`_price` reads for one calibration and suite: the costs, the byte-counted
    names, and ``name -> seconds per call`` / ``name_bytes -> seconds per byte`` in one dict."""

    costs: Mapping[str, PrimitiveCost]
    by_bytes: tuple[str, ...]
    units: dict[str, float]


#: the tables of :func:`_table`, by the calibration's identity (kept alive beside its table, so
#: the identity stays unique), the suite and client or DS: every delivery is priced
_tables: dict[tuple[int, int, bool], tuple[Calibration, _CostTable]] = {}


def _table(calibration: Calibration, suite_id: int, *, ds: bool) -> _CostTable:
    key = (id(calibration), suite_id, ds)
    kept = _tables.get(key)
    if kept is not None and kept[0] is calibration:
        return kept[1]
    costs: Mapping[str, PrimitiveCost] = calibration.suite(suite_id).costs
    by_bytes: tuple[str, ...] = BYTE_COUNTED
    if ds:
        if calibration.ds is None:
            raise CalibrationError(
                "calibration", [("ds", "no costs for the DS's primitives (rerun `mlssim calibrate`)")]
            )
        costs = {**costs, **calibration.ds.costs()}
        by_bytes = BYTE_COUNTED + DS_BYTE_COUNTED
    units = {name: c.per_call for name, c in costs.items()}
    units.update({f"{name}_bytes": costs[name].per_byte for name in by_bytes if name in costs})
    if len(_tables) >= 64:
        _tables.clear()
    table = _CostTable(costs, by_bytes, units)
    _tables[key] = (calibration, table)
    return table


def _price(counts: Mapping[str, int], table: _CostTable, cpu_factor: float) -> float:
    if not (cpu_factor > 0 and math.isfinite(cpu_factor)):
        raise ValueError(f"cpu_factor must be a positive number, got {cpu_factor}")
    units = table.units
    try:  # one product per name, as below, looked up in one table (every delivery is priced)
        return cpu_factor * math.fsum([n * units[name] for name, n in counts.items()])
    except KeyError:
        pass  # an unknown name: the loop below names it
    costs, by_bytes = table.costs, table.by_bytes
    terms: list[float] = []
    for name, n in counts.items():
        if name.endswith("_bytes") and name[: -len("_bytes")] in by_bytes:
            terms.append(n * costs[name[: -len("_bytes")]].per_byte)
        elif name in costs:
            terms.append(n * costs[name].per_call)
        else:
            raise ValueError(f"unknown primitive {name!r} in the tally (known: {', '.join(costs)})")
    return cpu_factor * math.fsum(terms)
