"""Sharing results of pure computations between the simulated members of one world: every cache
of the core, in one place and used one way.

Why it exists: the simulator runs thousands of members of the same group in one process, and
members of one epoch compute many identical values from identical inputs (a commit's public
outcome, the verdict on a PublicMessage, an epoch's key schedule, the open of a path ciphertext
with a node key they all hold, the secret tree's derivations, a PrivateMessage's decryption).
The first member computes such a value and the others look it up. The rule every table keeps:
its key holds *every* input of the computation it stands for, the asking member's own keys
included, so a member whose inputs differ in any byte computes its own result and fails where
it would alone; a computation that raises stores nothing. What a member *holds* afterwards (its
ratchet positions, consumed keys, its state) is built as it would be alone: only repeated work
is skipped, and results are identical with and without sharing (``tests/test_group_sharing.py``,
whose tests fail when an input is left out of a key).

The idiom: each cached step is one call at its call site,
``value = table.get_or_compute(key, compute, *args)`` (or ``..., lambda: compute(...))``).
A member without an :class:`EpochCache` gets :data:`UNSHARED` (``tables_of(None)``), whose
tables only compute.

Cost (issue 19): every member is charged the work it would have done alone. Every shared
computation passes through :meth:`SharedTable.get_or_compute`, the one place that does it: while
a tally is active (``crypto/counting.py``), a miss counts the work of ``compute()`` apart, keeps
it beside the value and charges it; a hit charges the kept work to the member asking. With no
tally active nothing is measured or kept.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar, TypeVarTuple

from .crypto.counting import WorkCounts, measured, watch

__all__ = ["SharedTable", "NOT_SHARED", "EpochCache", "UNSHARED", "tables_of"]

V = TypeVar("V")
Args = TypeVarTuple("Args")

#: the active tally of ``crypto/counting.py`` (kept here by :func:`watch`: a global is the
#: cheapest test on the hot path of every look-up)
_tally: WorkCounts | None = None


def _set_tally(tally: WorkCounts | None) -> None:
    global _tally
    _tally = tally


watch(_set_tally)


class SharedTable:
    """Results of one pure computation, by the tuple of all its inputs.

    Bounded: once ``max_entries`` are held, the table is cleared before the next entry (its
    memory stays bounded and no entry outlives many epochs), or with ``drop_oldest`` only the
    oldest entry goes; ``None`` bounds it by its owner's life (a frozen ratchet tree's answers to
    every member of its epoch). A value is never ``None``. ``hits`` and ``misses`` count look-ups.
    """

    __slots__ = ("_table", "_get", "_max", "_drop_oldest", "_costs", "hits", "misses")

    def __init__(self, max_entries: int | None = 1 << 16, *, drop_oldest: bool = False) -> None:
        self._table: dict[Hashable, object] = {}
        self._get = self._table.get  # the same dict for the table's life (emptied, never replaced)
        self._max = max_entries
        self._drop_oldest = drop_oldest
        #: the work each value took, by key, for the values computed while a tally was active
        self._costs: dict[Hashable, WorkCounts] = {}
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[*Args], V], *args: *Args) -> V:
        """The value kept for ``key``, else ``compute(*args)`` kept under it (unless it raises).
        (``args`` spare the hot call sites a closure per call.)

        While a tally is active the asker is charged the work of ``compute(*args)`` either way:
        a miss measures it and keeps it beside the value, a hit charges what was kept (a value
        kept while nothing was counted is computed once more, under measurement, to learn it)."""
        found = self._get(key)
        if found is not None:
            self.hits += 1
            if _tally is not None:
                self._charge(key, compute, *args)
            return found  # type: ignore[return-value]
        self.misses += 1
        cost = None
        if _tally is None:
            value = compute(*args)
        else:
            value, cost = measured(compute, *args)
        if self._max is not None and len(self._table) >= self._max:
            if self._drop_oldest:
                oldest = next(iter(self._table))
                del self._table[oldest]
                if self._costs:
                    self._costs.pop(oldest, None)
            else:
                self._table.clear()
                self._costs.clear()
        self._table[key] = value
        if cost is not None:
            self._costs[key] = cost
        return value

    def _charge(self, key: Hashable, compute: Callable[[*Args], object], *args: *Args) -> None:
        """Charge the active tally the work kept for ``key`` (learning it first if unknown)."""
        cost = self._costs.get(key)
        if cost is None:
            _, self._costs[key] = measured(compute, *args)
        elif _tally is not None:
            _tally.merge(cost)


class _NotShared(SharedTable):
    """Computes every time and keeps nothing: the tables of a member without an EpochCache."""

    __slots__ = ()

    def get_or_compute(self, key: Hashable, compute: Callable[[*Args], V], *args: *Args) -> V:
        return compute(*args)


#: The table that shares nothing (stateless, so one object serves everyone).
NOT_SHARED: SharedTable = _NotShared(0)


class EpochCache:
    """Every table one world's members share, passed to each of them in ``GroupConfig``.

    The public outcome of a commit (keyed by the old epoch's encoded GroupContext and the
    commit's AuthenticatedContent, so only byte-identical commits to byte-identical epochs
    share one; each member still checks what only it can: its proposal cache, its removal, its
    path secret, the confirmation tag with its own key schedule), and the decoded, validated
    GroupInfo and tree of one Welcome (each joiner still opens its own GroupSecrets and checks
    the confirmation tag). Then the results of pure functions on byte-identical inputs, each
    keyed by every input including the receiver's own keys (see the module docstring).
    """

    __slots__ = (
        "outcomes",
        "verified",
        "schedules",
        "group_infos",
        "joined_trees",
        "path_opens",
        "path_chains",
        "sender_data",
        "private_content",
        "secret_tree",
    )

    def __init__(self, max_entries: int = 256) -> None:
        #: a commit's public outcome (``commit_outcome``); the oldest entries are dropped
        self.outcomes = SharedTable(max_entries, drop_oldest=True)
        #: a PublicMessage whose membership tag and signature verified under the same keys in the
        #: same epoch (the two checks hash the whole message: a large commit's dominant cost)
        self.verified = SharedTable(max_entries)
        #: an epoch's key schedule from the same init, commit and PSK secrets and GroupContext
        self.schedules = SharedTable(max_entries)
        #: a Welcome's GroupInfo opened and decoded, by the suite, welcome key and nonce and the
        #: sealed bytes (joiners of one Welcome share one; megabytes each, so only a few kept)
        self.group_infos = SharedTable(8, drop_oldest=True)
        #: trees a joiner validated, by the ids of the GroupInfo, the supplied tree, ``now`` and
        #: the leaf policy; each value holds those objects, so the ids stay unique
        self.joined_trees = SharedTable(8, drop_oldest=True)
        #: the open of one UpdatePath ciphertext with one node's private key
        self.path_opens = SharedTable(4096)
        #: the path key pairs derived above one path secret, and the secret after them
        self.path_chains = SharedTable(4096)
        #: a PrivateMessage's sender data
        self.sender_data = SharedTable()
        #: a PrivateMessage's verified content under one ratchet key
        self.private_content = SharedTable()
        #: the secret tree's node, ratchet, key and nonce derivations (``SecretTree``)
        self.secret_tree = SharedTable()

    @classmethod
    def _unshared(cls) -> EpochCache:
        cache = cls.__new__(cls)
        for name in cls.__slots__:
            setattr(cache, name, NOT_SHARED)
        return cache

    @property
    def hits(self) -> int:
        """Commits whose public outcome was found (another member computed it)."""
        return self.outcomes.hits

    @property
    def misses(self) -> int:
        return self.outcomes.misses

    @property
    def verified_hits(self) -> int:
        return self.verified.hits

    @property
    def schedule_hits(self) -> int:
        return self.schedules.hits


#: The tables of a member without an EpochCache: every step computed, nothing kept.
UNSHARED = EpochCache._unshared()


def tables_of(cache: EpochCache | None) -> EpochCache:
    """``cache``, or :data:`UNSHARED` for a member that shares nothing."""
    return UNSHARED if cache is None else cache
