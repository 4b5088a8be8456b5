"""Alterations of what a new member consumes: a Welcome (its encrypted secrets and GroupInfo,
KeyPackageRefs, a Welcome forged from public material, or re-sealed with the new epoch's
secrets), the ratchet tree a DS serves with it, and the KeyPackages a DS serves to adders.

Together because each is checked on the way into a group (§12.4.3.1, §10.1, §5.3.1), by the
joiner or by the member that adds it, not by a member processing a message of its epoch.
"""

from __future__ import annotations

import random
from dataclasses import replace

from mlssim.mls.codec import decode, encode
from mlssim.mls.key_packages import make_key_package
from mlssim.mls.keyschedule import JoinerStage
from mlssim.mls.messages import GroupInfo, HPKECiphertext, KeyPackage, Lifetime, ParentNode, Welcome
from mlssim.mls.messages.tree import Node
from mlssim.mls.messages.welcome import GroupSecrets
from mlssim.mls.ratchet_tree import RatchetTree
from mlssim.mls.welcome import seal_welcome

from .forge import Rand, bad_signature, body_of, flip, wire_bytes
from .model import Kind, Served, Tamper, Wire
from .registry import EPOCH_KEYS, WIRE, Registry

__all__ = ["TAMPERS"]

_WEL = frozenset({Kind.WELCOME})
_KP = frozenset({Kind.KEY_PACKAGE})
_tamper = Registry()


def _welcome(w: Wire) -> Welcome:
    return body_of(w, Welcome)


def _key_package(w: Wire) -> KeyPackage:
    return body_of(w, KeyPackage)


def _tree_nodes(tree: RatchetTree) -> list[Node | None]:
    return [tree.node(x) for x in range(tree.width)]


# ---- Welcome and the tree a DS serves with it --------------------------------------------------------


@_tamper("welcome.group-secrets", WIRE, _WEL, "welcome-secrets")
def _welcome_group_secrets(w: Wire, rng: random.Random) -> bytes:
    """A byte of each ``encrypted_group_secrets``."""
    wm = _welcome(w)
    entries = tuple(
        replace(
            e,
            encrypted_group_secrets=HPKECiphertext(
                kem_output=e.encrypted_group_secrets.kem_output,
                ciphertext=flip(e.encrypted_group_secrets.ciphertext, rng),
            ),
        )
        for e in wm.secrets
    )
    return wire_bytes(replace(wm, secrets=entries))


@_tamper("welcome.group-info", WIRE, _WEL, "welcome-secrets")
def _welcome_group_info(w: Wire, rng: random.Random) -> bytes:
    """A byte of ``encrypted_group_info``."""
    wm = _welcome(w)
    return wire_bytes(replace(wm, encrypted_group_info=flip(wm.encrypted_group_info, rng)))


@_tamper("welcome.key-package-ref", WIRE, _WEL, "welcome-ref")
def _welcome_ref(w: Wire, rng: random.Random) -> bytes:
    """Each ``new_member`` KeyPackageRef."""
    wm = _welcome(w)
    return wire_bytes(
        replace(wm, secrets=tuple(replace(e, new_member=flip(e.new_member, rng)) for e in wm.secrets))
    )


def _can_forge_welcome(w: Wire) -> bool:
    return w.group_info is not None and w.tree is not None and len(w.key_packages) > 0


@_tamper("welcome.forged-joiner-secret", WIRE, _WEL, "welcome-confirmation-tag", _can_forge_welcome)
def _welcome_forged_joiner_secret(w: Wire, rng: random.Random) -> Served:
    """A new Welcome: published GroupInfo, the DS's joiner secret.

    From public material only: the published (genuinely signed) GroupInfo, the public tree,
    the new members' KeyPackages, and a joiner secret of the DS's choosing."""
    assert w.group_info is not None
    rand = Rand(rng)
    joiner_secret = rand.random_bytes(w.suite.info.hash_len)
    forged = seal_welcome(
        w.suite,
        joiner=JoinerStage.start(w.suite, joiner_secret=joiner_secret),
        group_info=w.group_info,
        recipients=[(kp, GroupSecrets(joiner_secret=joiner_secret)) for kp in w.key_packages],
        rand=rand,
    )
    return Served(
        data=wire_bytes(forged),
        sender=w.sender,
        tree=w.tree,
    )


