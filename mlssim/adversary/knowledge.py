"""What the adversary holds: private keys, path secrets, epoch secrets, known random draws.

Knowledge only grows: an adversary keeps every key it ever learned. Whether a held key is
still *useful* is decided where it is used, by the public tree (a key opens a ciphertext only
if someone still encrypts to its public half).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..mls.keyschedule import EpochSecrets
from ..mls.messages.key_package import KeyPackage

__all__ = ["Knowledge", "EpochKey"]

#: (group_id, epoch)
EpochKey = tuple[bytes, int]


@dataclass(slots=True)
class Knowledge:
    """The adversary's store; every map is keyed by public values it can observe."""

    #: HPKE private keys by public key (leaf keys, parent-node keys, KeyPackage init keys)
    hpke: dict[bytes, bytes] = field(default_factory=dict)
    #: signature private keys by public key (impersonation; not used to derive secrets)
    signature: dict[bytes, bytes] = field(default_factory=dict)
    #: epoch secrets per epoch and per fork: (group_id, epoch) -> encoded GroupContext -> secrets
    epochs: dict[EpochKey, dict[bytes, EpochSecrets]] = field(default_factory=dict)
    #: path secrets derived (or copied): (group_id, epoch, node index) -> path secret
    path_secrets: dict[tuple[bytes, int, int], bytes] = field(default_factory=dict)
    #: epochs of which some application keys are held without the epoch secret (a copied
    #: member's retained secret tree of a past epoch, §14)
    readable: set[EpochKey] = field(default_factory=set)
    #: per device, the outputs of its random draws seen during compromise windows, in order;
    #: ``None`` where the device mixes and its persistent secret is not (yet) known
    draws: dict[str, list[bytes | None]] = field(default_factory=dict)
    #: per device, the raw draws and whether they are mixed (kept to redo ``draws``)
    raw_draws: dict[str, list[tuple[bytes, bool]]] = field(default_factory=dict)
    #: persistent entropy-mixing secrets by device
    mixing: dict[str, bytes] = field(default_factory=dict)
    #: external PSK values by psk_id
    psks: dict[bytes, bytes] = field(default_factory=dict)
    #: KeyPackages seen (public), by KeyPackageRef: a Welcome names its recipients by ref
    key_packages: dict[bytes, KeyPackage] = field(default_factory=dict)
    #: ``external_pub`` of GroupInfos seen, by the encoded GroupContext of their epoch
    external_pubs: dict[bytes, bytes] = field(default_factory=dict)

    def epoch_secrets(self, group_id: bytes, epoch: int, context: bytes | None = None) -> EpochSecrets | None:
        """The secrets of that epoch; with ``context`` (encoded GroupContext) of that fork only."""
        forks = self.epochs.get((group_id, epoch))
        if not forks:
            return None
        if context is None:
            return next(iter(forks.values()))
        return forks.get(context)

    def store_epoch(self, group_id: bytes, epoch: int, context: bytes, secrets: EpochSecrets) -> None:
        self.epochs.setdefault((group_id, epoch), {})[context] = secrets
