"""HPKE base mode (RFC 9180) on ``cryptography`` primitives, with injected randomness.

We do not use ``cryptography``'s own HPKE: its Encap draws the ephemeral key from the
operating system, and the simulator must replay a run from its seed. Here Encap derives the
ephemeral pair as ``DeriveKeyPair(rand.random_bytes(Nsk))`` from the caller's
:class:`~mlssim.mls.rand.RandomSource` (RFC 9180 §4.1, §7.1.3), everything else follows the
RFC to the byte, and the RFC's Appendix A vectors reproduce exactly.

Layers:

* :class:`LabeledKdf` — LabeledExtract / LabeledExpand (RFC 9180 §4) for one ``suite_id``.
* :class:`Kem` — the KEM interface HPKE needs (DeriveKeyPair, public key of a private key,
  Encap with injected randomness, Decap), keys as their serialized bytes; defined in
  ``kem.py`` (with :data:`CURVE_ORDERS`), below both this module and ``pqkem.py``.
* :class:`DHKem` — DHKEM (§4.1) for X25519, X448, P-256, P-384 and P-521: DeriveKeyPair,
  Serialize/DeserializePublicKey and -PrivateKey (§7.1.1–§7.1.2), Encap, Decap. The ML-KEM
  and PQ/T hybrid KEMs of draft-ietf-hpke-pq are in ``pqkem.py``; :func:`kem_for` returns
  either.
* :class:`HpkeCore` — the base-mode KeySchedule (§5.1) and single-shot AEAD at sequence
  number 0, given a KEM shared secret; the model suites (``model.py``) reuse it with their
  stand-in KEM so that their ciphertexts have exactly the real lengths.
* :class:`Hpke` — SealBase / OpenBase (§6.1) = Kem + HpkeCore.

Parsed key objects are cached per KEM (bounded LRU keyed by the serialized bytes), so a key
used many times is parsed, and its public key computed, once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache, lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ..errors import CryptoError
from ..rand import RandomSource
from .kem import CURVE_ORDERS, Kem
from .pqkem import PQ_KEM_IDS, pq_kem

__all__ = [
    "LabeledKdf",
    "Kem",
    "DHKem",
    "HpkeCore",
    "Hpke",
    "KDF_HASHES",
    "hmac_function",
    "CURVE_ORDERS",
    "kem_for",
    "hpke_core_for",
    "hpke_for",
]

#: RFC 9180 §7.2: KDF id -> (hashlib name, Nh)
KDF_HASHES: dict[int, tuple[str, int]] = {
    0x0001: ("sha256", 32),
    0x0002: ("sha384", 48),
    0x0003: ("sha512", 64),
}

#: RFC 9180 §7.3: AEAD id -> (class, Nk, Nn)
_AEADS: dict[int, tuple[type[AESGCM] | type[ChaCha20Poly1305], int, int]] = {
    0x0001: (AESGCM, 16, 12),
    0x0002: (AESGCM, 32, 12),
    0x0003: (ChaCha20Poly1305, 32, 12),
}

_HASH_CTORS = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}
_TRANS_5C = bytes(x ^ 0x5C for x in range(256))
_TRANS_36 = bytes(x ^ 0x36 for x in range(256))


def hmac_function(hash_name: str) -> Callable[[bytes, bytes], bytes]:
    """HMAC (RFC 2104) with one SHA-2 hash, as a plain function of (key, message).

    Same output as ``hmac.digest``, about a third faster on the short inputs of HKDF, where
    the per-call setup of OpenSSL's HMAC dominates; HKDF is the simulator's hottest path.
    """
    new = _HASH_CTORS[hash_name]
    block = new().block_size

    def mac(key: bytes, msg: bytes) -> bytes:
        if len(key) > block:
            key = new(key).digest()
        key = key.ljust(block, b"\0")
        if len(msg) > 4096:  # a whole commit (membership tag): hash it in place, no copy
            inner = new(key.translate(_TRANS_36))
            inner.update(msg)
            return new(key.translate(_TRANS_5C) + inner.digest()).digest()
        return new(key.translate(_TRANS_5C) + new(key.translate(_TRANS_36) + msg).digest()).digest()

    return mac


_MODE_BASE = b"\x00"
#: bound on each parsed-key cache (objects are a few hundred bytes each)
_KEY_CACHE_SIZE = 1 << 14


class LabeledKdf:
    """HKDF with RFC 9180 §4 labels: ``"HPKE-v1" || suite_id || label``."""

    __slots__ = ("_mac", "_hlen", "_prefix", "_zero_salt")

    def __init__(self, kdf_id: int, suite_id: bytes) -> None:
        name, self._hlen = KDF_HASHES[kdf_id]
        self._mac = hmac_function(name)
        self._prefix = b"HPKE-v1" + suite_id
        self._zero_salt = bytes(self._hlen)

    @property
    def hash_len(self) -> int:
        return self._hlen

    def extract(self, salt: bytes, label: bytes, ikm: bytes) -> bytes:
        """LabeledExtract(salt, label, ikm); an empty salt is Nh zero bytes (RFC 5869)."""
        return self._mac(salt or self._zero_salt, self._prefix + label + ikm)

    def expand(self, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
        """LabeledExpand(prk, label, info, L) = Expand(prk, I2OSP(L, 2) || ..., L)."""
        labeled = length.to_bytes(2, "big") + self._prefix + label + info
        if length <= self._hlen:  # the common case: one HMAC block
            return self._mac(prk, labeled + b"\x01")[:length]
        n = -(-length // self._hlen)
        if n > 255:
            raise CryptoError(f"HKDF-Expand length {length} too large")
        out = b""
        t = b""
        for i in range(1, n + 1):
            t = self._mac(prk, t + labeled + bytes((i,)))
            out += t
        return out[:length]


class DHKem(Kem):
    """DHKEM(Group, KDF) of RFC 9180 §4.1; keys cross as serialized bytes.

    Subclasses provide the group: how a candidate private key comes out of ``dkp_prk``
    (§7.1.3), how keys are parsed, and the DH function itself.
    """

    kem_id: int
    n_secret: int
    n_enc: int
    n_pk: int
    n_sk: int

    def __init__(self) -> None:
        self.kdf = LabeledKdf(_KEM_KDF[self.kem_id], b"KEM" + self.kem_id.to_bytes(2, "big"))
        self._public_key_cached: Callable[[bytes], bytes] = lru_cache(maxsize=_KEY_CACHE_SIZE)(
            self._compute_public_key
        )

    # ---- group-specific -----------------------------------------------------------------

    def _sk_from_prk(self, dkp_prk: bytes) -> bytes:
        raise NotImplementedError

    def _compute_public_key(self, skm: bytes) -> bytes:
        raise NotImplementedError

    def _encap_dh(self, ephemeral_skm: bytes, pkrm: bytes) -> tuple[bytes, bytes]:
        """``(enc, DH(skE, pkR))`` for a fresh ephemeral private key."""
        raise NotImplementedError

    def _decap_dh(self, enc: bytes, skrm: bytes) -> bytes:
        """``DH(skR, pkE)``."""
        raise NotImplementedError

    # ---- RFC 9180 §4.1 ------------------------------------------------------------------

    def derive_key_pair(self, ikm: bytes) -> tuple[bytes, bytes]:
        """DeriveKeyPair(ikm) -> (SerializePrivateKey(sk), SerializePublicKey(pk)), §7.1.3."""
        skm = self._sk_from_prk(self.kdf.extract(b"", b"dkp_prk", ikm))
        return skm, self._public_key_cached(skm)

    def public_key(self, skm: bytes) -> bytes:
        """SerializePublicKey(pk(DeserializePrivateKey(skm)))."""
        return self._public_key_cached(skm)

    def extract_and_expand(self, dh: bytes, kem_context: bytes) -> bytes:
        eae_prk = self.kdf.extract(b"", b"eae_prk", dh)
        return self.kdf.expand(eae_prk, b"shared_secret", kem_context, self.n_secret)

    def encap(self, pkrm: bytes, rand: RandomSource) -> tuple[bytes, bytes]:
        """Encap(pkR) -> (shared_secret, enc); the ephemeral key comes from ``rand``."""
        ephemeral = self._sk_from_prk(self.kdf.extract(b"", b"dkp_prk", rand.random_bytes(self.n_sk)))
        enc, dh = self._encap_dh(ephemeral, pkrm)
        return self.extract_and_expand(dh, enc + pkrm), enc

    def decap(self, enc: bytes, skrm: bytes) -> bytes:
        """Decap(enc, skR) -> shared_secret."""
        dh = self._decap_dh(enc, skrm)
        return self.extract_and_expand(dh, enc + self._public_key_cached(skrm))


# RFC 9180 §7.1: the KDF inside each DHKEM
_KEM_KDF = {0x0010: 0x0001, 0x0011: 0x0002, 0x0012: 0x0003, 0x0020: 0x0001, 0x0021: 0x0003}


class _X25519Kem(DHKem):
    """DHKEM(X25519, HKDF-SHA256), RFC 9180 §7.1 (RFC 7748 keys, raw 32-byte encodings)."""

    kem_id = 0x0020
    n_secret = 32
    n_enc = n_pk = n_sk = 32

    def __init__(self) -> None:
        super().__init__()
        self._priv = lru_cache(maxsize=_KEY_CACHE_SIZE)(self._parse_priv)
        self._pub = lru_cache(maxsize=_KEY_CACHE_SIZE)(self._parse_pub)

    def _parse_priv(self, skm: bytes) -> x25519.X25519PrivateKey:
        if len(skm) != self.n_sk:
            raise CryptoError(f"X25519 private key must be {self.n_sk} bytes, got {len(skm)}")
        return x25519.X25519PrivateKey.from_private_bytes(skm)

    def _parse_pub(self, pkm: bytes) -> x25519.X25519PublicKey:
        if len(pkm) != self.n_pk:
            raise CryptoError(f"X25519 public key must be {self.n_pk} bytes, got {len(pkm)}")
        return x25519.X25519PublicKey.from_public_bytes(pkm)

    def _sk_from_prk(self, dkp_prk: bytes) -> bytes:
        return self.kdf.expand(dkp_prk, b"sk", b"", self.n_sk)

    def _compute_public_key(self, skm: bytes) -> bytes:
        return self._priv(skm).public_key().public_bytes_raw()

    def _encap_dh(self, ephemeral_skm: bytes, pkrm: bytes) -> tuple[bytes, bytes]:
        sk = x25519.X25519PrivateKey.from_private_bytes(ephemeral_skm)
        try:
            dh = sk.exchange(self._pub(pkrm))
        except ValueError as exc:  # RFC 7748 §6.1: all-zero output (low-order point)
            raise CryptoError("X25519 shared secret is all zero") from exc
        return sk.public_key().public_bytes_raw(), dh

    def _decap_dh(self, enc: bytes, skrm: bytes) -> bytes:
        pk = self._parse_pub(enc)  # each enc is fresh: do not fill the cache with it
        try:
            return self._priv(skrm).exchange(pk)
        except ValueError as exc:
            raise CryptoError("X25519 shared secret is all zero") from exc


class _X448Kem(DHKem):
    """DHKEM(X448, HKDF-SHA512), RFC 9180 §7.1 (RFC 7748 keys, raw 56-byte encodings)."""

    kem_id = 0x0021
    n_secret = 64
    n_enc = n_pk = n_sk = 56

    def __init__(self) -> None:
        super().__init__()
        self._priv = lru_cache(maxsize=_KEY_CACHE_SIZE)(self._parse_priv)
        self._pub = lru_cache(maxsize=_KEY_CACHE_SIZE)(self._parse_pub)

    def _parse_priv(self, skm: bytes) -> x448.X448PrivateKey:
        if len(skm) != self.n_sk:
            raise CryptoError(f"X448 private key must be {self.n_sk} bytes, got {len(skm)}")
        return x448.X448PrivateKey.from_private_bytes(skm)

    def _parse_pub(self, pkm: bytes) -> x448.X448PublicKey:
        if len(pkm) != self.n_pk:
            raise CryptoError(f"X448 public key must be {self.n_pk} bytes, got {len(pkm)}")
        return x448.X448PublicKey.from_public_bytes(pkm)

    def _sk_from_prk(self, dkp_prk: bytes) -> bytes:
        return self.kdf.expand(dkp_prk, b"sk", b"", self.n_sk)

    def _compute_public_key(self, skm: bytes) -> bytes:
        return self._priv(skm).public_key().public_bytes_raw()

    def _encap_dh(self, ephemeral_skm: bytes, pkrm: bytes) -> tuple[bytes, bytes]:
        sk = x448.X448PrivateKey.from_private_bytes(ephemeral_skm)
        try:
            dh = sk.exchange(self._pub(pkrm))
        except ValueError as exc:
            raise CryptoError("X448 shared secret is all zero") from exc
        return sk.public_key().public_bytes_raw(), dh

    def _decap_dh(self, enc: bytes, skrm: bytes) -> bytes:
        pk = self._parse_pub(enc)
        try:
            return self._priv(skrm).exchange(pk)
        except ValueError as exc:
            raise CryptoError("X448 shared secret is all zero") from exc


class _EcKem(DHKem):
    """DHKEM over a NIST curve (RFC 9180 §7.1): uncompressed points, Nsk-byte scalars.

    DeriveKeyPair rejection-samples the scalar (§7.1.3) with the curve's bitmask.
    """

    def __init__(
        self, kem_id: int, curve: ec.EllipticCurve, order: int, n_sk: int, n_secret: int, bitmask: int
    ) -> None:
        self.kem_id = kem_id
        self.n_sk = n_sk
        self.n_pk = self.n_enc = 1 + 2 * n_sk
        self.n_secret = n_secret
        self._curve = curve
        self._order = order
        self._bitmask = bitmask
        self._ecdh = ec.ECDH()
        super().__init__()
        self._priv = lru_cache(maxsize=_KEY_CACHE_SIZE)(self._parse_priv)
        self._pub = lru_cache(maxsize=_KEY_CACHE_SIZE)(self._parse_pub)

    def _parse_priv(self, skm: bytes) -> ec.EllipticCurvePrivateKey:
        """DeserializePrivateKey: a big-endian scalar in [1, n-1].

        We serialize at exactly Nsk bytes but accept fewer (leading zeros dropped), as some
        implementations write P-521 scalars that way.
        """
        if not 0 < len(skm) <= self.n_sk:
            raise CryptoError(f"{self._curve.name} private key must be {self.n_sk} bytes, got {len(skm)}")
        x = int.from_bytes(skm, "big")
        if not 0 < x < self._order:
            raise CryptoError(f"{self._curve.name} private key out of range")
        return ec.derive_private_key(x, self._curve)

    def _parse_pub(self, pkm: bytes) -> ec.EllipticCurvePublicKey:
        """DeserializePublicKey: an uncompressed point that must lie on the curve."""
        if len(pkm) != self.n_pk or pkm[0] != 0x04:
            raise CryptoError(f"{self._curve.name} public key is not an uncompressed point")
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(self._curve, pkm)
        except ValueError as exc:
            raise CryptoError(f"{self._curve.name} public key is not on the curve") from exc

    def _serialize_pub(self, pk: ec.EllipticCurvePublicKey) -> bytes:
        return pk.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)

    def _sk_from_prk(self, dkp_prk: bytes) -> bytes:
        for counter in range(256):
            candidate = bytearray(self.kdf.expand(dkp_prk, b"candidate", bytes((counter,)), self.n_sk))
            candidate[0] &= self._bitmask
            sk = int.from_bytes(candidate, "big")
            if 0 < sk < self._order:
                return bytes(candidate)
        raise CryptoError("DeriveKeyPairError: no valid scalar in 256 candidates")  # pragma: no cover

    def _compute_public_key(self, skm: bytes) -> bytes:
        return self._serialize_pub(self._priv(skm).public_key())

    def _encap_dh(self, ephemeral_skm: bytes, pkrm: bytes) -> tuple[bytes, bytes]:
        sk = ec.derive_private_key(int.from_bytes(ephemeral_skm, "big"), self._curve)
        try:
            dh = sk.exchange(self._ecdh, self._pub(pkrm))
        except ValueError as exc:
            raise CryptoError(f"{self._curve.name} key agreement failed") from exc
        return self._serialize_pub(sk.public_key()), dh

    def _decap_dh(self, enc: bytes, skrm: bytes) -> bytes:
        pk = self._parse_pub(enc)
        try:
            return self._priv(skrm).exchange(self._ecdh, pk)
        except ValueError as exc:
            raise CryptoError(f"{self._curve.name} key agreement failed") from exc


@cache
def kem_for(kem_id: int) -> Kem:
    """The (stateless apart from its caches) KEM with IANA id ``kem_id``: a DHKEM here, or an
    ML-KEM or PQ/T hybrid KEM of draft-ietf-hpke-pq (``pqkem.py``)."""
    if kem_id in PQ_KEM_IDS:
        return pq_kem(kem_id)
    if kem_id == 0x0020:
        return _X25519Kem()
    if kem_id == 0x0021:
        return _X448Kem()
    if kem_id == 0x0010:
        return _EcKem(0x0010, ec.SECP256R1(), CURVE_ORDERS["secp256r1"], n_sk=32, n_secret=32, bitmask=0xFF)
    if kem_id == 0x0011:
        return _EcKem(0x0011, ec.SECP384R1(), CURVE_ORDERS["secp384r1"], n_sk=48, n_secret=48, bitmask=0xFF)
    if kem_id == 0x0012:
        return _EcKem(0x0012, ec.SECP521R1(), CURVE_ORDERS["secp521r1"], n_sk=66, n_secret=64, bitmask=0x01)
    raise CryptoError(f"unsupported KEM 0x{kem_id:04x}")


class HpkeCore:
    """Base-mode KeySchedule (RFC 9180 §5.1) and one-shot AEAD at sequence 0 (§5.2, §6.1).

    ``psk_id_hash`` is a constant of the suite (empty PSK id) and ``info_hash`` is cached by
    ``info`` (MLS seals many path secrets under one EncryptWithLabel context), so a seal
    costs three HMACs plus the AEAD on top of the KEM.
    """

    __slots__ = ("kdf", "_aead_cls", "n_k", "n_n", "_ctx_prefix", "_info_hash")

    def __init__(self, kem_id: int, kdf_id: int, aead_id: int) -> None:
        suite_id = b"HPKE" + b"".join(i.to_bytes(2, "big") for i in (kem_id, kdf_id, aead_id))
        self.kdf = LabeledKdf(kdf_id, suite_id)
        self._aead_cls, self.n_k, self.n_n = _AEADS[aead_id]
        self._ctx_prefix = _MODE_BASE + self.kdf.extract(b"", b"psk_id_hash", b"")
        self._info_hash: Callable[[bytes], bytes] = lru_cache(maxsize=1024)(self._compute_info_hash)

    def _compute_info_hash(self, info: bytes) -> bytes:
        return self.kdf.extract(b"", b"info_hash", info)

    def key_schedule(self, shared_secret: bytes, info: bytes) -> tuple[bytes, bytes]:
        """KeySchedule(mode_base, shared_secret, info, psk="", psk_id="") -> (key, base_nonce)."""
        context = self._ctx_prefix + self._info_hash(info)
        secret = self.kdf.extract(shared_secret, b"secret", b"")
        return (
            self.kdf.expand(secret, b"key", context, self.n_k),
            self.kdf.expand(secret, b"base_nonce", context, self.n_n),
        )

    def export(self, shared_secret: bytes, info: bytes, exporter_context: bytes, length: int) -> bytes:
        """Context.Export(exporter_context, L) of a base-mode context (RFC 9180 §5.3)."""
        context = self._ctx_prefix + self._info_hash(info)
        secret = self.kdf.extract(shared_secret, b"secret", b"")
        exporter_secret = self.kdf.expand(secret, b"exp", context, self.kdf.hash_len)
        return self.kdf.expand(exporter_secret, b"sec", exporter_context, length)

    def seal(self, shared_secret: bytes, info: bytes, aad: bytes, plaintext: bytes) -> bytes:
        key, nonce = self.key_schedule(shared_secret, info)
        return self._aead_cls(key).encrypt(nonce, plaintext, aad)

    def open(self, shared_secret: bytes, info: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        key, nonce = self.key_schedule(shared_secret, info)
        try:
            return self._aead_cls(key).decrypt(nonce, ciphertext, aad)
        except (InvalidTag, ValueError) as exc:
            raise CryptoError("HPKE open failed: wrong key or corrupted ciphertext") from exc


class Hpke:
    """SealBase / OpenBase (RFC 9180 §6.1) of one (KEM, KDF, AEAD) triple."""

    __slots__ = ("kem", "core")

    def __init__(self, kem: Kem, core: HpkeCore) -> None:
        self.kem = kem
        self.core = core

    def seal(
        self, pkrm: bytes, info: bytes, aad: bytes, plaintext: bytes, rand: RandomSource
    ) -> tuple[bytes, bytes]:
        """SealBase(pkR, info, aad, pt) -> (enc, ct)."""
        shared_secret, enc = self.kem.encap(pkrm, rand)
        return enc, self.core.seal(shared_secret, info, aad, plaintext)

    def open(self, skrm: bytes, enc: bytes, info: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        """OpenBase(enc, skR, info, aad, ct) -> pt; CryptoError on a wrong key or bad tag."""
        return self.core.open(self.kem.decap(enc, skrm), info, aad, ciphertext)


@cache
def hpke_core_for(kem_id: int, kdf_id: int, aead_id: int) -> HpkeCore:
    return HpkeCore(kem_id, kdf_id, aead_id)


@cache
def hpke_for(kem_id: int, kdf_id: int, aead_id: int) -> Hpke:
    return Hpke(kem_for(kem_id), hpke_core_for(kem_id, kdf_id, aead_id))
