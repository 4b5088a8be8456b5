"""Fan-out strategies (``federation.fanout``), one module each: what the committer uploads, what
the ordering DS does with a commit and sends each recipient, and how joiners get in."""

from __future__ import annotations

from ...assist.pre import get_pre
from ...mls.crypto import CipherSuite
from .plain import Plain
from .pre import PREFanout
from .split import Split

__all__ = ["PREFanout", "Plain", "Split", "make_fanout"]


def make_fanout(name: str, suite: CipherSuite, family: str) -> Plain:
    """The strategy ``name``; ``pre`` uses the PRE scheme of the suite's ``family``."""
    if name == "plain":
        return Plain()
    if name == "split":
        return Split()
    if name == "pre":
        return PREFanout(get_pre(family))
    raise ValueError(f"unknown fan-out {name!r}")
