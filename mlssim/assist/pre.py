"""Unidirectional proxy re-encryption (PRE): Umbral, and its ``model`` twin of exact sizes.

Not part of RFC 9420. This is the primitive under the ``pre`` fan-out strategy (a DS that
stores node secrets encrypted to a member and re-encrypts them to another on request,
``docs/bandwidth.md``). Like :class:`~mlssim.mls.crypto.suite.CipherSuite`, a :class:`PRE`
takes and returns only bytes, so holding the private-key bytes is what lets a caller open a
capsule, in both families:

* ``encrypt(pub, m)`` → ``(capsule, ciphertext)``: a KEM-like capsule to the delegator's key and
  the plaintext under the capsule's key (DEM).
* ``decrypt_original(priv, capsule, ciphertext)``: the delegator opens its own capsule.
* ``generate_kfrags(delegating_priv, receiving_pub, signer_priv, threshold, shares)``: the
  delegator gives a proxy ``shares`` re-encryption key fragments, ``threshold`` of them needed.
* ``reencrypt(capsule, kfrag, …)`` → ``cfrag``: the proxy transforms a capsule without learning
  anything about the plaintext.
* ``decrypt_reencrypted(receiving_priv, delegating_pub, capsule, cfrags, ciphertext, …)``: the
  receiver opens with ``threshold`` cfrags of distinct kfrags and its own private key.

Fragments are signed with a separate signer key (``signer_key_pair``); ``reencrypt`` checks the
kfrag against the signer, delegating and receiving public keys, and ``decrypt_reencrypted``
checks each cfrag against the capsule and the same three keys (Umbral's ``verify``, which the
library requires before use). Every failure raises
:class:`~mlssim.mls.errors.CryptoError`.

Families:

* :class:`UmbralPRE` (``"real"``): Umbral on secp256k1 with XChaCha20-Poly1305 as the DEM, from
  the ``umbral-pre`` package (the optional ``pre`` extra). Key pairs are derived from injected
  randomness (``SecretKeyFactory.from_secure_randomness``), but ``umbral-pre`` draws its own OS
  randomness inside ``encrypt``, ``generate_kfrags`` and ``reencrypt`` and offers no way to inject
  it: those outputs differ between runs. Their *sizes* do not (every object has a fixed length).
* :class:`ModelPRE` (``"model"``): no public-key maths; the same byte lengths for every object,
  derived from injected randomness only (a seed gives the same bytes), and fast. Key-gated like
  :class:`~mlssim.mls.crypto.model.ModelSuite` (see its docstring).

Sizes (``umbral-pre`` 0.11, each object's ``bytes()``, the library's MessagePack serialization
with a type header, which ``from_bytes`` reads back): capsule 105 B, kfrag 310 B, cfrag 381 B,
public keys 33 B (compressed points), private keys 32 B, ciphertext = plaintext + 40 B (24-byte
nonce, 16-byte tag). Without the headers (``to_bytes_simple``) a capsule is 98 B and a cfrag
359 B; kfrags have no such form.
"""

from __future__ import annotations

import hashlib
import hmac
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from ..mls.crypto.suite import KeyPair
from ..mls.errors import CryptoError
from ..mls.rand import RandomSource

__all__ = ["PRE", "PREInfo", "UMBRAL_INFO", "UmbralPRE", "ModelPRE", "get_pre", "PRE_EXTRA"]

#: the optional dependency group that installs ``umbral-pre``
PRE_EXTRA = "pre"


@dataclass(frozen=True, slots=True, kw_only=True)
class PREInfo:
    """Byte lengths of every object of one PRE scheme (all fixed)."""

    name: str
    secret_key_len: int
    public_key_len: int
    capsule_len: int
    kfrag_len: int
    cfrag_len: int
    ciphertext_overhead: int  # len(ciphertext) - len(plaintext)


#: measured on ``umbral-pre`` 0.11.0 (``tests/test_pre.py`` checks them against the library)
UMBRAL_INFO = PREInfo(
    name="umbral-secp256k1-xchacha20poly1305",
    secret_key_len=32,
    public_key_len=33,
    capsule_len=105,
    kfrag_len=310,
    cfrag_len=381,
    ciphertext_overhead=40,
)


