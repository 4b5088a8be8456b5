"""Helpers shared by the vector runners."""

from __future__ import annotations

from typing import Any

__all__ = ["Check", "h"]


def h(x: str | None) -> bytes:
    """Hex from a vector field to bytes (``null`` as empty)."""
    return bytes.fromhex(x) if x else b""


class Check:
    """Collects one message per mismatching field."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def eq(self, what: str, got: Any, want: Any) -> None:
        if got != want:
            g = got.hex() if isinstance(got, bytes | bytearray) else got
            w = want.hex() if isinstance(want, bytes | bytearray) else want
            self.errors.append(f"{what}: got {g!s:.80}, want {w!s:.80}")

    def true(self, what: str, cond: bool) -> None:
        if not cond:
            self.errors.append(what)
