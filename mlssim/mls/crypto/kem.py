"""What every HPKE KEM shares: the :class:`Kem` interface (RFC 9180 §4) and the NIST curve orders.

The DHKEMs (``hpke.py``) and the post-quantum KEMs (``pqkem.py``) both build on these, and
``hpke.kem_for`` returns either kind, so they live below both modules; ``hpke.py`` re-exports
them under their old names.
"""

from __future__ import annotations

from ..rand import RandomSource

__all__ = ["Kem", "CURVE_ORDERS"]


class Kem:
    """An HPKE KEM (RFC 9180 §4): keys cross as their serialized bytes, Encap takes injected
    randomness so that a seeded run replays to the byte."""

    kem_id: int
    n_secret: int
    n_enc: int
    n_pk: int
    n_sk: int

    def derive_key_pair(self, ikm: bytes) -> tuple[bytes, bytes]:
        """DeriveKeyPair(ikm) -> (SerializePrivateKey(sk), SerializePublicKey(pk))."""
        raise NotImplementedError

    def public_key(self, skm: bytes) -> bytes:
        """SerializePublicKey(pk(DeserializePrivateKey(skm)))."""
        raise NotImplementedError

    def encap(self, pkrm: bytes, rand: RandomSource) -> tuple[bytes, bytes]:
        """Encap(pkR) -> (shared_secret, enc); all randomness from ``rand``."""
        raise NotImplementedError

    def decap(self, enc: bytes, skrm: bytes) -> bytes:
        """Decap(enc, skR) -> shared_secret; CryptoError on malformed input."""
        raise NotImplementedError


_P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_P384_N = int(
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973", 16
)
_P521_N = int(
    "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
    "fa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409",
    16,
)
#: curve orders by ``cryptography`` curve name, shared by the DHKEMs (hpke.py), the PQ/T
#: hybrids (pqkem.py) and ECDSA (signature.py)
CURVE_ORDERS = {"secp256r1": _P256_N, "secp384r1": _P384_N, "secp521r1": _P521_N}
