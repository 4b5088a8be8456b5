"""Calibration (issue 19): the seconds each counted primitive costs on a machine, measured for
every real cipher suite, and the processing time of a tally of counted work.

``measure`` times the primitives here (``mlssim calibrate``); a :class:`Calibration` holds the
result with the machine and the date, and loads and saves as JSON; :func:`cost_of` turns a
``WorkCounts`` tally into seconds for hardware ``cpu_factor`` times slower. Below the scenario
layer (a scenario names its calibration file) and above the core (it times the core's suites).
The simulator uses it under ``hardware.processing_time: on`` (``sim/processing.py``), and for
a DS's work under ``hardware.ds`` (:func:`ds_cost_of`, ``sim/ds_processing.py``);
``native_pq`` prices the post-quantum KEMs at published native numbers (``hardware.kem_cost``).
"""

from __future__ import annotations

from .measure import (
    SIZES,
    machine_description,
    measure,
    measure_ds,
    measure_group_ops,
    real_suite_ids,
    with_ds_costs,
)
from .model import (
    DEFAULT_PATH,
    DS_BYTE_COUNTED,
    DS_PRIMITIVES,
    FORMAT,
    GROUP_OPS,
    Calibration,
    CalibrationError,
    DSCosts,
    Machine,
    PrimitiveCost,
    SuiteCosts,
    cost_of,
    default_calibration,
    ds_cost_of,
    load_calibration,
    parse_calibration,
    save_calibration,
)
from .native_pq import native_pq_calibration

__all__ = [
    "DEFAULT_PATH",
    "DS_BYTE_COUNTED",
    "DS_PRIMITIVES",
    "FORMAT",
    "GROUP_OPS",
    "DSCosts",
    "ds_cost_of",
    "measure_ds",
    "measure_group_ops",
    "native_pq_calibration",
    "with_ds_costs",
    "SIZES",
    "Calibration",
    "CalibrationError",
    "Machine",
    "PrimitiveCost",
    "SuiteCosts",
    "cost_of",
    "default_calibration",
    "load_calibration",
    "machine_description",
    "measure",
    "parse_calibration",
    "real_suite_ids",
    "save_calibration",
]
