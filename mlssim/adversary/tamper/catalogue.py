"""The catalogue: every alteration in one fixed order, looked up by name or by what applies.

The order is the concern modules' (PublicMessage, PrivateMessage, replays, joining), each in
its own definition order; it is the order :func:`applicable` returns, which seeded callers
shuffle, so it is part of every seeded result and must not change.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import joining, private, public, replay
from .model import Capability, Tamper, Wire

__all__ = ["CATALOGUE", "tamper_named", "applicable"]

CATALOGUE: tuple[Tamper, ...] = (*public.TAMPERS, *private.TAMPERS, *replay.TAMPERS, *joining.TAMPERS)
_BY_NAME = {t.name: t for t in CATALOGUE}


def tamper_named(name: str) -> Tamper:
    return _BY_NAME[name]


def applicable(wire: Wire, *, capabilities: Iterable[Capability] = tuple(Capability)) -> list[Tamper]:
    """The catalogue entries that apply to ``wire`` for an adversary with ``capabilities``."""
    allowed = set(capabilities)
    return [t for t in CATALOGUE if t.capability in allowed and t.applies(wire)]
