"""The post-quantum HPKE KEMs of draft-ietf-hpke-pq-03 on ``cryptography`` primitives.

* ML-KEM-768 (``0x0041``) and ML-KEM-1024 (``0x0042``), FIPS 203: the private key is the
  64-byte seed ``d ‖ z``, the public key the encapsulation key, ``enc`` the ciphertext, and the
  shared secret ML-KEM's ``K`` (hpke-pq §3).
* The PQ/T hybrids of draft-irtf-cfrg-concrete-hybrid-kems-02 (hpke-pq §4), all of one shape
  (the CG framework of draft-irtf-cfrg-hybrid-kems): MLKEM768-X25519 (``0x647a``, also called X-Wing),
  MLKEM768-P256 (``0x0050``) and MLKEM1024-P384 (``0x0051``). The private key is a 32-byte
  seed, expanded by SHAKE256 into an ML-KEM seed and a group scalar; the public key is
  ``ek_PQ ‖ ek_T``, ``enc`` is ``ct_PQ ‖ ct_T``, and the shared secret is
  ``SHA3-256(ss_PQ ‖ ss_T ‖ ct_T ‖ ek_T ‖ label)``.

DeriveKeyPair is ``SHAKE256.LabeledDerive(ikm, "DeriveKeyPair", "", Nsk)`` for all five.

Where the randomness comes from. ``cryptography`` 48 gives ML-KEM key pairs from a seed and
decapsulation, but its ``encapsulate()`` (and its HPKE ``Suite``) draws from the operating
system. So encapsulation is ``Encaps_internal(ek, m)`` from ``mlkem.py`` (pure Python, FIPS 203)
with ``m`` and the group's ephemeral scalar read from the injected
:class:`~mlssim.mls.rand.RandomSource` — the ``EncapsDerand`` of the hybrid-KEM drafts — and a
seeded run replays to the byte, as with the DHKEM suites. Decapsulation and all group
arithmetic run in ``cryptography``. KEM 0x0050 is not in ``cryptography``'s HPKE at all; it is
built here from the same parts (ML-KEM-768, P-256 ECDH) as 0x0051.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache, lru_cache
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import ec, mlkem, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ..errors import CryptoError
from ..rand import RandomSource
from .kem import CURVE_ORDERS, Kem
from .mlkem import ML_KEM_768, ML_KEM_1024, MLKEMParams, encaps_internal

__all__ = ["PQ_KEM_IDS", "MLKem", "HybridKem", "labeled_derive", "pq_kem"]

#: the KEM ids of draft-ietf-hpke-pq that MLS suites use (ML-KEM-512, 0x0040, is not)
PQ_KEM_IDS = frozenset({0x0041, 0x0042, 0x0050, 0x0051, 0x647A})
_KEY_CACHE_SIZE = 1 << 12


class _MLKEMPrivateKey(Protocol):
    def decapsulate(self, ciphertext: bytes) -> bytes: ...
    def public_key(self) -> _MLKEMPublicKey: ...


class _MLKEMPublicKey(Protocol):
    def public_bytes_raw(self) -> bytes: ...


_FROM_SEED: dict[str, Callable[[bytes], _MLKEMPrivateKey]] = {
    "ML-KEM-768": mlkem.MLKEM768PrivateKey.from_seed_bytes,
    "ML-KEM-1024": mlkem.MLKEM1024PrivateKey.from_seed_bytes,
}


def labeled_derive(kem_id: int, ikm: bytes, label: bytes, context: bytes, length: int) -> bytes:
    """SHAKE256.LabeledDerive (draft-ietf-hpke-hpke-02, hpke-pq-03 §5) with suite_id "KEM" ‖ kem_id."""
    labeled = (
        ikm
        + b"HPKE-v1KEM"
        + kem_id.to_bytes(2, "big")
        + len(label).to_bytes(2, "big")
        + label
        + length.to_bytes(2, "big")
        + context
    )
    return hashlib.shake_256(labeled).digest(length)


def _mlkem_private_key(params: MLKEMParams, seed: bytes) -> _MLKEMPrivateKey:
    try:
        return _FROM_SEED[params.name](seed)
    except ValueError as exc:
        raise CryptoError(f"{params.name} private key seed rejected: {exc}") from exc


class MLKem(Kem):
    """ML-KEM as an HPKE KEM (hpke-pq §3): Nsk = 64 (the seed d ‖ z), Nsecret = 32."""

    n_secret = 32
    n_sk = 64

    def __init__(self, kem_id: int, params: MLKEMParams) -> None:
        self.kem_id = kem_id
        self.params = params
        self.n_pk = params.ek_len
        self.n_enc = params.ct_len
        self._priv = lru_cache(maxsize=_KEY_CACHE_SIZE)(self._parse_priv)
        self._pub = lru_cache(maxsize=_KEY_CACHE_SIZE)(self._compute_public_key)

    def _parse_priv(self, skm: bytes) -> _MLKEMPrivateKey:
        if len(skm) != self.n_sk:
            raise CryptoError(f"{self.params.name} private key must be a 64-byte seed, got {len(skm)}")
        return _mlkem_private_key(self.params, skm)

    def _compute_public_key(self, skm: bytes) -> bytes:
        return self._priv(skm).public_key().public_bytes_raw()

    def derive_key_pair(self, ikm: bytes) -> tuple[bytes, bytes]:
        seed = labeled_derive(self.kem_id, ikm, b"DeriveKeyPair", b"", self.n_sk)
        return seed, self._pub(seed)

    def public_key(self, skm: bytes) -> bytes:
        return self._pub(skm)

    def encap(self, pkrm: bytes, rand: RandomSource) -> tuple[bytes, bytes]:
        """ML-KEM.Encaps with ``m`` from ``rand``; CryptoError if ``pkrm`` fails FIPS 203 §7.2."""
        return encaps_internal(self.params, pkrm, rand.random_bytes(32))

    def decap(self, enc: bytes, skrm: bytes) -> bytes:
        if len(enc) != self.n_enc:
            raise CryptoError(f"{self.params.name} ciphertext must be {self.n_enc} bytes, got {len(enc)}")
        return self._priv(skrm).decapsulate(enc)


class _Group:
    """The traditional half of a hybrid (concrete-hybrid-kems §3): RandomScalar, Exp(G, ·),
    and ElementToSharedSecret(Exp(element, scalar)) for the sender and for the recipient.

    Parsed keys are cached only where they repeat: the recipient's element on the sender's
    side, the recipient's own scalar on its side; ephemeral values are never cached.
    """

    name: str
    n_elem: int  # Group.Nelem: an encoded element (ek_T, ct_T)
    n_seed: int  # Group.Nseed: the seed bytes RandomScalar consumes

    def random_scalar(self, seed: bytes) -> bytes:
        raise NotImplementedError

    def public(self, scalar: bytes) -> bytes:
        """Exp(G, scalar), encoded."""
        raise NotImplementedError

    def exchange_encap(self, sk_e: bytes, ek_t: bytes) -> tuple[bytes, bytes]:
        """Sender: ``(ct_T, ss_T)`` for an ephemeral scalar and the recipient's element."""
        raise NotImplementedError

    def exchange_decap(self, dk_t: bytes, ct_t: bytes) -> bytes:
        """Recipient: ``ss_T`` from its own scalar and the sender's ``ct_T``."""
        raise NotImplementedError


