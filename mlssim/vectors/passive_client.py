"""``passive-client-*``: join from a Welcome, then follow every epoch's proposals and commit.

FORMAT.md "Passive Client Scenarios": the client's epoch authenticator must equal the
vector's after joining and after each commit.
"""

from __future__ import annotations

from typing import Any

from ..mls.codec import decode
from ..mls.crypto import get_suite
from ..mls.errors import MLSError
from ..mls.group import Group, GroupConfig, MemberIdentity
from ..mls.messages import KeyPackage, MLSMessage, PSKType, Welcome
from ..mls.messages.psk_id import PreSharedKeyID
from ..mls.messages.tree import decode_ratchet_tree
from ..mls.ratchet_tree import RatchetTree
from .common import Check, h


def check(case: dict[str, Any]) -> list[str]:
    c = Check()
    suite = get_suite(case["cipher_suite"])
    kp_msg = decode(MLSMessage, h(case["key_package"]))
    kp = kp_msg.body
    if not isinstance(kp, KeyPackage):
        return ["key_package is not a KeyPackage"]
    sig_priv = h(case["signature_priv"])
    c.eq("signature_priv matches", suite.signature_public_key(sig_priv), kp.leaf_node.signature_key)
    c.eq(
        "encryption_priv matches",
        suite.kem_public_key(h(case["encryption_priv"])),
        kp.leaf_node.encryption_key,
    )
    c.eq("init_priv matches", suite.kem_public_key(h(case["init_priv"])), kp.init_key)
    psks = {h(p["psk_id"]): h(p["psk"]) for p in case.get("external_psks") or []}

    def lookup(psk_id: PreSharedKeyID) -> bytes | None:
        return psks.get(psk_id.psk_id) if psk_id.psktype == PSKType.EXTERNAL else None

    identity = MemberIdentity(
        credential=kp.leaf_node.credential,
        signature_priv=sig_priv,
        signature_key=kp.leaf_node.signature_key,
        capabilities=kp.leaf_node.capabilities,
        leaf_extensions=kp.leaf_node.extensions,
    )
    tree = None
    if case.get("ratchet_tree"):
        tree = RatchetTree.from_nodes(suite, decode_ratchet_tree(h(case["ratchet_tree"])))
    welcome = decode(MLSMessage, h(case["welcome"])).body
    if not isinstance(welcome, Welcome):
        return ["welcome is not a Welcome"]
    try:
        group = Group.join(
            suite,
            welcome,
            key_package=kp,
            init_priv=h(case["init_priv"]),
            encryption_priv=h(case["encryption_priv"]),
            identity=identity,
            ratchet_tree=tree,
            config=GroupConfig(psk_lookup=lookup),
        )
    except MLSError as exc:
        return [*c.errors, f"join failed: {type(exc).__name__}: {exc}"]
    c.eq("initial epoch_authenticator", group.epoch_authenticator, h(case["initial_epoch_authenticator"]))
    for i, epoch in enumerate(case["epochs"]):
        try:
            for j, p in enumerate(epoch["proposals"]):
                try:
                    group.process(decode(MLSMessage, h(p)))
                except MLSError as exc:
                    raise MLSError(f"proposal {j}: {type(exc).__name__}: {exc}") from exc
            group.process(decode(MLSMessage, h(epoch["commit"])))
        except MLSError as exc:
            c.errors.append(f"epoch {i}: {type(exc).__name__}: {exc}")
            break
        c.eq(f"epoch {i} epoch_authenticator", group.epoch_authenticator, h(epoch["epoch_authenticator"]))
        if c.errors:
            break
    return c.errors
