"""Which node of a ratchet tree holds a public key, and which credential types its leaves use
(RFC 9420 §7.3, §12.4.2 uniqueness checks; §7.2, §13.4 credential support).

A tree answers "is this encryption or signature key already here?" for every Add, Update and
UpdatePath it checks, and "which credential types are in use and supported?" for every new
leaf; scanning 50,000 leaves each time would dominate a commit. So the answers are indexes
built once and then *derived* epoch to epoch from the previous tree's and the nodes a commit
changed (:class:`KeyIndex`, :func:`patched_key_indexes`, :func:`patched_credential_stats`),
never rebuilt from the whole tree. Used by :mod:`~mlssim.mls.ratchet_tree`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from math import isqrt

from .messages.tree import LeafNode, Node

__all__ = ["KeyIndex", "count_leaf", "patched_key_indexes", "patched_credential_stats"]


class KeyIndex:
    """Public key -> a node holding it, derived epoch to epoch (§7.3, §12.4.2 checks).

    Two layers: a large ``base`` dict shared by every index derived from it, and a small
    overlay of the keys added (node index) and removed (-1) since. Deriving the next epoch's
    index copies only the overlay; once the overlay outgrows ``8·sqrt(N)`` entries (at least
    256), the two are merged into a new base. With c keys changed per commit that costs
    about T/2 + c·N/T entry copies per commit for an overlay bound T, least near
    T = sqrt(2cN); a commit changes c ≈ 2 log N keys, hence the bound (a quarter of the
    base, as before, made every commit at 10,000 members copy ~4,000 entries). Neither dict
    is mutated after construction.
    """

    __slots__ = ("_base", "_over")

    def __init__(self, base: dict[bytes, int], over: dict[bytes, int] | None = None) -> None:
        self._base = base
        self._over: dict[bytes, int] = {} if over is None else over

    def get(self, key: bytes) -> int | None:
        x = self._over.get(key)
        if x is None:
            return self._base.get(key)
        return None if x < 0 else x

    def __contains__(self, key: object) -> bool:
        return self.get(key) is not None  # type: ignore[arg-type]

    def patched(self, gone: Iterable[tuple[bytes, int]], new: Iterable[tuple[bytes, int]]) -> KeyIndex:
        """A new index: ``gone`` (key, node) entries dropped, then ``new`` ones added where the
        key is not held elsewhere; this one is unchanged."""
        over = dict(self._over)
        base = self._base

        def get(key: bytes) -> int | None:
            x = over.get(key)
            if x is None:
                return base.get(key)
            return None if x < 0 else x

        for key, x in gone:
            if get(key) == x:
                over[key] = -1
        for key, x in new:
            if get(key) is None:
                over[key] = x
        if len(over) > max(256, 8 * isqrt(len(base))):
            merged = {k: v for k, v in base.items() if k not in over}
            merged.update((k, v) for k, v in over.items() if v >= 0)
            return KeyIndex(merged)
        return KeyIndex(base, over)


def count_leaf(leaf: LeafNode, in_use: Counter[int], supported: Counter[int], sign: int) -> None:
    """Add (``sign`` 1) or take away (-1) ``leaf``'s credential type and supported types."""
    in_use[leaf.credential.credential_type] += sign
    for t in set(leaf.capabilities.credentials):
        supported[t] += sign


def patched_key_indexes(
    enc: KeyIndex,
    sig: KeyIndex,
    changed: Iterable[int],
    old: Callable[[int], Node | None],
    new: Callable[[int], Node | None],
) -> tuple[KeyIndex, KeyIndex]:
    """The encryption- and signature-key indexes of a new tree, derived from the old tree's
    (a C-speed copy plus the ``changed`` nodes, :meth:`KeyIndex.patched`) instead of a rescan of
    every node; ``old(x)`` and ``new(x)`` are node ``x`` before and after."""
    enc_gone: list[tuple[bytes, int]] = []
    sig_gone: list[tuple[bytes, int]] = []
    enc_new: list[tuple[bytes, int]] = []
    sig_new: list[tuple[bytes, int]] = []
    for x in sorted(changed):
        before = old(x)
        if before is not None:
            enc_gone.append((before.encryption_key, x))
            if isinstance(before, LeafNode):
                sig_gone.append((before.signature_key, x))
        after = new(x)
        if after is not None:
            enc_new.append((after.encryption_key, x))
            if isinstance(after, LeafNode):
                sig_new.append((after.signature_key, x))
    return enc.patched(enc_gone, enc_new), sig.patched(sig_gone, sig_new)


def patched_credential_stats(
    stats: tuple[Counter[int], Counter[int]],
    changed: Iterable[int],
    old: Callable[[int], Node | None],
    new: Callable[[int], Node | None],
) -> tuple[Counter[int], Counter[int]]:
    """A new tree's (credential type -> leaves using it, credential type -> leaves supporting
    it), from the old tree's ``stats`` and the ``changed`` leaves only; ``stats`` itself is
    returned, never mutated, when no count changes."""
    pairs = []
    for x in changed:
        if x & 1:
            continue
        before, after = old(x), new(x)
        if (
            isinstance(before, LeafNode)
            and isinstance(after, LeafNode)
            and before.credential.credential_type == after.credential.credential_type
            and before.capabilities.credentials == after.capabilities.credentials
        ):
            continue  # e.g. a committer's new leaf: the counts stay as they are
        pairs.append((before, after))
    if not pairs:
        return stats  # shared: never mutated
    in_use, supported = Counter(stats[0]), Counter(stats[1])
    for before, after in pairs:
        if isinstance(before, LeafNode):
            count_leaf(before, in_use, supported, -1)
        if isinstance(after, LeafNode):
            count_leaf(after, in_use, supported, 1)
    return +in_use, +supported