class PRE(ABC):
    """A unidirectional, threshold proxy re-encryption scheme over serialized keys."""

    info: PREInfo
    #: "real" or "model"
    family: str

    # ---- sizes ------------------------------------------------------------------------

    @property
    def secret_key_size(self) -> int:
        return self.info.secret_key_len

    @property
    def public_key_size(self) -> int:
        return self.info.public_key_len

    @property
    def capsule_size(self) -> int:
        return self.info.capsule_len

    @property
    def kfrag_size(self) -> int:
        return self.info.kfrag_len

    @property
    def cfrag_size(self) -> int:
        return self.info.cfrag_len

    @property
    def ciphertext_overhead(self) -> int:
        return self.info.ciphertext_overhead

    def ciphertext_size(self, plaintext_len: int) -> int:
        return plaintext_len + self.info.ciphertext_overhead

    # ---- operations -------------------------------------------------------------------

    @abstractmethod
    def generate_key_pair(self, rand: RandomSource) -> KeyPair:
        """A fresh encryption key pair from ``rand``."""

    @abstractmethod
    def signer_key_pair(self, rand: RandomSource) -> KeyPair:
        """A fresh key pair for signing kfrags, from ``rand``."""

    @abstractmethod
    def public_key(self, priv: bytes) -> bytes:
        """The public key of an encryption or signer private key."""

    @abstractmethod
    def encrypt(self, pub: bytes, plaintext: bytes, rand: RandomSource) -> tuple[bytes, bytes]:
        """``(capsule, ciphertext)`` for the holder of ``pub``'s private key (and its delegates)."""

    @abstractmethod
    def decrypt_original(self, priv: bytes, capsule: bytes, ciphertext: bytes) -> bytes:
        """Open a capsule made for ``priv``'s public key; ``CryptoError`` otherwise."""

    @abstractmethod
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
        """``shares`` kfrags delegating ``delegating_priv``'s capsules to ``receiving_pub``;
        any ``threshold`` of their cfrags open a capsule."""

    @abstractmethod
    def reencrypt(
        self,
        capsule: bytes,
        kfrag: bytes,
        *,
        signer_pub: bytes,
        delegating_pub: bytes,
        receiving_pub: bytes,
    ) -> bytes:
        """The proxy's step: verify ``kfrag`` against the three public keys, return a cfrag."""

    @abstractmethod
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
        """The receiver's step: verify every cfrag, combine ``threshold`` of them, open."""

    @staticmethod
    def _check_threshold(threshold: int, shares: int) -> None:
        if not 1 <= threshold <= shares:
            raise ValueError(f"need 1 <= threshold <= shares, got threshold={threshold}, shares={shares}")


# ---- real: umbral-pre -----------------------------------------------------------------------


def _load_umbral() -> Any:
    try:
        import umbral_pre  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise ImportError(
            f"the real PRE family needs the 'umbral-pre' package: pip install 'mlssim[{PRE_EXTRA}]' "
            "(or use get_pre('model'))"
        ) from exc
    return umbral_pre


