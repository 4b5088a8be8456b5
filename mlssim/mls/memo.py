"""A bounded table of results of pure functions, shared by simulated members of one world.

Members of one epoch compute the same values from the same inputs: the secret tree's
derivations (every member derives the same node, ratchet and key secrets from the epoch's
``encryption_secret``), the sender-data key of a message, a message's decryption. A
:class:`Memo` lets the first member compute and the others look the result up. Each key
must hold every input of the function it stands for, so a member whose inputs differ in any
byte computes its own result; failures are never stored. What a member *holds* (its ratchet
positions, consumed keys) stays its own state. The table is cleared when it is full, so its
memory is bounded and no entry outlives many epochs.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["Memo"]

V = TypeVar("V")


class Memo(Generic[V]):
    __slots__ = ("_table", "_max", "hits")

    def __init__(self, max_entries: int = 1 << 16) -> None:
        self._table: dict[Hashable, V] = {}
        self._max = max_entries
        self.hits = 0

    def get(self, key: Hashable) -> V | None:
        found = self._table.get(key)
        if found is not None:
            self.hits += 1
        return found

    def put(self, key: Hashable, value: V) -> None:
        if len(self._table) >= self._max:
            self._table.clear()
        self._table[key] = value

    def __len__(self) -> int:
        return len(self._table)
