"""``groups[].reinit``: a group re-initialised during the run (RFC 9420 §11.2), e.g. moved to a
post-quantum cipher suite while traffic flows (issue 20 item 5; ``sim/reinit.py``).

The key's own bounds are checked here; what it cannot be combined with is checked by
:func:`reinit_problems`, which sees the whole scenario and names the clashing key, so a
combination the simulator does not model is refused rather than run wrongly.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from .schema_base import _Model

__all__ = ["ReinitSpec", "reinit_problems"]


class ReinitSpec(_Model):
    """When a group is re-initialised, into which cipher suite, and by which member."""

    at: float = Field(
        ge=0,
        description=(
            "when the ReInit commit is built (s after the start of the run, before the duration); "
            "the new group's workload follows once the DS has ordered its first commit"
        ),
    )
    suite: int | None = Field(
        default=None,
        description=(
            "cipher suite of the new group (an id of crypto.suite's list, e.g. 0xF001 for a "
            "post-quantum suite, in crypto.family); default: the group's own"
        ),
    )
    by: int | None = Field(
        default=None,
        ge=0,
        description=(
            "which initial member commits the ReInit and creates the new group (0-based; 0 is the "
            "creator); it waits until that member is online and free; default: the first member "
            "of the DS's record that is online and free at `at`"
        ),
    )

    @field_validator("suite")
    @classmethod
    def _known_suite(cls, suite: int | None) -> int | None:
        from ..mls.crypto import suite_ids

        if suite is not None and suite not in suite_ids():
            raise ValueError(f"unknown cipher suite {suite}; known: {', '.join(map(str, suite_ids()))}")
        return suite


def reinit_problems(s: Any) -> list[str]:
    """What ``groups[].reinit`` cannot be combined with, each by the key that clashes
    (``docs/model.md``, "Re-initialisation"), and its bounds against the rest of the scenario
    ``s`` (a ``Scenario``, untyped here: ``schema`` imports this module)."""
    from ..mls.crypto import suite_available

    out: list[str] = []
    fed = s.federation
    for i, g in enumerate(s.groups):
        ri = g.reinit
        if ri is None:
            continue
        where = f"groups[{i}].reinit"
        if ri.at >= s.duration:
            out.append(f"{where}.at: {ri.at:g} is not before the duration ({s.duration:g})")
        if ri.by is not None and ri.by >= g.size:
            out.append(f"{where}.by: {g.name} has {g.size} initial members")
        if ri.suite is not None and not suite_available(ri.suite, s.crypto.family):
            out.append(f"{where}.suite: cipher suite {ri.suite} has no {s.crypto.family!r} implementation")
        clashes = (
            ("federation.ordering", fed.ordering not in ("single", "hub"), "needs an ordering DS"),
            ("federation.fanout", fed.fanout != "plain", "needs plain fan-out"),
            ("light_share", g.light_share is not None, "light members are not re-initialised"),
            ("steady_state", g.steady_state is not None, "its time counts from t = 0, before the history"),
            (
                "workload.join_mode",
                g.workload.join_mode in ("external-commit", "pre"),
                "external joiners could still join the old group (the DS is not told it is closed)",
            ),
            ("faults", s.faults is not None, "the new group's orderer under failover is not modelled"),
            ("ds_misbehaviour", s.ds_misbehaviour is not None, "not modelled for the new group"),
            (
                "adversary.compromises",
                any(cp.group == g.name for cp in s.adversary.compromises),
                "the compromise bookkeeping does not follow a group into its new suite",
            ),
            (
                "hardware.processing_time",
                s.hardware is not None and s.hardware.processing_time,
                "processing time is priced in crypto.suite only",
            ),
            (
                "population.device_add_rate",
                s.population is not None and s.population.device_add_rate > 0,
                "device adds do not follow a group into its new group",
            ),
        )
        out.extend(f"{where}: cannot be combined with {key} ({why})" for key, bad, why in clashes if bad)
    return out