class _X25519Group(_Group):
    """Curve25519 (RFC 7748): RandomScalar and ElementToSharedSecret are the identity."""

    name = "X25519"
    n_elem = 32
    n_seed = 32

    def __init__(self) -> None:
        self._static_priv = lru_cache(maxsize=_KEY_CACHE_SIZE)(x25519.X25519PrivateKey.from_private_bytes)
        self._static_pub = lru_cache(maxsize=_KEY_CACHE_SIZE)(self._parse_pub)

    @staticmethod
    def _parse_pub(element: bytes) -> x25519.X25519PublicKey:
        if len(element) != 32:
            raise CryptoError(f"X25519 element must be 32 bytes, got {len(element)}")
        return x25519.X25519PublicKey.from_public_bytes(element)

    def random_scalar(self, seed: bytes) -> bytes:
        return seed

    def public(self, scalar: bytes) -> bytes:
        return x25519.X25519PrivateKey.from_private_bytes(scalar).public_key().public_bytes_raw()

    @staticmethod
    def _exchange(sk: x25519.X25519PrivateKey, pk: x25519.X25519PublicKey) -> bytes:
        try:
            return sk.exchange(pk)
        except ValueError as exc:  # RFC 7748 §6.1: all-zero output (low-order point)
            raise CryptoError("X25519 shared secret is all zero") from exc

    def exchange_encap(self, sk_e: bytes, ek_t: bytes) -> tuple[bytes, bytes]:
        sk = x25519.X25519PrivateKey.from_private_bytes(sk_e)
        return sk.public_key().public_bytes_raw(), self._exchange(sk, self._static_pub(ek_t))

    def exchange_decap(self, dk_t: bytes, ct_t: bytes) -> bytes:
        return self._exchange(self._static_priv(dk_t), self._parse_pub(ct_t))