def _can_reseal_welcome(w: Wire) -> bool:
    return w.keys.next_epoch is not None and len(w.key_packages) > 0


@_tamper("welcome.group-info+seal", EPOCH_KEYS, _WEL, "group-info-signature", _can_reseal_welcome)
def _welcome_group_info_reseal(w: Wire, rng: random.Random) -> bytes:
    """The GroupInfo's confirmation tag; Welcome sealed again.

    The GroupInfo opened with the new epoch's welcome secret, altered, sealed again, and
    GroupSecrets for it sent to each new member's (public) init key."""
    secrets = w.keys.next_epoch
    assert secrets is not None
    key, nonce = secrets.welcome_key_nonce()
    gi = decode(GroupInfo, w.suite.aead_open(key, nonce, b"", _welcome(w).encrypted_group_info))
    forged = replace(gi, confirmation_tag=flip(gi.confirmation_tag, rng))
    welcome = seal_welcome(
        w.suite,
        joiner=JoinerStage.start(w.suite, joiner_secret=secrets.joiner_secret),
        group_info=forged,
        recipients=[(kp, GroupSecrets(joiner_secret=secrets.joiner_secret)) for kp in w.key_packages],
        rand=Rand(rng),
    )
    return wire_bytes(welcome)


def _has_parent(w: Wire) -> bool:
    tree = w.tree
    return (
        w.tree_from_ds
        and tree is not None
        and any(isinstance(tree.node(x), ParentNode) for x in range(1, tree.width, 2))
    )


@_tamper("tree.parent-key", WIRE, _WEL, "tree-parent-hash", _has_parent)
def _tree_parent_key(w: Wire, rng: random.Random) -> Served:
    """A parent node's key in the tree the DS serves."""
    assert w.tree is not None
    nodes = _tree_nodes(w.tree)
    x = rng.choice([x for x, n in enumerate(nodes) if isinstance(n, ParentNode)])
    node = nodes[x]
    assert isinstance(node, ParentNode)
    nodes[x] = replace(node, encryption_key=w.suite.kem_generate_key_pair(Rand(rng)).pub)
    return Served(
        data=encode(w.message),
        sender=w.sender,
        tree=RatchetTree.from_nodes(w.suite, nodes),
    )


def _tree_from_ds(w: Wire) -> bool:
    return w.tree_from_ds and w.tree is not None


@_tamper("tree.stale", WIRE, _WEL, "tree-hash", _tree_from_ds)
def _tree_stale(w: Wire, _rng: random.Random) -> Served:
    """The tree served is the previous epoch's."""
    return Served(data=encode(w.message), sender=w.sender, tree=w.public.tree)


# ---- KeyPackages a DS serves ----------------------------------------------------------------------


@_tamper("key-package.signature", WIRE, _KP, "key-package-signature")
def _kp_signature(w: Wire, rng: random.Random) -> bytes:
    """A byte of the KeyPackage signature."""
    return wire_bytes(bad_signature(_key_package(w), rng))


@_tamper("key-package.init-key", WIRE, _KP, "key-package-signature")
def _kp_init_key(w: Wire, rng: random.Random) -> bytes:
    """The ``init_key``, replaced by the adversary's.

    The Welcome would then open for the adversary."""
    kp = _key_package(w)
    return wire_bytes(replace(kp, init_key=w.suite.kem_generate_key_pair(Rand(rng)).pub))


@_tamper("key-package.forged-credential", WIRE, _KP, "credential")
def _kp_forged_credential(w: Wire, rng: random.Random) -> bytes:
    """The client's identity with the adversary's keys, self-signed.

    Every signature verifies: only the AS's binding of identity to signature key (§5.3.1) tells."""
    genuine = _key_package(w)
    forged = make_key_package(
        w.suite,
        credential=genuine.leaf_node.credential,
        signature_key_pair=None,
        rand=Rand(rng),
        lifetime=genuine.leaf_node.lifetime or Lifetime(not_before=0, not_after=2**63),
        capabilities=genuine.leaf_node.capabilities,
    )
    return wire_bytes(forged.key_package)


#: the Welcome, tree and KeyPackage alterations, in catalogue order
TAMPERS: tuple[Tamper, ...] = tuple(_tamper.tampers)
