"""Signature schemes of the RFC 9420 suites (§5.1.2, §17.1) on ``cryptography``.

* Ed25519 (suites 1, 3) and Ed448 (4, 6), RFC 8032: raw 32/57-byte keys.
* ECDSA P-256/SHA-256 (2), P-521/SHA-512 (5), P-384/SHA-384 (7): the private key is the
  fixed-length big-endian scalar, the public key the uncompressed point, the signature DER
  (the encodings of the interop vectors).
* ML-DSA-44/65/87 (FIPS 204, pure mode, empty context; draft-ietf-tls-mldsa), for the
  post-quantum suites TBD9–11 (``pq_suites.py``): the private key is the 32-byte seed ξ, the
  public key and signature their FIPS 204 encodings.

Signing is reproducible for EdDSA (deterministic by design) and ECDSA (RFC 6979 deterministic
nonces), so a simulated run replays from its seed. ML-DSA is the exception: ``cryptography``
48 signs only in FIPS 204's default *hedged* mode, mixing 32 bytes of OS randomness into every
signature, and offers no deterministic variant or way to inject ``rnd``. ML-DSA signatures
therefore differ between runs of one seed (their length never does; both verify), and so do
the transcript hashes and secrets derived after them: a real TBD9–11 run replays its sizes
and its protocol events, not its bytes. Key generation draws only from the injected
:class:`~mlssim.mls.rand.RandomSource`, in every scheme. Parsed key objects are cached
(bounded LRU keyed by the key bytes) because one signing key signs many messages and one
verification key checks many.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, lru_cache
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, mldsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ..errors import CryptoError
from ..rand import RandomSource
from .hpke import CURVE_ORDERS
from .pq_suites import PQ_SIGNATURES, SIGNATURE_SIZES

__all__ = ["SignatureScheme", "scheme_for_suite", "signature_priv_len"]

_KEY_CACHE_SIZE = 1 << 14


class SignatureScheme:
    """One signature algorithm; keys and signatures cross as bytes."""

    name: str
    priv_len: int
    pub_len: int

    def __init__(self) -> None:
        self._pub_of: Callable[[bytes], bytes] = lru_cache(maxsize=_KEY_CACHE_SIZE)(self._compute_public_key)

    def key_pair(self, rand: RandomSource) -> tuple[bytes, bytes]:
        """A fresh ``(priv, pub)`` from injected randomness."""
        priv = self._random_private_key(rand)
        return priv, self._pub_of(priv)

    def public_key(self, priv: bytes) -> bytes:
        return self._pub_of(priv)

    def _random_private_key(self, rand: RandomSource) -> bytes:
        return rand.random_bytes(self.priv_len)

    def _compute_public_key(self, priv: bytes) -> bytes:
        raise NotImplementedError

    def sign(self, priv: bytes, message: bytes) -> bytes:
        raise NotImplementedError

    def verify(self, pub: bytes, message: bytes, signature: bytes) -> bool:
        raise NotImplementedError


class _Ed25519(SignatureScheme):
    """Ed25519 (RFC 8032 §5.1), pure mode."""

    name = "Ed25519"
    priv_len = 32
    pub_len = 32

    def __init__(self) -> None:
        super().__init__()
        self._priv = lru_cache(maxsize=_KEY_CACHE_SIZE)(self._parse_priv)
        self._pub = lru_cache(maxsize=_KEY_CACHE_SIZE)(self._parse_pub)

    def _parse_priv(self, priv: bytes) -> ed25519.Ed25519PrivateKey:
        if len(priv) != self.priv_len:
            raise CryptoError(f"Ed25519 private key must be 32 bytes, got {len(priv)}")
        return ed25519.Ed25519PrivateKey.from_private_bytes(priv)

    def _parse_pub(self, pub: bytes) -> ed25519.Ed25519PublicKey:
        if len(pub) != self.pub_len:
            raise CryptoError(f"Ed25519 public key must be 32 bytes, got {len(pub)}")
        return ed25519.Ed25519PublicKey.from_public_bytes(pub)

    def _compute_public_key(self, priv: bytes) -> bytes:
        return self._priv(priv).public_key().public_bytes_raw()

    def sign(self, priv: bytes, message: bytes) -> bytes:
        return self._priv(priv).sign(message)

    def verify(self, pub: bytes, message: bytes, signature: bytes) -> bool:
        try:
            self._pub(pub).verify(signature, message)
        except (InvalidSignature, CryptoError, ValueError):
            return False
        return True


class _Ed448(SignatureScheme):
    """Ed448 (RFC 8032 §5.2), pure mode with an empty context."""

    name = "Ed448"
    priv_len = 57
    pub_len = 57

    def __init__(self) -> None:
        super().__init__()
        self._priv = lru_cache(maxsize=_KEY_CACHE_SIZE)(self._parse_priv)
        self._pub = lru_cache(maxsize=_KEY_CACHE_SIZE)(self._parse_pub)

    def _parse_priv(self, priv: bytes) -> ed448.Ed448PrivateKey:
        if len(priv) != self.priv_len:
            raise CryptoError(f"Ed448 private key must be 57 bytes, got {len(priv)}")
        return ed448.Ed448PrivateKey.from_private_bytes(priv)

    def _parse_pub(self, pub: bytes) -> ed448.Ed448PublicKey:
        if len(pub) != self.pub_len:
            raise CryptoError(f"Ed448 public key must be 57 bytes, got {len(pub)}")
        return ed448.Ed448PublicKey.from_public_bytes(pub)

    def _compute_public_key(self, priv: bytes) -> bytes:
        return self._priv(priv).public_key().public_bytes_raw()

    def sign(self, priv: bytes, message: bytes) -> bytes:
        return self._priv(priv).sign(message)

    def verify(self, pub: bytes, message: bytes, signature: bytes) -> bool:
        try:
            self._pub(pub).verify(signature, message)
        except (InvalidSignature, CryptoError, ValueError):
            return False
        return True


class _Ecdsa(SignatureScheme):
    """ECDSA with RFC 6979 deterministic nonces; DER signatures (RFC 9420 §5.1.2)."""

    def __init__(self, curve: ec.EllipticCurve, hash_alg: hashes.HashAlgorithm, priv_len: int) -> None:
        self.name = f"ECDSA-{curve.name}"
        self.priv_len = priv_len
        self.pub_len = 1 + 2 * priv_len
        self._curve = curve
        self._order = CURVE_ORDERS[curve.name]
        # the top byte of a candidate scalar keeps only the bits the order can have
        self._top_mask = (1 << (self._order.bit_length() - 8 * (priv_len - 1))) - 1
        self._sign_alg = ec.ECDSA(hash_alg, deterministic_signing=True)
        self._verify_alg = ec.ECDSA(hash_alg)
        super().__init__()
        self._priv = lru_cache(maxsize=_KEY_CACHE_SIZE)(self._parse_priv)
        self._pub = lru_cache(maxsize=_KEY_CACHE_SIZE)(self._parse_pub)

    def _random_private_key(self, rand: RandomSource) -> bytes:
        """A scalar uniform in [1, n-1] by rejection sampling injected bytes."""
        while True:
            candidate = bytearray(rand.random_bytes(self.priv_len))
            candidate[0] &= self._top_mask
            if 0 < int.from_bytes(candidate, "big") < self._order:
                return bytes(candidate)

    def _parse_priv(self, priv: bytes) -> ec.EllipticCurvePrivateKey:
        """A big-endian scalar in [1, n-1]; shorter encodings (leading zeros dropped) are
        accepted, as the interop vectors hold a 65-byte P-521 key."""
        if not 0 < len(priv) <= self.priv_len:
            raise CryptoError(f"{self.name} private key must be {self.priv_len} bytes, got {len(priv)}")
        x = int.from_bytes(priv, "big")
        if not 0 < x < self._order:
            raise CryptoError(f"{self.name} private key out of range")
        return ec.derive_private_key(x, self._curve)

    def _parse_pub(self, pub: bytes) -> ec.EllipticCurvePublicKey:
        if len(pub) != self.pub_len or pub[0] != 0x04:
            raise CryptoError(f"{self.name} public key is not an uncompressed point")
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(self._curve, pub)
        except ValueError as exc:
            raise CryptoError(f"{self.name} public key is not on the curve") from exc

    def _compute_public_key(self, priv: bytes) -> bytes:
        return self._priv(priv).public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)

    def sign(self, priv: bytes, message: bytes) -> bytes:
        return self._priv(priv).sign(message, self._sign_alg)

    def verify(self, pub: bytes, message: bytes, signature: bytes) -> bool:
        try:
            self._pub(pub).verify(signature, message, self._verify_alg)
        except (InvalidSignature, CryptoError, ValueError):
            return False
        return True


class _MLDSAPrivateKey(Protocol):
    def sign(self, data: bytes, context: bytes | None = None) -> bytes: ...
    def public_key(self) -> _MLDSAPublicKey: ...


class _MLDSAPublicKey(Protocol):
    def verify(self, signature: bytes, data: bytes, context: bytes | None = None) -> None: ...
    def public_bytes_raw(self) -> bytes: ...


class _MLDSA(SignatureScheme):
    """ML-DSA (FIPS 204) in pure mode with an empty context; hedged signing (module docstring)."""

    priv_len = 32

    def __init__(
        self,
        name: str,
        pub_len: int,
        sig_len: int,
        from_seed: Callable[[bytes], _MLDSAPrivateKey],
        from_public: Callable[[bytes], _MLDSAPublicKey],
    ) -> None:
        self.name = name
        self.pub_len = pub_len
        self.sig_len = sig_len
        self._from_seed = from_seed
        self._from_public = from_public
        super().__init__()
        self._priv = lru_cache(maxsize=_KEY_CACHE_SIZE)(self._parse_priv)
        self._pub = lru_cache(maxsize=_KEY_CACHE_SIZE)(self._parse_pub)

    def _parse_priv(self, priv: bytes) -> _MLDSAPrivateKey:
        if len(priv) != self.priv_len:
            raise CryptoError(f"{self.name} private key must be a 32-byte seed, got {len(priv)}")
        return self._from_seed(priv)

    def _parse_pub(self, pub: bytes) -> _MLDSAPublicKey:
        if len(pub) != self.pub_len:
            raise CryptoError(f"{self.name} public key must be {self.pub_len} bytes, got {len(pub)}")
        try:
            return self._from_public(pub)
        except ValueError as exc:
            raise CryptoError(f"{self.name} public key rejected") from exc

    def _compute_public_key(self, priv: bytes) -> bytes:
        return self._priv(priv).public_key().public_bytes_raw()

    def sign(self, priv: bytes, message: bytes) -> bytes:
        return self._priv(priv).sign(message)

    def verify(self, pub: bytes, message: bytes, signature: bytes) -> bool:
        if len(signature) != self.sig_len:
            return False
        try:
            self._pub(pub).verify(signature, message)
        except (InvalidSignature, CryptoError, ValueError):
            return False
        return True


def _mldsa(name: str) -> SignatureScheme:
    _, pub_len, sig_len = SIGNATURE_SIZES[name]
    if name == "mldsa44":
        keys44 = (mldsa.MLDSA44PrivateKey.from_seed_bytes, mldsa.MLDSA44PublicKey.from_public_bytes)
        return _MLDSA("ML-DSA-44", pub_len, sig_len, *keys44)
    if name == "mldsa65":
        keys65 = (mldsa.MLDSA65PrivateKey.from_seed_bytes, mldsa.MLDSA65PublicKey.from_public_bytes)
        return _MLDSA("ML-DSA-65", pub_len, sig_len, *keys65)
    keys87 = (mldsa.MLDSA87PrivateKey.from_seed_bytes, mldsa.MLDSA87PublicKey.from_public_bytes)
    return _MLDSA("ML-DSA-87", pub_len, sig_len, *keys87)


@cache
def _scheme(name: str) -> SignatureScheme:
    if name == "ed25519":
        return _Ed25519()
    if name == "ed448":
        return _Ed448()
    if name == "p256":
        return _Ecdsa(ec.SECP256R1(), hashes.SHA256(), 32)
    if name == "p384":
        return _Ecdsa(ec.SECP384R1(), hashes.SHA384(), 48)
    if name.startswith("mldsa"):
        return _mldsa(name)
    return _Ecdsa(ec.SECP521R1(), hashes.SHA512(), 66)


# RFC 9420 §17.1: the signature scheme of each suite; the post-quantum suites from pq_suites.py
_SUITE_SCHEMES = {1: "ed25519", 2: "p256", 3: "ed25519", 4: "ed448", 5: "p521", 6: "ed448", 7: "p384"}
_SUITE_SCHEMES.update(PQ_SIGNATURES)
_PRIV_LENS = {"ed448": 57, "p521": 66} | {name: sizes[0] for name, sizes in SIGNATURE_SIZES.items()}


def signature_priv_len(suite_id: int) -> int:
    """Private-key length of the suite's signature scheme, without needing the scheme's
    backend (the model twins use it where ``cryptography`` lacks the algorithm)."""
    try:
        return _PRIV_LENS[_SUITE_SCHEMES[suite_id]]
    except KeyError:
        raise CryptoError(f"no signature scheme for cipher suite {suite_id}") from None


def scheme_for_suite(suite_id: int) -> SignatureScheme:
    """The (shared, stateless apart from its caches) signature scheme of an MLS suite."""
    try:
        return _scheme(_SUITE_SCHEMES[suite_id])
    except KeyError:
        raise CryptoError(f"no signature scheme for cipher suite {suite_id}") from None