class _NistGroup(_Group):
    """P-256 / P-384: uncompressed points, big-endian scalars by rejection sampling
    (concrete-hybrid-kems: Nscalar-byte chunks of the seed until one is in [1, n-1]),
    ElementToSharedSecret = the x-coordinate (what ECDH returns)."""

    def __init__(self, curve: ec.EllipticCurve, n_scalar: int, n_seed: int) -> None:
        self.name = curve.name
        self._curve = curve
        self._order = CURVE_ORDERS[curve.name]
        self.n_scalar = n_scalar
        self.n_seed = n_seed
        self.n_elem = 1 + 2 * n_scalar
        self._ecdh = ec.ECDH()
        self._static_priv = lru_cache(maxsize=_KEY_CACHE_SIZE)(self._parse_priv)
        self._static_pub = lru_cache(maxsize=_KEY_CACHE_SIZE)(self._parse_pub)

    def _parse_priv(self, scalar: bytes) -> ec.EllipticCurvePrivateKey:
        return ec.derive_private_key(int.from_bytes(scalar, "big"), self._curve)

    def _parse_pub(self, element: bytes) -> ec.EllipticCurvePublicKey:
        if len(element) != self.n_elem or element[0] != 0x04:
            raise CryptoError(f"{self.name} element is not an uncompressed point")
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(self._curve, element)
        except ValueError as exc:
            raise CryptoError(f"{self.name} element is not on the curve") from exc

    def _encode(self, pk: ec.EllipticCurvePublicKey) -> bytes:
        return pk.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)

    def random_scalar(self, seed: bytes) -> bytes:
        for start in range(0, len(seed) - self.n_scalar + 1, self.n_scalar):
            candidate = seed[start : start + self.n_scalar]
            if 0 < int.from_bytes(candidate, "big") < self._order:
                return candidate
        raise CryptoError(f"{self.name} RandomScalar: rejection sampling failed")  # pragma: no cover

    def public(self, scalar: bytes) -> bytes:
        return self._encode(self._parse_priv(scalar).public_key())

    def exchange_encap(self, sk_e: bytes, ek_t: bytes) -> tuple[bytes, bytes]:
        sk = self._parse_priv(sk_e)
        return self._encode(sk.public_key()), sk.exchange(self._ecdh, self._static_pub(ek_t))

    def exchange_decap(self, dk_t: bytes, ct_t: bytes) -> bytes:
        return self._static_priv(dk_t).exchange(self._ecdh, self._parse_pub(ct_t))


