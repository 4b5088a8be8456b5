"""Counting: :class:`TamperLedger` tallies tampered messages per rule (detected, rejected by
another check, accepted, state changed) and AS-issued insiders; :class:`RuleRow` is one row.

Apart from delivery so that a run can gather the detections of many receivers and many
messages in one place, and report them in the rule order of :data:`~.rules.RULES`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .delivery import Detection
from .model import Tampered
from .rules import RULES

__all__ = ["RuleRow", "TamperLedger", "INSIDER"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleRow:
    """Tampered messages per rule; a message counts as detected when every receiver rejected it
    and kept its state."""

    rule: str
    rfc_section: str
    error: str
    messages: int
    detected: int
    #: rejected, but by another check than the rule's
    other_error: int
    #: accepted by at least one receiver
    accepted: int
    #: rejected with a state change at some receiver
    state_changed: int
    deliveries: int


INSIDER = "insider"


class TamperLedger:
    """Counts tampered messages per rule, and AS-issued insiders (admitted: undetectable by MLS)."""

    __slots__ = ("_rows", "_by_tamper", "failures", "insiders")

    def __init__(self) -> None:
        self._rows: dict[str, Counter[str]] = {}
        self._by_tamper: Counter[str] = Counter()
        #: every delivery that was not rejected by exactly the expected check with state unchanged
        self.failures: list[Detection] = []
        self.insiders = 0

    def record(self, t: Tampered, detections: Sequence[Detection]) -> None:
        """One tampered message and what each of its receivers did with it."""
        if not detections:
            raise ValueError(f"{t.tamper.name}: a tampered message with no receiver proves nothing")
        row = self._rows.setdefault(t.rule.name, Counter())
        self._by_tamper[t.tamper.name] += 1
        row["messages"] += 1
        row["deliveries"] += len(detections)
        self.failures += [d for d in detections if not d.as_expected]
        if any(d.raised is None for d in detections):
            row["accepted"] += 1
        elif not all(d.state_unchanged for d in detections):
            row["state_changed"] += 1
        elif all(d.as_expected for d in detections):
            row["detected"] += 1
        else:
            row["other_error"] += 1

    def record_insider(self) -> None:
        """An AS-vouched device of the adversary was added: MLS accepted it, as it must."""
        self.insiders += 1

    def by_tamper(self) -> dict[str, int]:
        return dict(self._by_tamper)

    def rows(self) -> list[RuleRow]:
        out = []
        for name, rule in RULES.items():
            c = self._rows.get(name)
            if c is None:
                continue
            out.append(
                RuleRow(
                    rule=name,
                    rfc_section=rule.rfc_section,
                    error=rule.error.__name__,
                    messages=c["messages"],
                    detected=c["detected"],
                    other_error=c["other_error"],
                    accepted=c["accepted"],
                    state_changed=c["state_changed"],
                    deliveries=c["deliveries"],
                )
            )
        if self.insiders:
            out.append(
                RuleRow(
                    rule=INSIDER,
                    rfc_section="16.10",
                    error="none: undetectable by MLS",
                    messages=self.insiders,
                    detected=0,
                    other_error=0,
                    accepted=self.insiders,
                    state_changed=0,
                    deliveries=0,
                )
            )
        return out

    def summary(self) -> dict[str, int]:
        """Rule -> tampered messages detected; ``insider`` -> 0 (never detectable by MLS)."""
        return {row.rule: row.detected for row in self.rows()}

    def undetectable(self) -> dict[str, int]:
        """Attacks MLS cannot detect: AS-issued insiders admitted."""
        return {INSIDER: self.insiders} if self.insiders else {}
