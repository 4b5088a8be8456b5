"""Model cipher suites: byte-exact sizes, hash-based stand-ins for the public-key maths.

A :class:`ModelSuite` is the twin of one real suite (RFC 9420 §17.1) for simulating large
groups fast. Hash, HMAC, HKDF and AEAD are the real ones (``real.SymmetricPrimitives``), and
so is the HPKE key schedule (RFC 9180 §5.1, reused from ``hpke.HpkeCore``). Only the KEM and
the signatures are replaced:

* KEM: ``priv`` is Nsk bytes (DeriveKeyPair expands ``ikm`` to them); ``pub`` is a hash
  expansion of ``priv`` to Npk bytes. Seal looks ``priv`` up from ``pub``, draws ``enc`` as
  Nenc injected random bytes, and sets ``shared_secret = H(priv, enc)`` (Nsecret bytes);
  Open computes the same from the ``priv`` it is given. So ``enc`` and the ciphertext have
  exactly the real lengths, and a wrong private key fails the AEAD with ``CryptoError``.
* Signatures: ``priv`` is random bytes of the real private key's length, ``pub`` a hash
  expansion of it to ``info.sig_pk_len``, and a signature is ``HMAC-SHA256(priv, message)``
  expanded to exactly ``info.sig_len`` bytes; Verify looks ``priv`` up from ``pub`` and
  recomputes (an unknown ``pub`` verifies nothing).

The assumption. Each instance keeps a registry ``pub -> priv``, filled whenever a key pair
or public key is derived. The registry is the oracle standing in for the hardness of the
maths: a caller can encrypt to or verify under a public key without holding its private
key, yet only a holder of the private key can open or sign — exactly the knowledge the real
suites grant, through the same API calls. It is therefore per instance (one simulated
world), never exposed, never module-global; keys from another world are unknown here
(seal raises ``CryptoError``, verify returns False). The registry grows by one entry per
key derived and is never pruned: memory, not time, bounds a model world.

Sizes that differ from the real suites: real ECDSA DER signatures vary by ±1–2 bytes around
the modal length (leading zeros of r and s); the model always emits ``info.sig_len``, the
modal DER length. Everything else (keys, ``enc``, HPKE ciphertexts, EdDSA signatures)
has exactly the real length.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Callable

from ..errors import CryptoError
from ..rand import RandomSource
from .hpke import hmac_function, hpke_core_for
from .real import SUITE_INFOS, SymmetricPrimitives
from .signature import signature_priv_len
from .suite import CipherSuite, KeyPair

__all__ = ["ModelSuite"]


def _expand(data: bytes, length: int) -> bytes:
    """A hash expansion of ``data`` to ``length`` bytes: BLAKE2b up to 64 bytes, else SHAKE-256.

    (Lengths are fixed per use, so the two never serve the same output.)
    """
    if length <= 64:
        return hashlib.blake2b(data, digest_size=length).digest()
    return hashlib.shake_256(data).digest(length)


class ModelSuite(CipherSuite):
    """The model twin of real suite ``suite_id``; one instance is one simulated world."""

    family = "model"

    __slots__ = (
        "info",
        "_sym",
        "_core",
        "_mac",
        "_kem_keys",
        "_sig_keys",
        "_sig_priv_len",
        "_tag_sk",
        "_tag_pk",
        "_tag_ss",
        "_tag_spk",
        "_tag_sig",
    )

    def __init__(self, suite_id: int) -> None:
        if suite_id not in SUITE_INFOS:
            raise ValueError(f"unsupported cipher suite {suite_id}")
        real = SUITE_INFOS[suite_id]
        self.info = dataclasses.replace(real, name="model:" + real.name)
        self._sym = SymmetricPrimitives(real)
        self._core = hpke_core_for(real.kem_id, real.kdf_id, real.aead_id)
        # the stand-in MAC needs no suite-specific strength; SHA-256 is the fastest HMAC
        self._mac = hmac_function("sha256")
        self._kem_keys: dict[bytes, bytes] = {}
        self._sig_keys: dict[bytes, bytes] = {}
        self._sig_priv_len = signature_priv_len(suite_id)
        sid = suite_id.to_bytes(2, "big")
        self._tag_sk = b"mlssim model kem sk " + sid
        self._tag_pk = b"mlssim model kem pk " + sid
        self._tag_ss = b"mlssim model kem ss " + sid
        self._tag_spk = b"mlssim model sig pk " + sid
        self._tag_sig = b"mlssim model sig " + sid

    def __repr__(self) -> str:
        return f"ModelSuite({self.info.suite_id}: {self.info.name})"

    def __reduce__(
        self,
    ) -> tuple[Callable[[int, dict[bytes, bytes], dict[bytes, bytes]], ModelSuite], tuple[object, ...]]:
        """Pickling or deep-copying a world carries its registry (a copy is a fork of the world)."""
        return (_restore, (self.info.suite_id, self._kem_keys, self._sig_keys))

    # ---- symmetric primitives: the real ones ----------------------------------------------

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

    # ---- model KEM + real HPKE key schedule and AEAD ---------------------------------------

    def _kem_pub(self, priv: bytes) -> bytes:
        if len(priv) != self.info.kem_sk_len:
            raise CryptoError(f"model KEM private key must be {self.info.kem_sk_len} bytes, got {len(priv)}")
        pub = _expand(self._tag_pk + priv, self.info.kem_pk_len)
        self._kem_keys[pub] = priv
        return pub

    def kem_derive_key_pair(self, ikm: bytes) -> KeyPair:
        """DeriveKeyPair stand-in: ``priv`` = H(ikm), ``pub`` = H(priv); registers the pair."""
        priv = _expand(self._tag_sk + ikm, self.info.kem_sk_len)
        return KeyPair(priv, self._kem_pub(priv))

    def kem_public_key(self, priv: bytes) -> bytes:
        return self._kem_pub(priv)

    def kem_encap(self, pub: bytes, rand: RandomSource) -> tuple[bytes, bytes]:
        """Model Encap; CryptoError for a public key not of this world."""
        priv = self._kem_keys.get(pub)
        if priv is None:
            raise CryptoError("model HPKE: unknown public key")
        enc = rand.random_bytes(self.info.kem_enc_len)
        return _expand(self._tag_ss + priv + enc, self.info.kem_secret_len), enc

    def kem_decap(self, enc: bytes, priv: bytes) -> bytes:
        """Model Decap: only the right ``priv`` gives the right secret."""
        if len(priv) != self.info.kem_sk_len or len(enc) != self.info.kem_enc_len:
            raise CryptoError("model HPKE: malformed private key or enc")
        return _expand(self._tag_ss + priv + enc, self.info.kem_secret_len)

    def hpke_export(self, shared_secret: bytes, info: bytes, exporter_context: bytes, length: int) -> bytes:
        return self._core.export(shared_secret, info, exporter_context, length)

    def hpke_seal(
        self, pub: bytes, info: bytes, aad: bytes, plaintext: bytes, rand: RandomSource
    ) -> tuple[bytes, bytes]:
        """SealBase with the model Encap and the real key schedule and AEAD."""
        shared_secret, enc = self.kem_encap(pub, rand)
        return enc, self._core.seal(shared_secret, info, aad, plaintext)

    def hpke_open(self, priv: bytes, enc: bytes, info: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        """OpenBase with the model Decap."""
        return self._core.open(self.kem_decap(enc, priv), info, aad, ciphertext)

    # ---- model signatures --------------------------------------------------------------------

    def _sig_pub(self, priv: bytes) -> bytes:
        if len(priv) != self._sig_priv_len:
            raise CryptoError(f"model signature key must be {self._sig_priv_len} bytes, got {len(priv)}")
        pub = _expand(self._tag_spk + priv, self.info.sig_pk_len)
        self._sig_keys[pub] = priv
        return pub

    def _signature(self, priv: bytes, message: bytes) -> bytes:
        return _expand(self._tag_sig + self._mac(priv, message), self.info.sig_len)

    def signature_key_pair(self, rand: RandomSource) -> KeyPair:
        priv = rand.random_bytes(self._sig_priv_len)
        return KeyPair(priv, self._sig_pub(priv))

    def signature_public_key(self, priv: bytes) -> bytes:
        return self._sig_pub(priv)

    def sign(self, priv: bytes, message: bytes) -> bytes:
        if len(priv) != self._sig_priv_len:
            raise CryptoError(f"model signature key must be {self._sig_priv_len} bytes, got {len(priv)}")
        return self._signature(priv, message)

    def verify(self, pub: bytes, message: bytes, signature: bytes) -> bool:
        priv = self._sig_keys.get(pub)
        if priv is None:
            return False
        return hmac.compare_digest(self._signature(priv, message), signature)


def _restore(suite_id: int, kem_keys: dict[bytes, bytes], sig_keys: dict[bytes, bytes]) -> ModelSuite:
    suite = ModelSuite(suite_id)
    suite._kem_keys.update(kem_keys)
    suite._sig_keys.update(sig_keys)
    return suite