class UmbralPRE(PRE):
    """Umbral via ``umbral-pre``; stateless, so one instance may be shared."""

    family = "real"

    __slots__ = ("info", "_u")

    def __init__(self) -> None:
        self._u = _load_umbral()
        self.info = UMBRAL_INFO

    def __repr__(self) -> str:
        return "UmbralPRE()"

    def _sk(self, priv: bytes) -> Any:
        try:
            return self._u.SecretKey.from_be_bytes(priv)
        except (ValueError, TypeError) as exc:
            raise CryptoError(f"Umbral: invalid secret key: {exc}") from exc

    def _pk(self, pub: bytes) -> Any:
        try:
            return self._u.PublicKey.from_compressed_bytes(pub)
        except (ValueError, TypeError) as exc:
            raise CryptoError(f"Umbral: invalid public key: {exc}") from exc

    def _capsule(self, capsule: bytes) -> Any:
        try:
            return self._u.Capsule.from_bytes(capsule)
        except (ValueError, TypeError) as exc:
            raise CryptoError(f"Umbral: invalid capsule: {exc}") from exc

    def _key_pair(self, rand: RandomSource, label: bytes) -> KeyPair:
        seed = rand.random_bytes(self._u.SecretKeyFactory.seed_size())
        sk = self._u.SecretKeyFactory.from_secure_randomness(seed).make_key(label)
        return KeyPair(bytes(sk.to_be_bytes()), bytes(sk.public_key().to_compressed_bytes()))

    def generate_key_pair(self, rand: RandomSource) -> KeyPair:
        return self._key_pair(rand, b"mlssim pre key")

    def signer_key_pair(self, rand: RandomSource) -> KeyPair:
        return self._key_pair(rand, b"mlssim pre signer")

    def public_key(self, priv: bytes) -> bytes:
        return bytes(self._sk(priv).public_key().to_compressed_bytes())

    def encrypt(self, pub: bytes, plaintext: bytes, rand: RandomSource) -> tuple[bytes, bytes]:
        """``rand`` is unused: ``umbral-pre`` draws the capsule's and the nonce's randomness itself."""
        capsule, ciphertext = self._u.encrypt(self._pk(pub), plaintext)
        return bytes(capsule), bytes(ciphertext)

    def decrypt_original(self, priv: bytes, capsule: bytes, ciphertext: bytes) -> bytes:
        try:
            return bytes(self._u.decrypt_original(self._sk(priv), self._capsule(capsule), ciphertext))
        except ValueError as exc:
            raise CryptoError(f"Umbral: decryption failed: {exc}") from exc

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
        """``rand`` is unused: ``umbral-pre`` draws the polynomial and the kfrag ids itself.
        Both the delegating and the receiving key are signed into every kfrag."""
        self._check_threshold(threshold, shares)
        signer = self._u.Signer(self._sk(signer_priv))
        kfrags = self._u.generate_kfrags(
            self._sk(delegating_priv), self._pk(receiving_pub), signer, threshold, shares, True, True
        )
        return [bytes(k) for k in kfrags]

    def reencrypt(
        self,
        capsule: bytes,
        kfrag: bytes,
        *,
        signer_pub: bytes,
        delegating_pub: bytes,
        receiving_pub: bytes,
    ) -> bytes:
        """Verifies the kfrag (``KeyFrag.verify``) before use; ``umbral-pre`` draws the
        cfrag's proof randomness itself."""
        try:
            verified = self._u.KeyFrag.from_bytes(kfrag).verify(
                self._pk(signer_pub), self._pk(delegating_pub), self._pk(receiving_pub)
            )
        except (ValueError, TypeError, self._u.VerificationError) as exc:
            raise CryptoError(f"Umbral: kfrag does not verify: {exc}") from exc
        return bytes(self._u.reencrypt(self._capsule(capsule), verified))

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
        receiving_sk = self._sk(receiving_priv)
        delegating_pk = self._pk(delegating_pub)
        signer_pk = self._pk(signer_pub)
        capsule_obj = self._capsule(capsule)
        verified = []
        for cfrag in cfrags:
            try:
                verified.append(
                    self._u.CapsuleFrag.from_bytes(cfrag).verify(
                        capsule_obj, signer_pk, delegating_pk, receiving_sk.public_key()
                    )
                )
            except (ValueError, TypeError, self._u.VerificationError) as exc:
                raise CryptoError(f"Umbral: cfrag does not verify: {exc}") from exc
        try:
            return bytes(
                self._u.decrypt_reencrypted(receiving_sk, delegating_pk, capsule_obj, verified, ciphertext)
            )
        except ValueError as exc:
            raise CryptoError(f"Umbral: decryption of re-encrypted capsule failed: {exc}") from exc


# ---- model ------------------------------------------------------------------------------------

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


def get_pre(family: str = "real") -> PRE:
    """The PRE scheme of ``family``: ``"real"`` (Umbral; needs the ``pre`` extra) or ``"model"``
    (a *new* instance each call: it holds the registries of one simulated world)."""
    if family == "real":
        return UmbralPRE()
    if family == "model":
        return ModelPRE()
    raise ValueError(f"unknown PRE family {family!r} (expected 'real' or 'model')")
