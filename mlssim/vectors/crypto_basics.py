"""``crypto-basics``: the RFC 9420 §5 labeled functions of one real suite.

RefHash (§5.2), ExpandWithLabel / DeriveSecret (§5.1), DeriveTreeSecret (§9),
SignWithLabel / VerifyWithLabel (§5.1.2) and EncryptWithLabel / DecryptWithLabel (§5.1.3),
checked as FORMAT.md prescribes. Fresh encryptions draw from a fixed-seed stream, so a
failure reproduces.
"""

from __future__ import annotations

from typing import Any

from ..mls.crypto import SUPPORTED_SUITES, get_suite
from ..mls.errors import CryptoError
from ..mls.rand import SeededRandom
from . import NotSupported
from .common import Check, h

#: suites whose signatures are deterministic (EdDSA), so ours must equal the vector's
_EDDSA_SUITES = frozenset({1, 3, 4, 6})


def check(case: dict[str, Any]) -> list[str]:
    suite_id = case["cipher_suite"]
    if suite_id not in SUPPORTED_SUITES:
        raise NotSupported(f"cipher suite {suite_id}")
    cs = get_suite(suite_id, "real")
    c = Check()

    v = case["ref_hash"]
    c.eq("ref_hash.out", cs.ref_hash(v["label"], h(v["value"])), h(v["out"]))

    v = case["expand_with_label"]
    c.eq(
        "expand_with_label.out",
        cs.expand_with_label(h(v["secret"]), v["label"], h(v["context"]), v["length"]),
        h(v["out"]),
    )

    v = case["derive_secret"]
    c.eq("derive_secret.out", cs.derive_secret(h(v["secret"]), v["label"]), h(v["out"]))

    v = case["derive_tree_secret"]
    c.eq(
        "derive_tree_secret.out",
        cs.derive_tree_secret(h(v["secret"]), v["label"], v["generation"], v["length"]),
        h(v["out"]),
    )

    v = case["sign_with_label"]
    priv, pub, content, label = h(v["priv"]), h(v["pub"]), h(v["content"]), v["label"]
    c.true(
        "sign_with_label: VerifyWithLabel rejects the vector's signature",
        cs.verify_with_label(pub, label, content, h(v["signature"])),
    )
    ours = cs.sign_with_label(priv, label, content)
    c.true(
        "sign_with_label: VerifyWithLabel rejects our own SignWithLabel",
        cs.verify_with_label(pub, label, content, ours),
    )
    if suite_id in _EDDSA_SUITES:
        c.eq("sign_with_label.signature (EdDSA is deterministic)", ours, h(v["signature"]))
    c.eq("sign_with_label.pub (from priv)", cs.signature_public_key(priv), pub)

    v = case["encrypt_with_label"]
    priv, pub, label, context = h(v["priv"]), h(v["pub"]), v["label"], h(v["context"])
    plaintext = h(v["plaintext"])
    try:
        got = cs.decrypt_with_label(priv, label, context, h(v["kem_output"]), h(v["ciphertext"]))
    except CryptoError as exc:
        c.true(f"encrypt_with_label: DecryptWithLabel of the vector failed: {exc}", False)
    else:
        c.eq("encrypt_with_label: DecryptWithLabel(vector)", got, plaintext)
    kem_output, ciphertext = cs.encrypt_with_label(
        pub, label, context, plaintext, SeededRandom(0, "crypto-basics")
    )
    try:
        got = cs.decrypt_with_label(priv, label, context, kem_output, ciphertext)
    except CryptoError as exc:
        c.true(f"encrypt_with_label: DecryptWithLabel of our EncryptWithLabel failed: {exc}", False)
    else:
        c.eq("encrypt_with_label: DecryptWithLabel(EncryptWithLabel)", got, plaintext)
    c.eq("encrypt_with_label.pub (from priv)", cs.kem_public_key(priv), pub)
    return c.errors