class HybridKem(Kem):
    """A PQ/T hybrid KEM of concrete-hybrid-kems-02 as an HPKE KEM (hpke-pq §4)."""

    n_secret = 32
    n_sk = 32

    def __init__(self, kem_id: int, params: MLKEMParams, group: _Group, label: bytes) -> None:
        self.kem_id = kem_id
        self.params = params
        self.group = group
        self.label = label
        self.n_pk = params.ek_len + group.n_elem
        self.n_enc = params.ct_len + group.n_elem
        self._expanded = lru_cache(maxsize=_KEY_CACHE_SIZE)(self._expand_key)

    def _expand_key(self, seed: bytes) -> tuple[_MLKEMPrivateKey, bytes, bytes]:
        """expandKey(seed) -> (ML-KEM private key, dk_T, ek_PQ ‖ ek_T)."""
        if len(seed) != self.n_sk:
            raise CryptoError(f"hybrid KEM private key must be a 32-byte seed, got {len(seed)}")
        full = hashlib.shake_256(seed).digest(64 + self.group.n_seed)
        pq = _mlkem_private_key(self.params, full[:64])
        dk_t = self.group.random_scalar(full[64:])
        return pq, dk_t, pq.public_key().public_bytes_raw() + self.group.public(dk_t)

    def _combine(self, ss_pq: bytes, ss_t: bytes, ct_t: bytes, ek_t: bytes) -> bytes:
        return hashlib.sha3_256(ss_pq + ss_t + ct_t + ek_t + self.label).digest()

    def derive_key_pair(self, ikm: bytes) -> tuple[bytes, bytes]:
        seed = labeled_derive(self.kem_id, ikm, b"DeriveKeyPair", b"", self.n_sk)
        return seed, self._expanded(seed)[2]

    def public_key(self, skm: bytes) -> bytes:
        return self._expanded(skm)[2]

    def encap(self, pkrm: bytes, rand: RandomSource) -> tuple[bytes, bytes]:
        """EncapsDerand(ek, randomness) with Nrandom = 32 + Group.Nseed bytes from ``rand``."""
        if len(pkrm) != self.n_pk:
            raise CryptoError(f"hybrid public key must be {self.n_pk} bytes, got {len(pkrm)}")
        n = self.params.ek_len
        ek_pq, ek_t = pkrm[:n], pkrm[n:]
        randomness = rand.random_bytes(32 + self.group.n_seed)
        ss_pq, ct_pq = encaps_internal(self.params, ek_pq, randomness[:32])
        ct_t, ss_t = self.group.exchange_encap(self.group.random_scalar(randomness[32:]), ek_t)
        return self._combine(ss_pq, ss_t, ct_t, ek_t), ct_pq + ct_t

    def decap(self, enc: bytes, skrm: bytes) -> bytes:
        if len(enc) != self.n_enc:
            raise CryptoError(f"hybrid ciphertext must be {self.n_enc} bytes, got {len(enc)}")
        pq, dk_t, pk = self._expanded(skrm)
        n = self.params.ct_len
        ct_pq, ct_t = enc[:n], enc[n:]
        ss_t = self.group.exchange_decap(dk_t, ct_t)
        return self._combine(pq.decapsulate(ct_pq), ss_t, ct_t, pk[self.params.ek_len :])


@cache
def pq_kem(kem_id: int) -> Kem:
    """The (stateless apart from its caches) PQ KEM with id ``kem_id`` (one of :data:`PQ_KEM_IDS`)."""
    if kem_id == 0x0041:
        return MLKem(0x0041, ML_KEM_768)
    if kem_id == 0x0042:
        return MLKem(0x0042, ML_KEM_1024)
    if kem_id == 0x647A:
        return HybridKem(0x647A, ML_KEM_768, _X25519Group(), b"\\.//^\\")
    if kem_id == 0x0050:
        return HybridKem(0x0050, ML_KEM_768, _NistGroup(ec.SECP256R1(), 32, 128), b"MLKEM768-P256")
    if kem_id == 0x0051:
        return HybridKem(0x0051, ML_KEM_1024, _NistGroup(ec.SECP384R1(), 48, 48), b"MLKEM1024-P384")
    raise CryptoError(f"unsupported KEM 0x{kem_id:04x}")
