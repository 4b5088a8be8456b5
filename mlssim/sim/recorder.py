"""The run's record: every transmission once, and the events metrics are computed from.

Bandwidth figures are sums over the transmission record and nothing else (DESIGN.md).

Transmissions are stored in columns (one list per field, row ``i`` is transmission ``i``), not
as one object each: a run makes millions of them, and a DS fan-out records a whole batch with a
few ``list.extend`` calls. ``Recorder.transmissions`` is a read-only sequence of
:class:`Transmission` snapshots built from the columns on access, for code that wants rows;
summaries over the whole record should read the columns.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

__all__ = ["Transmission", "TransmissionLog", "Recorder", "TRANSMISSION_FIELDS"]

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
    """One transmission over one link. ``recv_time`` is None while in flight or when lost.

    A snapshot of one row of the record (``Recorder.transmissions[i]``): changing it does not
    change the record."""

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
        return _csv_row(
            self.id,
            self.send_time,
            self.recv_time,
            self.sender,
            self.receiver,
            self.link,
            self.role,
            self.msg_type,
            self.group,
            self.bytes,
            self.lost,
        )


def _csv_row(
    i: int,
    sent: float,
    recv: float | None,
    src: str,
    dst: str,
    link: str,
    role: str,
    msg_type: str,
    group: str,
    size: int,
    lost: bool,
) -> list[Any]:
    """One ``transmissions.csv`` row (times to the microsecond, an empty receive time if lost)."""
    return [
        i,
        f"{sent:.6f}",
        "" if recv is None else f"{recv:.6f}",
        src,
        dst,
        link,
        role,
        msg_type,
        group,
        size,
        int(lost),
    ]


class TransmissionLog(Sequence[Transmission]):
    """The transmission record as a sequence of :class:`Transmission` rows (read-only view of
    the recorder's columns; each access builds a fresh snapshot)."""

    __slots__ = ("_rec",)

    def __init__(self, rec: Recorder) -> None:
        self._rec = rec

    def __len__(self) -> int:
        return len(self._rec.send_time)

    def _row(self, i: int) -> Transmission:
        r = self._rec
        return Transmission(
            i,
            r.send_time[i],
            r.sender[i],
            r.receiver[i],
            r.link[i],
            r.role[i],
            r.msg_type[i],
            r.group[i],
            r.nbytes[i],
            r.recv_time[i],
            r.lost[i],
        )

    @overload
    def __getitem__(self, i: int) -> Transmission: ...

    @overload
    def __getitem__(self, i: slice) -> list[Transmission]: ...

    def __getitem__(self, i: int | slice) -> Transmission | list[Transmission]:
        n = len(self)
        if isinstance(i, slice):
            return [self._row(k) for k in range(*i.indices(n))]
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("transmission index out of range")
        return self._row(i)

    def __iter__(self) -> Iterator[Transmission]:
        r = self._rec
        cols = zip(
            r.send_time,
            r.sender,
            r.receiver,
            r.link,
            r.role,
            r.msg_type,
            r.group,
            r.nbytes,
            r.recv_time,
            r.lost,
            strict=True,
        )
        for i, row in enumerate(cols):
            yield Transmission(i, *row)


class Recorder:
    """Transmissions in columns, events as dicts, and per-(kind, group) counters.

    Columns (index = transmission id, in the order transmissions were recorded): ``send_time``,
    ``recv_time`` (None while in flight or when lost; the network sets it on arrival),
    ``sender``, ``receiver``, ``link``, ``role``, ``msg_type``, ``group``, ``nbytes`` and
    ``lost``."""

    __slots__ = (
        "_by_kind",
        "_by_kind_len",
        "counts",
        "events",
        "group",
        "link",
        "lost",
        "msg_type",
        "nbytes",
        "receiver",
        "recv_time",
        "role",
        "send_time",
        "sender",
    )

    def __init__(self) -> None:
        self.send_time: list[float] = []
        self.recv_time: list[float | None] = []
        self.sender: list[str] = []
        self.receiver: list[str] = []
        self.link: list[str] = []
        self.role: list[str] = []
        self.msg_type: list[str] = []
        self.group: list[str] = []
        self.nbytes: list[int] = []
        self.lost: list[bool] = []
        self.events: list[dict[str, Any]] = []
        #: ``events`` by kind, built by :meth:`of_kind` for the length ``events`` had then
        self._by_kind: dict[str, list[dict[str, Any]]] = {}
        self._by_kind_len = 0
        #: per (kind, group), events too numerous to keep one by one (one per member per message)
        self.counts: Counter[tuple[str, str]] = Counter()

    @property
    def transmissions(self) -> TransmissionLog:
        """Every transmission as a :class:`Transmission` row (a view of the columns)."""
        return TransmissionLog(self)

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
        *,
        lost: bool = False,
    ) -> int:
        """Record one transmission sent at ``now``; returns its id."""
        tid = len(self.send_time)
        self.send_time.append(now)
        self.recv_time.append(None)
        self.sender.append(sender)
        self.receiver.append(receiver)
        self.link.append(link)
        self.role.append(role)
        self.msg_type.append(msg_type)
        self.group.append(group)
        self.nbytes.append(size)
        self.lost.append(lost)
        return tid

    def transmit_many(
        self,
        now: float,
        sender: str,
        receivers: list[str],
        link: str,
        role: str,
        msg_type: str,
        group: str,
        sizes: Sequence[int],
    ) -> int:
        """Record one transmission from ``sender`` to each of ``receivers`` (``sizes[i]`` bytes
        to ``receivers[i]``), all sent at ``now``; returns the id of the first (ids follow
        in order)."""
        tid = len(self.send_time)
        n = len(receivers)
        self.send_time.extend([now] * n)
        self.recv_time.extend([None] * n)
        self.sender.extend([sender] * n)
        self.receiver.extend(receivers)
        self.link.extend([link] * n)
        self.role.extend([role] * n)
        self.msg_type.extend([msg_type] * n)
        self.group.extend([group] * n)
        self.nbytes.extend(sizes)
        self.lost.extend([False] * n)
        return tid

    def _columns(self) -> tuple[list[Any], ...]:
        """The transmission columns, in ``TRANSMISSION_FIELDS`` order after the id."""
        return (
            self.send_time,
            self.recv_time,
            self.sender,
            self.receiver,
            self.link,
            self.role,
            self.msg_type,
            self.group,
            self.nbytes,
            self.lost,
        )

    def restart(self) -> None:
        """Forget everything recorded so far (a group's unmeasured history, ``sim/warmup.py``).
        The columns are emptied in place: links hold ``recv_time``; none may be in flight."""
        for col in self._columns():
            col.clear()
        self.events.clear()
        self._by_kind, self._by_kind_len = {}, 0
        self.counts.clear()

    def event(self, now: float, kind: str, **fields: Any) -> None:
        self.events.append({"t": round(now, 6), "kind": kind, **fields})

    def count(self, kind: str, group: str) -> None:
        self.counts[(kind, group)] += 1

    def total(self, kind: str) -> int:
        return sum(n for (k, _), n in self.counts.items() if k == kind)

    def of_kind(self, kind: str) -> Iterable[dict[str, Any]]:
        """The events of ``kind``, in order. The summary asks for dozens of kinds among a large
        run's hundreds of thousands of events: they are grouped by kind once, not scanned each
        time (regrouped when events were added since)."""
        events = self.events
        if self._by_kind_len != len(events):
            by_kind: dict[str, list[dict[str, Any]]] = {}
            for e in events:
                k = e["kind"]
                got = by_kind.get(k)
                if got is None:
                    by_kind[k] = [e]
                else:
                    got.append(e)
            self._by_kind, self._by_kind_len = by_kind, len(events)
        return iter(self._by_kind.get(kind, ()))

    def write_transmissions(self, path: Path) -> None:
        with path.open("w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(TRANSMISSION_FIELDS)
            cols = zip(*self._columns(), strict=True)
            w.writerows(_csv_row(i, *row) for i, row in enumerate(cols))

    def write_events(self, path: Path) -> None:
        encode = json.JSONEncoder(sort_keys=True).encode  # json.dumps(e, sort_keys=True), one encoder
        with path.open("w") as f:
            events = self.events
            for i in range(0, len(events), 4096):
                f.write("".join([encode(e) + "\n" for e in events[i : i + 4096]]))
