"""Fan-out strategies (``federation.fanout``), one module each: what the committer uploads, what
the ordering DS does with a commit and sends each recipient, and how joiners get in."""

from __future__ import annotations

from collections.abc import Callable

from ...assist.pre import get_pre
from ...mls.crypto import CipherSuite
from ...mls.rand import SeededRandom
from .light import Light
from .plain import Plain
from .pre import PREFanout
from .pre_path import PREPath
from .split import Split

__all__ = ["Light", "PREFanout", "PREPath", "Plain", "Split", "make_fanout"]


def make_fanout(
    name: str,
    suite: CipherSuite,
    family: str,
    streams: Callable[[str], SeededRandom] | None = None,
    pre_key_refresh: str = "never",
    *,
    light: bool = False,
) -> Plain:
    """The strategy ``name``; ``pre`` and ``pre-join-store`` use the PRE scheme of the suite's
    ``family``; ``pre`` draws its PRE keys from ``streams`` (the world's named MLS streams);
    ``plain`` with ``light`` members in some group is :class:`Light`."""
    if name == "plain":
        return Light() if light else Plain()
    if name == "split":
        return Split()
    if name == "pre":
        if streams is None:
            raise ValueError("fan-out 'pre' needs the world's random streams")
        return PREPath(get_pre(family), streams, pre_key_refresh)
    if name == "pre-join-store":
        return PREFanout(get_pre(family))
    raise ValueError(f"unknown fan-out {name!r}")
