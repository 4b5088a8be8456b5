"""A device as the network and the authentication service see it: an address, its randomness,
its credential and KeyPackages, online or offline.

The MLS client (``sim/client.py``) is a Device that also holds groups; keeping the device part
here keeps the client adapter to what drives ``mls.Group``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import simpy

from ..mls.codec import encode
from ..mls.crypto import CipherSuite, KeyPair
from ..mls.group import MemberIdentity
from ..mls.key_packages import KeyPackageBundle, make_key_package
from ..mls.messages import Credential, Lifetime
from ..mls.rand import RandomSource
from .delivery import AuthenticationService, DeliveryService
from .free import Changes
from .network import Network
from .recorder import Recorder
from .records import CONTROL_BYTES
from .rng import Streams
from .routing import Hop, relay, route

__all__ = ["Device", "DeviceWorld"]

FOREVER = Lifetime(not_before=0, not_after=2**63)


class _Provider(Protocol):
    @property
    def ds(self) -> DeliveryService: ...
    @property
    def as_(self) -> AuthenticationService: ...


class DeviceObserver(Protocol):
    """The compromise bookkeeping, as a device meets it: it may record the device's draws."""

    def device_random(self, name: str, base: RandomSource) -> RandomSource: ...


class DeviceWorld(Protocol):
    """What a device needs from the world."""

    env: simpy.Environment
    recorder: Recorder
    network: Network
    streams: Streams
    suite: CipherSuite
    ds_groups: dict[str, str]
    #: moves whenever what makes a member free to act may have changed (sim/free.py)
    changes: Changes

    @property
    def providers(self) -> Mapping[str, _Provider]: ...
    @property
    def compromises(self) -> DeviceObserver | None: ...


class Device:
    """One device: online or offline, with its own randomness, credential and KeyPackages."""

    world: DeviceWorld

    def __init__(self, world: DeviceWorld, name: str, provider: str) -> None:
        self.world = world
        self._changes = world.changes
        self.name = name
        self.provider = provider
        self.node = f"c:{name}"
        self._online = self._synced = True
        #: held offline by the scenario's script (churn does not bring it back)
        self.held = False
        #: group -> the hops of an upload to its orderer
        self._routes: dict[str, tuple[Hop, ...]] = {}
        self.rand: RandomSource = world.streams.mls(f"client/{name}")
        if world.compromises is not None:
            self.rand = world.compromises.device_random(name, self.rand)
        sig = world.suite.signature_key_pair(self.rand)
        self._sig = sig
        self._cred = Credential.basic(name.encode())
        self.bundles: dict[bytes, KeyPackageBundle] = {}
        first = self.new_key_package()
        self.identity = MemberIdentity(
            credential=self._cred,
            signature_priv=sig.priv,
            signature_key=sig.pub,
            capabilities=first.key_package.leaf_node.capabilities,
        )

    def new_key_package(self) -> KeyPackageBundle:
        """A fresh KeyPackage, kept privately and uploaded (by reference) to the home AS."""
        b = make_key_package(
            self.world.suite,
            credential=self._cred,
            signature_key_pair=KeyPair(self._sig.priv, self._sig.pub),
            rand=self.rand,
            lifetime=FOREVER,
        )
        ref = self.world.suite.key_package_ref(encode(b.key_package))
        self.bundles[ref] = b
        self.world.providers[self.provider].as_.store(self.name, ref)
        return b

    def upload(self, group: str, size: int, msg_type: str, then: Callable[[], None]) -> None:
        """Client → home DS → (ordering DS): ``then`` runs at the ordering DS."""
        w = self.world
        hops = self._routes.get(group)
        if hops is None:  # built once, and again only after a failover moves the orderer
            home = w.providers[self.provider].ds.node
            up = Hop(self.node, home, "client_ds", "upload")
            hops = self._routes[group] = route(up, Hop(home, f"ds:{w.ds_groups[group]}", "ds_ds", "forward"))
        relay(w.network, hops, size, msg_type, group, then)

    def forget_route(self, group: str) -> None:
        """The group's orderer moved (a failover, ``sim/faults.py``): build the route anew."""
        self._routes.pop(group, None)

    def go_offline(self) -> None:
        """The connection drops; the home DS notices at once (messages already in flight still
        arrive: they count as received just before the drop)."""
        if not self.online:
            return
        self.online = False
        self.synced = False
        self.world.providers[self.provider].ds.connected.discard(self.name)
        self.world.recorder.event(self.world.env.now, "offline", client=self.name)

    @property
    def online(self) -> bool:
        """Connected (a setter: every change moves ``world.changes``, sim/free.py)."""
        return self._online

    @online.setter
    def online(self, value: bool) -> None:
        self._online = value
        self._changes.n += 1

    @property
    def synced(self) -> bool:
        """Caught up with the mailbox since coming online (see ``DeliveryService.flush_mailbox``)."""
        return self._synced

    @synced.setter
    def synced(self, value: bool) -> None:
        self._synced = value
        self._changes.n += 1

    @property
    def ready(self) -> bool:
        """Online and caught up with the mailbox: the client may send."""
        return self.online and self.synced

    def go_online(self) -> None:
        w = self.world
        self.online = True
        w.recorder.event(w.env.now, "online", client=self.name)
        home = w.providers[self.provider].ds
        w.network.send(
            self.node,
            home.node,
            "client_ds",
            CONTROL_BYTES,
            role="upload",
            msg_type="mailbox_fetch",
            group="",
            on_receive=lambda: home.flush_mailbox(self.name),
        )
