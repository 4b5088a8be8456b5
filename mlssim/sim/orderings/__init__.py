"""Ordering designs (``federation.ordering``), one module each, and the factory that picks one.

Each design decides what happens to a group's handshake messages: with an orderer
(``single``, ``hub``: ``ordered.py``) a DS accepts the first commit for each epoch and rejects
the rest; without one (``client-fanout``, ``decentralised``: ``leaderless.py``) committers merge
at once and members resolve forks (``sim/forks.py``). Nothing outside this package asks which
design runs: clients, workloads and the summary call the design's methods.
"""

from __future__ import annotations

from ...scenario.schema import FederationSpec
from .client_fanout import ClientFanout
from .decentralised import Decentralised
from .hub import Hub
from .leaderless import Leaderless
from .ordered import Ordered
from .single import Single

__all__ = ["ClientFanout", "Decentralised", "Hub", "Leaderless", "Ordered", "Single", "make_ordering"]


def make_ordering(fed: FederationSpec) -> Ordered | Leaderless:
    """The design ``fed.ordering`` names, configured from the federation section."""
    if fed.ordering == "single":
        return Single(fed.orderer)
    if fed.ordering == "hub":
        return Hub()
    if fed.ordering == "client-fanout":
        return ClientFanout(fed.topology, fed.orderer)
    if fed.ordering == "decentralised":
        return Decentralised(fed.topology, fed.orderer)
    raise ValueError(f"unknown ordering {fed.ordering!r}")
