"""Native ML-KEM costs: the ``hardware.kem_cost: native`` variant of a calibration (issue 19).

This project's ML-KEM encapsulation is pure Python (``mls/crypto/mlkem.py``, so that a seeded
run replays to the byte), and a calibration prices the post-quantum suites' ``kem_encap`` at
its milliseconds. A client on a native implementation pays tens of microseconds. Under
``kem_cost: native`` the four KEM primitives of every post-quantum suite are priced instead as
the published native ML-KEM operation plus, for a hybrid, its traditional half timed on the
calibration's machine (the file's ``group_ops``, ``measure.measure_group_ops``):

* ``kem_encap`` = ML-KEM Encaps + one ephemeral key generation + one DH of the curve;
* ``kem_decap`` = ML-KEM Decaps + one DH;
* ``kem_derive_key_pair`` and ``kem_public_key`` = ML-KEM KeyGen + one key generation.

The hybrid combiner (one SHA3-256, one SHAKE256 expansion of the seed) is left out: a few
microseconds against the operations above. Every other primitive keeps its measured cost.

**Source of the ML-KEM numbers** (found with the search tool; stored copy of the page):
AWS-LC pull request #1817, "Add ML-KEM to speed.cc" (github.com/aws/aws-lc/pull/1817,
2024-08-29), ``bssl speed -filter ML-KEM`` run by its author: ML-KEM-768 keygen 47,327.0,
encaps 51,387.2, decaps 43,441.6 operations per second; ML-KEM-1024 keygen 29,863.5, encaps
33,581.2, decaps 28,394.5 per second. Seconds per operation are 1 / (operations per second).
The PR does not name its machine (an x86-64 developer machine is the likely reading; assumed).
AWS-LC is one of the backends of the ``cryptography`` package this project uses.

Cross-checks, same search: mlkem-native PR #1619 (github-action-benchmark on an Intel Xeon 4th
gen, EC2 c7i; the stored excerpt has no date): ML-KEM-768 keypair 21,321, encaps 22,292, decaps
28,060 cycles, i.e. 7.1, 7.4 and 9.4 µs at an assumed 3.0 GHz; OpenSSL issue #26006
(2024-11-30, a small NUC-like server): ML-KEM-768 keygen 34 µs, encaps 19 µs, decaps 30 µs.
The numbers used here (21.1, 19.5, 23.0 µs) lie between those. ``scale`` multiplies them, so a
report can show how a figure moves when they are halved (0.5) and doubled (2).
"""

from __future__ import annotations

from .model import Calibration, CalibrationError, PrimitiveCost, SuiteCosts

__all__ = ["MLKEM_OPS_PER_SECOND", "SOURCE", "native_pq_calibration", "native_kem_costs"]

SOURCE = "AWS-LC PR #1817 (github.com/aws/aws-lc/pull/1817), bssl speed, 2024-08-29"
#: ML-KEM parameter set -> operation -> operations per second (:data:`SOURCE`)
MLKEM_OPS_PER_SECOND: dict[str, dict[str, float]] = {
    "ML-KEM-768": {"keygen": 47_327.0, "encaps": 51_387.2, "decaps": 43_441.6},
    "ML-KEM-1024": {"keygen": 29_863.5, "encaps": 33_581.2, "decaps": 28_394.5},
}
#: KEM id (draft-ietf-hpke-pq) -> (ML-KEM parameter set, the hybrid's curve or None)
_KEMS: dict[int, tuple[str, str | None]] = {
    0x0041: ("ML-KEM-768", None),
    0x0042: ("ML-KEM-1024", None),
    0x0050: ("ML-KEM-768", "p256"),
    0x0051: ("ML-KEM-1024", "p384"),
    0x647A: ("ML-KEM-768", "x25519"),
}


def native_kem_costs(
    kem_id: int, group_ops: dict[str, PrimitiveCost], scale: float = 1.0
) -> dict[str, PrimitiveCost]:
    """The four KEM primitives of ``kem_id`` at native cost (module docstring)."""
    param, curve = _KEMS[kem_id]
    ops = {op: scale / n for op, n in MLKEM_OPS_PER_SECOND[param].items()}
    keygen = group_ops[f"{curve}_keygen"].per_call if curve else 0.0
    dh = group_ops[f"{curve}_dh"].per_call if curve else 0.0
    return {
        "kem_encap": PrimitiveCost(per_call=ops["encaps"] + keygen + dh),
        "kem_decap": PrimitiveCost(per_call=ops["decaps"] + dh),
        "kem_derive_key_pair": PrimitiveCost(per_call=ops["keygen"] + keygen),
        "kem_public_key": PrimitiveCost(per_call=ops["keygen"] + keygen),
    }


def native_pq_calibration(calibration: Calibration, scale: float = 1.0) -> Calibration:
    """``calibration`` with every post-quantum suite's KEM priced natively (its RFC 9420 suites
    unchanged); CalibrationError when the file has no ``group_ops``."""
    from ..mls.crypto.pq_suites import PQ_SUITE_INFOS

    if calibration.group_ops is None:
        raise CalibrationError(
            "calibration",
            [("group_ops", "no elliptic-curve timings for kem_cost: native (rerun `mlssim calibrate`)")],
        )
    suites = dict(calibration.suites)
    for suite_id, costs in calibration.suites.items():
        info = PQ_SUITE_INFOS.get(suite_id)
        if info is None:
            continue
        native = native_kem_costs(info.kem_id, calibration.group_ops, scale)
        suites[suite_id] = SuiteCosts(name=costs.name, costs={**costs.costs, **native})
    return calibration.model_copy(update={"suites": suites})
