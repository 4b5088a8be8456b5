"""The model PRE family: Umbral's exact byte lengths, no public-key maths, fast and seeded.

Every object is derived from injected randomness only, so a seed gives the same bytes, and
a per-instance registry stands in for the hardness of the maths (as
:class:`~mlssim.mls.crypto.model.ModelSuite` does for cipher suites). What the model lets a
holder of which key learn is in :class:`ModelPRE`'s docstring.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from ..mls.crypto.suite import KeyPair
from ..mls.errors import CryptoError
from ..mls.rand import RandomSource
from .pre_scheme import PRE, PREInfo
from .pre_umbral import UMBRAL_INFO

__all__ = ["ModelPRE"]

#: Shamir sharing of 32-byte capsule keys over GF(2**521 - 1) (a Mersenne prime)
_P = (1 << 521) - 1
_Y_LEN = 66


def _h(tag: bytes, *parts: bytes, length: int = 32) -> bytes:
    """Hash of length-prefixed ``parts`` under ``tag``, expanded to ``length`` bytes."""
    m = hashlib.shake_256(tag)
    for p in parts:
        m.update(len(p).to_bytes(4, "big"))
        m.update(p)
    return m.digest(length)


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


@dataclass(frozen=True, slots=True)
class _KFragEntry:
    delegating_priv: bytes
    delegating_pub: bytes
    receiving_pub: bytes
    signer_pub: bytes
    policy: bytes  # 16 bytes, shared by the kfrags of one generate_kfrags call
    threshold: int
    x: int  # share index, 1..shares


class ModelPRE(PRE):
    """The model twin of :class:`UmbralPRE`: exact sizes, no public-key maths; one instance
    is one simulated world.

    * Keys: ``priv`` is 32 injected random bytes, ``pub`` a hash of it (33 bytes). A registry
      ``pub -> priv`` (per instance, as in ``ModelSuite``) is the oracle standing in for the
      hardness of the maths; ``encrypt`` to an unknown key raises ``CryptoError``.
    * Capsule: 105 injected random bytes. The capsule key is ``K = H(priv, capsule)``; the
      ciphertext is a 24-byte injected nonce and ChaCha20-Poly1305 under ``K`` with the capsule
      as associated data (plaintext + 40 bytes). Only ``priv`` gives ``K``.
    * Kfrag: 310 injected random bytes; a second registry maps them to what the real kfrag
      encodes (delegating key, receiving and signer public keys, threshold, share index).
      Unknown or altered kfrag bytes do not verify.
    * Re-encryption: the oracle computes ``K`` and a Shamir share of it (degree threshold−1,
      coefficients a hash of the delegating key, the kfrag set and the capsule) at the
      share's index, masked with ``H(receiving_priv, delegating_pub, capsule, set, index)``;
      with a check value binding signer, delegating and receiving keys and the capsule, it
      is padded to 381 bytes. The proxy therefore learns nothing about ``K``; only the
      receiver's private key unmasks the shares, and ``threshold`` distinct ones give ``K``.

    Knowledge that differs from Umbral: in Umbral a receiver colluding with ``threshold``
    proxies can compute the delegator's private key (the re-key is a·d⁻¹ and the receiver
    can compute d); the model grants only what the API calls do (capsule keys, one capsule
    at a time). Cfrag bytes of a model world are deterministic given the capsule, the kfrag
    and the keys; Umbral's are randomized (its proof of correct re-encryption).
    """

    family = "model"

    __slots__ = ("info", "_keys", "_kfrags")

    def __init__(self) -> None:
        self.info = PREInfo(
            name="model:" + UMBRAL_INFO.name,
            secret_key_len=UMBRAL_INFO.secret_key_len,
            public_key_len=UMBRAL_INFO.public_key_len,
            capsule_len=UMBRAL_INFO.capsule_len,
            kfrag_len=UMBRAL_INFO.kfrag_len,
            cfrag_len=UMBRAL_INFO.cfrag_len,
            ciphertext_overhead=UMBRAL_INFO.ciphertext_overhead,
        )
        self._keys: dict[bytes, bytes] = {}
        self._kfrags: dict[bytes, _KFragEntry] = {}

    def __repr__(self) -> str:
        return "ModelPRE()"

    def __reduce__(
        self,
    ) -> tuple[Callable[[dict[bytes, bytes], dict[bytes, _KFragEntry]], ModelPRE], tuple[object, ...]]:
        """Pickling or deep-copying a world carries its registries (a copy is a fork)."""
        return (_restore, (self._keys, self._kfrags))

    # ---- keys ---------------------------------------------------------------------------

    def _pub(self, priv: bytes) -> bytes:
        if len(priv) != self.info.secret_key_len:
            raise CryptoError(f"model PRE: private key must be {self.info.secret_key_len} bytes")
        pub = _h(b"mlssim model pre pk", priv, length=self.info.public_key_len)
        self._keys[pub] = priv
        return pub

    def generate_key_pair(self, rand: RandomSource) -> KeyPair:
        priv = rand.random_bytes(self.info.secret_key_len)
        return KeyPair(priv, self._pub(priv))

    def signer_key_pair(self, rand: RandomSource) -> KeyPair:
        return self.generate_key_pair(rand)

    def public_key(self, priv: bytes) -> bytes:
        return self._pub(priv)

    def _priv_of(self, pub: bytes) -> bytes:
        priv = self._keys.get(pub)
        if priv is None:
            raise CryptoError("model PRE: unknown public key")
        return priv

    # ---- capsules and the DEM -------------------------------------------------------------

    def _capsule_key(self, priv: bytes, capsule: bytes) -> bytes:
        if len(capsule) != self.info.capsule_len:
            raise CryptoError("model PRE: malformed capsule")
        return _h(b"mlssim model pre capsule key", priv, capsule)

    @staticmethod
    def _seal(key: bytes, nonce: bytes, capsule: bytes, plaintext: bytes) -> bytes:
        return nonce + ChaCha20Poly1305(key).encrypt(nonce[:12], plaintext, capsule + nonce)

    def _open(self, key: bytes, capsule: bytes, ciphertext: bytes) -> bytes:
        if len(ciphertext) < self.info.ciphertext_overhead:
            raise CryptoError("model PRE: ciphertext too short")
        nonce = ciphertext[:24]
        try:
            return ChaCha20Poly1305(key).decrypt(nonce[:12], ciphertext[24:], capsule + nonce)
        except InvalidTag as exc:
            raise CryptoError("model PRE: decryption failed (wrong key or altered ciphertext)") from exc

    def encrypt(self, pub: bytes, plaintext: bytes, rand: RandomSource) -> tuple[bytes, bytes]:
        priv = self._priv_of(pub)
        capsule = rand.random_bytes(self.info.capsule_len)
        nonce = rand.random_bytes(24)
        return capsule, self._seal(self._capsule_key(priv, capsule), nonce, capsule, plaintext)

    def decrypt_original(self, priv: bytes, capsule: bytes, ciphertext: bytes) -> bytes:
        if len(priv) != self.info.secret_key_len:
            raise CryptoError("model PRE: malformed private key")
        return self._open(self._capsule_key(priv, capsule), capsule, ciphertext)

    # ---- delegation ----------------------------------------------------------------------

    def generate_kfrags(
        self,
        delegating_priv: bytes,
        receiving_pub: bytes,
        signer_priv: bytes,
        rand: RandomSource,
        *,
        threshold: int = 1,
        shares: int = 1,
    ) -> list[bytes]:
        self._check_threshold(threshold, shares)
        delegating_pub = self._pub(delegating_priv)
        signer_pub = self._pub(signer_priv)
        self._priv_of(receiving_pub)
        policy = rand.random_bytes(16)
        out = []
        for x in range(1, shares + 1):
            kfrag = rand.random_bytes(self.info.kfrag_len)
            self._kfrags[kfrag] = _KFragEntry(
                delegating_priv, delegating_pub, receiving_pub, signer_pub, policy, threshold, x
            )
            out.append(kfrag)
        return out

    @staticmethod
    def _check_value(
        signer_pub: bytes, delegating_pub: bytes, receiving_pub: bytes, capsule: bytes, head: bytes
    ) -> bytes:
        return _h(b"mlssim model pre cfrag check", signer_pub, delegating_pub, receiving_pub, capsule, head)

    @staticmethod
    def _mask(receiving_priv: bytes, delegating_pub: bytes, capsule: bytes, head: bytes) -> bytes:
        return _h(
            b"mlssim model pre cfrag mask", receiving_priv, delegating_pub, capsule, head, length=_Y_LEN
        )

    def reencrypt(
        self,
        capsule: bytes,
        kfrag: bytes,
        *,
        signer_pub: bytes,
        delegating_pub: bytes,
        receiving_pub: bytes,
    ) -> bytes:
        entry = self._kfrags.get(kfrag)
        if entry is None or (entry.signer_pub, entry.delegating_pub, entry.receiving_pub) != (
            signer_pub,
            delegating_pub,
            receiving_pub,
        ):
            raise CryptoError("model PRE: kfrag does not verify")
        key = int.from_bytes(self._capsule_key(entry.delegating_priv, capsule), "big")
        seed = _h(b"mlssim model pre poly", entry.delegating_priv, entry.policy, capsule)
        y = key
        xp = 1
        for j in range(1, entry.threshold):
            xp = xp * entry.x % _P
            coeff = int.from_bytes(_h(b"mlssim model pre coeff", seed, j.to_bytes(2, "big"), length=_Y_LEN))
            y = (y + coeff % _P * xp) % _P
        # head: policy (16) | share index (2) | threshold (2)
        head = entry.policy + entry.x.to_bytes(2, "big") + entry.threshold.to_bytes(2, "big")
        masked = _xor(
            y.to_bytes(_Y_LEN, "big"), self._mask(self._priv_of(receiving_pub), delegating_pub, capsule, head)
        )
        body = head + masked + self._check_value(signer_pub, delegating_pub, receiving_pub, capsule, head)
        return body + _h(b"mlssim model pre cfrag pad", body, length=self.info.cfrag_len - len(body))

    def decrypt_reencrypted(
        self,
        receiving_priv: bytes,
        delegating_pub: bytes,
        capsule: bytes,
        cfrags: Sequence[bytes],
        ciphertext: bytes,
        *,
        signer_pub: bytes,
    ) -> bytes:
        receiving_pub = self._pub(receiving_priv)
        if len(capsule) != self.info.capsule_len:
            raise CryptoError("model PRE: malformed capsule")
        points: dict[int, int] = {}
        policy = b""
        threshold = 0
        for cfrag in cfrags:
            if len(cfrag) != self.info.cfrag_len:
                raise CryptoError("model PRE: malformed cfrag")
            head, masked, check = cfrag[:20], cfrag[20 : 20 + _Y_LEN], cfrag[20 + _Y_LEN : 52 + _Y_LEN]
            expected = self._check_value(signer_pub, delegating_pub, receiving_pub, capsule, head)
            if not hmac.compare_digest(check, expected):
                raise CryptoError("model PRE: cfrag does not verify")
            if policy and head[:16] != policy:
                raise CryptoError("model PRE: cfrags from different kfrag sets")
            policy, threshold = head[:16], int.from_bytes(head[18:20], "big")
            y = int.from_bytes(_xor(masked, self._mask(receiving_priv, delegating_pub, capsule, head)), "big")
            points[int.from_bytes(head[16:18], "big")] = y
        if not points or len(points) < threshold:
            raise CryptoError(
                f"model PRE: need {threshold or 1} cfrags of distinct kfrags, got {len(points)}"
            )
        xs = sorted(points)[:threshold]
        key = 0
        for i in xs:  # Lagrange interpolation at 0
            num, den = 1, 1
            for j in xs:
                if j != i:
                    num = num * j % _P
                    den = den * (j - i) % _P
            key = (key + points[i] * num * pow(den, -1, _P)) % _P
        if key >> 256:
            raise CryptoError("model PRE: cfrags do not combine")
        return self._open(key.to_bytes(32, "big"), capsule, ciphertext)


def _restore(keys: dict[bytes, bytes], kfrags: dict[bytes, _KFragEntry]) -> ModelPRE:
    pre = ModelPRE()
    pre._keys.update(keys)
    pre._kfrags.update(kfrags)
    return pre
