"""The interface every proxy re-encryption family implements, and the byte lengths it reports.

Written once so that the ``pre`` fan-out strategy and its store (``pre_store``) work with
either family (``pre_umbral``, ``pre_model``) and read sizes from :class:`PREInfo` without
running any cryptography. Like :class:`~mlssim.mls.crypto.suite.CipherSuite`, a :class:`PRE`
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
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from ..mls.crypto.suite import KeyPair
from ..mls.rand import RandomSource

__all__ = ["PRE", "PREInfo"]


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
