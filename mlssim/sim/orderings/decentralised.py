"""``decentralised``: no orderer; by default the committer's home DS fans the copies out
(``federation.topology: server``), and members resolve forks."""

from __future__ import annotations

from .leaderless import Leaderless

__all__ = ["Decentralised"]


class Decentralised(Leaderless):
    name = "decentralised"
    default_topology = "server"
