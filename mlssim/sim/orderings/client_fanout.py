"""``client-fanout``: no orderer; by default the committer's client sends one copy per provider
hosting recipients (``federation.topology: client-per-provider``)."""

from __future__ import annotations

from .leaderless import Leaderless

__all__ = ["ClientFanout"]


class ClientFanout(Leaderless):
    name = "client-fanout"
    default_topology = "client-per-provider"
