"""Routes through the federation: one relay helper instead of copied chains of ``network.send``.

A message from a client to its group's orderer goes client → home DS → ordering DS; a message
from a DS to a client goes through the client's home DS; a KeyPackage request goes requester →
its DS → the target's DS → the target's AS and back. :func:`relay` sends over such a list of
hops in turn; a hop whose two ends are the same node (the home DS is the orderer) is skipped,
exactly as if the next hop started at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import simpy

from ..mls.codec import encode
from ..mls.key_packages import KeyPackageBundle
from ..mls.messages import MLSMessage
from .network import Network
from .records import CONTROL_BYTES

__all__ = ["Hop", "KeyPackageHolder", "fetch_key_package", "relay", "route"]


@dataclass(frozen=True)
class Hop:
    """One transmission of a route: from node ``src`` to node ``dst`` over ``link``."""

    src: str
    dst: str
    link: str
    role: str


def route(*hops: Hop) -> tuple[Hop, ...]:
    """The hops a message takes, without those whose two ends are one node (the home DS is the
    orderer): such a hop costs nothing and is skipped as if the next started at once."""
    return tuple(h for h in hops if h.src != h.dst)


def relay(
    network: Network, hops: Sequence[Hop], size: int, msg_type: str, group: str, then: Callable[[], None]
) -> None:
    """Send ``size`` bytes over ``hops`` (a :func:`route`) one after the other; ``then`` runs on
    the last arrival (at once for an empty route). Each hop's send is the previous hop's
    arrival handler, built back to front."""
    for h in reversed(hops):
        then = partial(
            network.send,
            h.src,
            h.dst,
            h.link,
            size,
            role=h.role,
            msg_type=msg_type,
            group=group,
            on_receive=then,
        )
    then()


class KeyPackageHolder(Protocol):
    """A client as the KeyPackage route sees it (``sim/client.Client``)."""

    name: str
    node: str
    provider: str
    bundles: dict[bytes, KeyPackageBundle]

    def new_key_package(self) -> KeyPackageBundle: ...


def fetch_key_package(
    env: simpy.Environment,
    network: Network,
    take: Callable[[str], bytes | None],
    requester: KeyPackageHolder,
    target: KeyPackageHolder,
    group: str,
) -> simpy.Event:
    """Requester → its DS → target's DS → target's AS (``take`` pops a stored KeyPackage
    reference there), and the KeyPackage back the same way. The event's value is the
    KeyPackage."""
    done = env.event()
    home, remote, as_node = f"ds:{requester.provider}", f"ds:{target.provider}", f"as:{target.provider}"
    ref = take(target.name)
    if ref is None:  # the client uploads another KeyPackage ahead of time; model it as there
        target.new_key_package()
        ref = take(target.name)
    assert ref is not None
    kp = target.bundles[ref].key_package
    size = len(encode(MLSMessage(body=kp)))
    back = route(
        Hop(as_node, remote, "ds_as", "as"),
        Hop(remote, home, "ds_ds", "forward"),
        Hop(home, requester.node, "client_ds", "download"),
    )
    there = route(
        Hop(requester.node, home, "client_ds", "upload"),
        Hop(home, remote, "ds_ds", "forward"),
        Hop(remote, as_node, "ds_as", "as"),
    )

    def arrived() -> None:
        done.succeed(kp)

    relay(
        network,
        there,
        CONTROL_BYTES,
        "kp_request",
        group,
        lambda: relay(network, back, size, "key_package", group, arrived),
    )
    return done
