"""``deserialization``: decode variable-length vector headers (RFC 9420 §2.1.2)."""

from __future__ import annotations

from typing import Any

from ..mls.codec import Reader, Writer
from .common import Check, h


def check(case: dict[str, Any]) -> list[str]:
    c = Check()
    header = h(case["vlbytes_header"])
    r = Reader(header)
    c.eq("decoded length", r.pull_varint(), case["length"])
    c.true("header has trailing bytes", r.eof())
    w = Writer()
    w.push_varint(case["length"])
    c.eq("re-encoded header", w.data(), header)
    return c.errors
