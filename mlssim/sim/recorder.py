"""The run's record: every transmission once, and the events metrics are computed from.

Bandwidth figures are sums over the transmission record and nothing else (DESIGN.md).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Transmission", "Recorder", "TRANSMISSION_FIELDS"]

TRANSMISSION_FIELDS = (
    "id",
    "send_time",
    "recv_time",
    "sender",
    "receiver",
    "link",
    "role",
    "msg_type",
    "group",
    "bytes",
    "lost",
)


@dataclass(slots=True)
class Transmission:
    """One transmission over one link. ``recv_time`` is None while in flight or when lost."""

    id: int
    send_time: float
    sender: str
    receiver: str
    link: str
    role: str
    msg_type: str
    group: str
    bytes: int
    recv_time: float | None = None
    lost: bool = False

    def row(self) -> list[Any]:
        return [
            self.id,
            f"{self.send_time:.6f}",
            "" if self.recv_time is None else f"{self.recv_time:.6f}",
            self.sender,
            self.receiver,
            self.link,
            self.role,
            self.msg_type,
            self.group,
            self.bytes,
            int(self.lost),
        ]


@dataclass
class Recorder:
    transmissions: list[Transmission] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def transmit(
        self,
        now: float,
        sender: str,
        receiver: str,
        link: str,
        role: str,
        msg_type: str,
        group: str,
        size: int,
    ) -> Transmission:
        t = Transmission(len(self.transmissions), now, sender, receiver, link, role, msg_type, group, size)
        self.transmissions.append(t)
        return t

    #: per (kind, group), events too numerous to keep one by one (one per member per message)
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def event(self, now: float, kind: str, **fields: Any) -> None:
        self.events.append({"t": round(now, 6), "kind": kind, **fields})

    def count(self, kind: str, group: str) -> None:
        self.counts[(kind, group)] += 1

    def total(self, kind: str) -> int:
        return sum(n for (k, _), n in self.counts.items() if k == kind)

    def of_kind(self, kind: str) -> Iterable[dict[str, Any]]:
        return (e for e in self.events if e["kind"] == kind)

    def write_transmissions(self, path: Path) -> None:
        with path.open("w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(TRANSMISSION_FIELDS)
            for t in self.transmissions:
                w.writerow(t.row())

    def write_events(self, path: Path) -> None:
        with path.open("w") as f:
            for e in self.events:
                f.write(json.dumps(e, sort_keys=True) + "\n")
