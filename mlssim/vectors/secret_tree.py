"""``secret-tree``: RFC 9420 §9 tree and ratchets, §6.3.2 sender-data key and nonce."""

from __future__ import annotations

from typing import Any

from ..mls.crypto import get_suite
from ..mls.messages.enums import ContentType
from ..mls.secret_tree import SecretTree, sender_data_key_nonce
from .common import Check, h


def check(case: dict[str, Any]) -> list[str]:
    c = Check()
    suite = get_suite(case["cipher_suite"])
    sd = case["sender_data"]
    key, nonce = sender_data_key_nonce(suite, h(sd["sender_data_secret"]), h(sd["ciphertext"]))
    c.eq("sender_data.key", key, h(sd["key"]))
    c.eq("sender_data.nonce", nonce, h(sd["nonce"]))

    leaves = case["leaves"]
    tree = SecretTree(suite, h(case["encryption_secret"]), len(leaves))
    for i, entries in enumerate(leaves):
        for entry in entries:
            g = entry["generation"]
            at = f"leaves[{i}] generation {g}"
            hs = tree.receive_key(i, ContentType.COMMIT, g)
            app = tree.receive_key(i, ContentType.APPLICATION, g)
            c.eq(f"{at} handshake_key", hs.key, h(entry["handshake_key"]))
            c.eq(f"{at} handshake_nonce", hs.nonce, h(entry["handshake_nonce"]))
            c.eq(f"{at} application_key", app.key, h(entry["application_key"]))
            c.eq(f"{at} application_nonce", app.nonce, h(entry["application_nonce"]))
    return c.errors
