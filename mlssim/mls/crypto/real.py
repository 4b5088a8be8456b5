"""The real cipher suites on ``cryptography``: RFC 9420 suites 1–7 and the post-quantum suites.

Symmetric primitives (hash, HMAC, HKDF, AEAD) are here; KEM/HPKE (RFC 9180 base mode with
injected randomness) and signature primitives are in ``hpke.py`` (``pqkem.py`` for ML-KEM and
the hybrids) and ``signature.py`` and wired in per suite below. The post-quantum suites of
draft-ietf-mls-pq-ciphersuites and their private-use code points are in ``pq_suites.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from ..errors import CryptoError
from ..rand import RandomSource
from .hpke import hmac_function, hpke_for
from .pq_suites import PQ_SUITE_INFOS, real_available
from .signature import scheme_for_suite
from .suite import CipherSuite, KeyPair, SuiteInfo

__all__ = ["RealSuite", "real_suite", "SUITE_INFOS"]

# RFC 9420 §17.1 and RFC 9180 §7: (name, kem_id, kdf/hash, aead_id, Nk, Nsecret, Nenc, Npk, Nsk,
# signature public key length, typical signature length); the post-quantum suites are appended
# from pq_suites.py, so the model twins (model.py) exist for them too
SUITE_INFOS: dict[int, SuiteInfo] = {
    1: SuiteInfo(suite_id=1, name="MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519", kem_id=0x0020,
                 kdf_id=0x0001, aead_id=0x0001, hash_len=32, aead_key_len=16, aead_nonce_len=12,
                 kem_secret_len=32, kem_enc_len=32, kem_pk_len=32, kem_sk_len=32,
                 sig_pk_len=32, sig_len=64),
    2: SuiteInfo(suite_id=2, name="MLS_128_DHKEMP256_AES128GCM_SHA256_P256", kem_id=0x0010,
                 kdf_id=0x0001, aead_id=0x0001, hash_len=32, aead_key_len=16, aead_nonce_len=12,
                 kem_secret_len=32, kem_enc_len=65, kem_pk_len=65, kem_sk_len=32,
                 sig_pk_len=65, sig_len=71),
    3: SuiteInfo(suite_id=3, name="MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519",
                 kem_id=0x0020, kdf_id=0x0001, aead_id=0x0003, hash_len=32, aead_key_len=32,
                 aead_nonce_len=12, kem_secret_len=32, kem_enc_len=32, kem_pk_len=32,
                 kem_sk_len=32, sig_pk_len=32, sig_len=64),
    4: SuiteInfo(suite_id=4, name="MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448", kem_id=0x0021,
                 kdf_id=0x0003, aead_id=0x0002, hash_len=64, aead_key_len=32, aead_nonce_len=12,
                 kem_secret_len=64, kem_enc_len=56, kem_pk_len=56, kem_sk_len=56,
                 sig_pk_len=57, sig_len=114),
    5: SuiteInfo(suite_id=5, name="MLS_256_DHKEMP521_AES256GCM_SHA512_P521", kem_id=0x0012,
                 kdf_id=0x0003, aead_id=0x0002, hash_len=64, aead_key_len=32, aead_nonce_len=12,
                 kem_secret_len=64, kem_enc_len=133, kem_pk_len=133, kem_sk_len=66,
                 sig_pk_len=133, sig_len=139),
    6: SuiteInfo(suite_id=6, name="MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448",
                 kem_id=0x0021, kdf_id=0x0003, aead_id=0x0003, hash_len=64, aead_key_len=32,
                 aead_nonce_len=12, kem_secret_len=64, kem_enc_len=56, kem_pk_len=56,
                 kem_sk_len=56, sig_pk_len=57, sig_len=114),
    7: SuiteInfo(suite_id=7, name="MLS_256_DHKEMP384_AES256GCM_SHA384_P384", kem_id=0x0011,
                 kdf_id=0x0002, aead_id=0x0002, hash_len=48, aead_key_len=32, aead_nonce_len=12,
                 kem_secret_len=48, kem_enc_len=97, kem_pk_len=97, kem_sk_len=48,
                 sig_pk_len=97, sig_len=103),
}  # fmt: skip
SUITE_INFOS.update(PQ_SUITE_INFOS)

_HASH_NAMES = {32: "sha256", 48: "sha384", 64: "sha512"}


class SymmetricPrimitives:
    """Hash, HMAC, HKDF and AEAD of one suite; shared by the real and model families."""

    __slots__ = ("_hash_ctor", "_hash_len", "_mac", "_zero_salt", "_aead_cls")

    def __init__(self, info: SuiteInfo) -> None:
        name = _HASH_NAMES[info.hash_len]
        self._hash_ctor = getattr(hashlib, name)
        self._hash_len = info.hash_len
        self._mac = hmac_function(name)
        self._zero_salt = bytes(info.hash_len)
        self._aead_cls = ChaCha20Poly1305 if info.aead_id == 0x0003 else AESGCM

    def hash(self, data: bytes) -> bytes:
        digest: bytes = self._hash_ctor(data).digest()
        return digest

    def mac(self, key: bytes, data: bytes) -> bytes:
        return self._mac(key, data)

    def kdf_extract(self, salt: bytes, ikm: bytes) -> bytes:
        # RFC 5869: an empty salt is a string of HashLen zeros.
        return self._mac(salt or self._zero_salt, ikm)

    def kdf_expand(self, prk: bytes, info: bytes, length: int) -> bytes:
        if length <= self._hash_len:  # one block: the common case
            return self._mac(prk, info + b"\x01")[:length]
        n = -(-length // self._hash_len)
        if n > 255:
            raise ValueError(f"HKDF-Expand length {length} too large")
        out = b""
        t = b""
        for i in range(1, n + 1):
            t = self._mac(prk, t + info + bytes([i]))
            out += t
        return out[:length]

    def aead_seal(self, key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        return self._aead_cls(key).encrypt(nonce, plaintext, aad)

    def aead_open(self, key: bytes, nonce: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        try:
            return self._aead_cls(key).decrypt(nonce, ciphertext, aad)
        except (InvalidTag, ValueError) as exc:
            raise CryptoError("AEAD decryption failed") from exc


class RealSuite(CipherSuite):
    """A real suite: symmetric primitives here, KEM and signatures from their modules."""

    family = "real"

    def __init__(self, suite_id: int) -> None:
        if suite_id not in SUITE_INFOS:
            raise ValueError(f"unsupported cipher suite {suite_id}")
        if suite_id in PQ_SUITE_INFOS and not real_available(suite_id):
            raise ValueError(
                f"cipher suite 0x{suite_id:04x} needs ML-KEM/ML-DSA, which this cryptography/OpenSSL "
                "build lacks; use family='model'"
            )
        self.info = SUITE_INFOS[suite_id]
        self._sym = SymmetricPrimitives(self.info)
        self._hpke = hpke_for(self.info.kem_id, self.info.kdf_id, self.info.aead_id)
        self._sig = scheme_for_suite(suite_id)

    def __repr__(self) -> str:
        return f"RealSuite({self.info.suite_id}: {self.info.name})"

    def __reduce__(self) -> tuple[Callable[[int], RealSuite], tuple[int]]:
        # stateless: unpickle (e.g. in a worker process) to that process's shared instance
        return (real_suite, (self.info.suite_id,))

    def hash(self, data: bytes) -> bytes:
        return self._sym.hash(data)

    def mac(self, key: bytes, data: bytes) -> bytes:
        return self._sym.mac(key, data)

    def kdf_extract(self, salt: bytes, ikm: bytes) -> bytes:
        return self._sym.kdf_extract(salt, ikm)

    def kdf_expand(self, prk: bytes, info: bytes, length: int) -> bytes:
        return self._sym.kdf_expand(prk, info, length)

    def aead_seal(self, key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        return self._sym.aead_seal(key, nonce, aad, plaintext)

    def aead_open(self, key: bytes, nonce: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        return self._sym.aead_open(key, nonce, aad, ciphertext)

    # ---- KEM / HPKE (RFC 9180 base mode, hpke.py) and signatures (signature.py) --------

    def kem_derive_key_pair(self, ikm: bytes) -> KeyPair:
        priv, pub = self._hpke.kem.derive_key_pair(ikm)
        return KeyPair(priv, pub)

    def kem_public_key(self, priv: bytes) -> bytes:
        return self._hpke.kem.public_key(priv)

    def kem_encap(self, pub: bytes, rand: RandomSource) -> tuple[bytes, bytes]:
        return self._hpke.kem.encap(pub, rand)

    def kem_decap(self, enc: bytes, priv: bytes) -> bytes:
        return self._hpke.kem.decap(enc, priv)

    def hpke_export(self, shared_secret: bytes, info: bytes, exporter_context: bytes, length: int) -> bytes:
        return self._hpke.core.export(shared_secret, info, exporter_context, length)

    def hpke_seal(
        self, pub: bytes, info: bytes, aad: bytes, plaintext: bytes, rand: RandomSource
    ) -> tuple[bytes, bytes]:
        return self._hpke.seal(pub, info, aad, plaintext, rand)

    def hpke_open(self, priv: bytes, enc: bytes, info: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        return self._hpke.open(priv, enc, info, aad, ciphertext)

    def signature_key_pair(self, rand: RandomSource) -> KeyPair:
        priv, pub = self._sig.key_pair(rand)
        return KeyPair(priv, pub)

    def signature_public_key(self, priv: bytes) -> bytes:
        return self._sig.public_key(priv)

    def sign(self, priv: bytes, message: bytes) -> bytes:
        return self._sig.sign(priv, message)

    def verify(self, pub: bytes, message: bytes, signature: bytes) -> bool:
        return self._sig.verify(pub, message, signature)


@cache
def real_suite(suite_id: int) -> RealSuite:
    return RealSuite(suite_id)
