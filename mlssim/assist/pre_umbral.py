"""The real PRE family: Umbral from the optional ``umbral-pre`` package, and its measured sizes.

Umbral on secp256k1 with XChaCha20-Poly1305 as the DEM. Key pairs are derived from injected
randomness (``SecretKeyFactory.from_secure_randomness``), but ``umbral-pre`` draws its own OS
randomness inside ``encrypt``, ``generate_kfrags`` and ``reencrypt`` and offers no way to inject
it: those outputs differ between runs. Their *sizes* do not (every object has a fixed length).
The package is imported on first use, so the model family works without it.

Sizes (``umbral-pre`` 0.11, each object's ``bytes()``, the library's MessagePack serialization
with a type header, which ``from_bytes`` reads back): capsule 105 B, kfrag 310 B, cfrag 381 B,
public keys 33 B (compressed points), private keys 32 B, ciphertext = plaintext + 40 B (24-byte
nonce, 16-byte tag). Without the headers (``to_bytes_simple``) a capsule is 98 B and a cfrag
359 B; kfrags have no such form.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..mls.crypto.suite import KeyPair
from ..mls.errors import CryptoError
from ..mls.rand import RandomSource
from .pre_scheme import PRE, PREInfo

__all__ = ["PRE_EXTRA", "UMBRAL_INFO", "UmbralPRE"]

#: the optional dependency group that installs ``umbral-pre``
PRE_EXTRA = "pre"


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
