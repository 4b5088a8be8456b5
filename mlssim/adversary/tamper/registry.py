"""How an alteration joins the catalogue: a :class:`Registry` decorator per concern module,
and the short capability names the registrations use.

Each concern module (public, private, replay, joining) registers its alterations in the order
it defines them and exports them as ``TAMPERS``; :mod:`.catalogue` concatenates those tuples
in a fixed order, so the catalogue's order never depends on which module was imported first.
"""

from __future__ import annotations

from collections.abc import Callable

from .model import Apply, Capability, Kind, Tamper, Wire
from .rules import RULES

__all__ = ["WIRE", "EPOCH_KEYS", "SIGNER", "Registry"]

WIRE, EPOCH_KEYS, SIGNER = Capability.WIRE, Capability.EPOCH_KEYS, Capability.SIGNER


def _always(_w: Wire) -> bool:
    return True


class Registry:
    """The alterations of one module, in the order they are defined."""

    __slots__ = ("tampers",)

    def __init__(self) -> None:
        self.tampers: list[Tamper] = []

    def __call__(
        self,
        name: str,
        capability: Capability,
        kinds: frozenset[Kind],
        rule: str,
        needs: Callable[[Wire], bool] = _always,
    ) -> Callable[[Apply], Apply]:
        """Register the decorated alteration; the first line of its docstring says what it alters."""

        def register(fn: Apply) -> Apply:
            altered = (fn.__doc__ or name).strip().splitlines()[0].rstrip(".")
            self.tampers.append(Tamper(name, capability, kinds, altered, RULES[rule], fn, needs))
            return fn

        return register
