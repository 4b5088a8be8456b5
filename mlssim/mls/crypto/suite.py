"""The cipher-suite interface and the labeled functions of RFC 9420 §5.

A :class:`CipherSuite` exposes a handful of primitives (hash, HMAC, HKDF, AEAD, KEM with
HPKE base mode, signatures). Everything MLS builds on them — ExpandWithLabel,
DeriveSecret, DeriveTreeSecret, RefHash, SignWithLabel/VerifyWithLabel,
EncryptWithLabel/DecryptWithLabel — is implemented once here, so the *real* suites
(``real.py``) and the *model* suites (``model.py``) differ only in their primitives.

Keys cross this interface as serialized bytes (``SerializePublicKey`` /
``SerializePrivateKey`` of RFC 9180 for HPKE, raw or uncompressed encodings for
signature keys, as in the interop test vectors), so holding the private-key bytes is
exactly what lets a caller open a ciphertext or sign, in both families.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from ..codec import Writer, opaque_prefix
from ..rand import RandomSource

__all__ = ["CipherSuite", "SuiteInfo", "KeyPair"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SuiteInfo:
    """Identifiers and sizes of one suite (RFC 9420 §17.1, RFC 9180 §7)."""

    suite_id: int
    name: str
    kem_id: int
    kdf_id: int
    aead_id: int
    hash_len: int  # Nh of the KDF and of the hash
    aead_key_len: int  # Nk
    aead_nonce_len: int  # Nn
    kem_secret_len: int  # Nsecret
    kem_enc_len: int  # Nenc
    kem_pk_len: int  # Npk
    kem_sk_len: int  # Nsk
    sig_pk_len: int
    sig_len: int  # typical encoded signature length (ECDSA DER varies by a byte or two)


@dataclass(frozen=True, slots=True)
class KeyPair:
    priv: bytes
    pub: bytes


class CipherSuite(ABC):
    """One MLS cipher suite; subclasses supply the primitives."""

    info: SuiteInfo
    #: "real" or "model"
    family: str

    @property
    def suite_id(self) -> int:
        return self.info.suite_id

    # ---- primitives -------------------------------------------------------------------

    @abstractmethod
    def hash(self, data: bytes) -> bytes: ...

    @abstractmethod
    def mac(self, key: bytes, data: bytes) -> bytes:
        """HMAC with the suite's hash (RFC 9420 §5.1: MAC)."""

    @abstractmethod
    def kdf_extract(self, salt: bytes, ikm: bytes) -> bytes: ...

    @abstractmethod
    def kdf_expand(self, prk: bytes, info: bytes, length: int) -> bytes: ...

    @abstractmethod
    def aead_seal(self, key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes: ...

    @abstractmethod
    def aead_open(self, key: bytes, nonce: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        """Raises :class:`~mlssim.mls.errors.CryptoError` when the tag does not verify."""

    @abstractmethod
    def kem_derive_key_pair(self, ikm: bytes) -> KeyPair:
        """RFC 9180 DeriveKeyPair: the same ``ikm`` always gives the same pair."""

    @abstractmethod
    def kem_public_key(self, priv: bytes) -> bytes:
        """The serialized public key belonging to a serialized private key."""

    @abstractmethod
    def kem_encap(self, pub: bytes, rand: RandomSource) -> tuple[bytes, bytes]:
        """RFC 9180 Encap(pkR) -> ``(shared_secret, enc)``; the ephemeral key from ``rand``."""

    @abstractmethod
    def kem_decap(self, enc: bytes, priv: bytes) -> bytes:
        """RFC 9180 Decap(enc, skR) -> shared_secret; CryptoError on a malformed ``enc``."""

    @abstractmethod
    def hpke_export(self, shared_secret: bytes, info: bytes, exporter_context: bytes, length: int) -> bytes:
        """Export from the base-mode HPKE context of ``shared_secret`` and ``info`` (RFC 9180 §5.3)."""

    @abstractmethod
    def hpke_seal(
        self, pub: bytes, info: bytes, aad: bytes, plaintext: bytes, rand: RandomSource
    ) -> tuple[bytes, bytes]:
        """RFC 9180 SealBase; returns ``(enc, ciphertext)``."""

    @abstractmethod
    def hpke_open(self, priv: bytes, enc: bytes, info: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        """RFC 9180 OpenBase; raises ``CryptoError`` on a wrong key or a bad tag."""

    @abstractmethod
    def signature_key_pair(self, rand: RandomSource) -> KeyPair: ...

    @abstractmethod
    def signature_public_key(self, priv: bytes) -> bytes: ...

    @abstractmethod
    def sign(self, priv: bytes, message: bytes) -> bytes: ...

    @abstractmethod
    def verify(self, pub: bytes, message: bytes, signature: bytes) -> bool:
        """False (never an exception) for a bad signature or malformed key."""

    # ---- derived operations -----------------------------------------------------------

    def hpke_export_sender(
        self, pub: bytes, info: bytes, exporter_context: bytes, length: int, rand: RandomSource
    ) -> tuple[bytes, bytes]:
        """SetupBaseS(pkR, info) then Export: ``(enc, exported)`` (used by §8.3 external init)."""
        shared_secret, enc = self.kem_encap(pub, rand)
        return enc, self.hpke_export(shared_secret, info, exporter_context, length)

    def hpke_export_receiver(
        self, priv: bytes, enc: bytes, info: bytes, exporter_context: bytes, length: int
    ) -> bytes:
        """SetupBaseR(enc, skR, info) then Export."""
        return self.hpke_export(self.kem_decap(enc, priv), info, exporter_context, length)

    def kem_generate_key_pair(self, rand: RandomSource) -> KeyPair:
        """GenerateKeyPair as DeriveKeyPair of fresh injected randomness."""
        return self.kem_derive_key_pair(rand.random_bytes(self.info.kem_sk_len))

    def expand_with_label(self, secret: bytes, label: bytes | str, context: bytes, length: int) -> bytes:
        """RFC 9420 §5.1 ExpandWithLabel; ``label`` without the "MLS 1.0 " prefix."""
        # KDFLabel = uint16 length || opaque label<V> || opaque context<V>; the first two are
        # constant per (label, length), and this is the key schedule's hottest call.
        head = _KDF_LABEL_HEADS.get((label, length))
        if head is None:
            head = _kdf_label_head(label, length)
        return self.kdf_expand(secret, head + opaque_prefix(len(context)) + context, length)

    def derive_secret(self, secret: bytes, label: bytes | str) -> bytes:
        """RFC 9420 §5.1 DeriveSecret."""
        return self.expand_with_label(secret, label, b"", self.info.hash_len)

    def derive_tree_secret(self, secret: bytes, label: bytes | str, generation: int, length: int) -> bytes:
        """RFC 9420 §9 DeriveTreeSecret."""
        return self.expand_with_label(secret, label, generation.to_bytes(4, "big"), length)

    def ref_hash(self, label: bytes | str, value: bytes) -> bytes:
        """RFC 9420 §5.2 RefHash."""
        if isinstance(label, str):
            label = label.encode()
        w = Writer()
        w.push_opaque(label)
        w.push_opaque(value)
        return self.hash(w.data())

    def key_package_ref(self, key_package: bytes) -> bytes:
        """§5.2 MakeKeyPackageRef over the encoded KeyPackage."""
        return self.ref_hash(b"MLS 1.0 KeyPackage Reference", key_package)

    def proposal_ref(self, authenticated_content: bytes) -> bytes:
        """§5.2 MakeProposalRef over the encoded AuthenticatedContent."""
        return self.ref_hash(b"MLS 1.0 Proposal Reference", authenticated_content)

    @staticmethod
    def _sign_content(label: bytes | str, content: bytes) -> bytes:
        # SignContent = opaque label<V> || opaque content<V>, in one concatenation (the content
        # of a commit can be megabytes).
        if isinstance(label, str):
            label = label.encode()
        full = b"MLS 1.0 " + label
        return opaque_prefix(len(full)) + full + opaque_prefix(len(content)) + content

    def sign_with_label(self, priv: bytes, label: bytes | str, content: bytes) -> bytes:
        """§5.1.2 SignWithLabel."""
        return self.sign(priv, self._sign_content(label, content))

    def verify_with_label(self, pub: bytes, label: bytes | str, content: bytes, signature: bytes) -> bool:
        """§5.1.2 VerifyWithLabel."""
        return self.verify(pub, self._sign_content(label, content), signature)

    @staticmethod
    def encrypt_context(label: bytes | str, context: bytes) -> bytes:
        """§5.1.3 EncryptContext, the HPKE ``info`` of EncryptWithLabel: ``hpke_seal(pub,
        encrypt_context(label, context), b"", plaintext, rand)`` is EncryptWithLabel. Build it
        once to seal to many recipients under one large context (a Welcome, §12.4.3.1): the
        HPKE key schedule then hashes it once, not once per recipient."""
        return CipherSuite._encrypt_context(label, context)

    @staticmethod
    def _encrypt_context(label: bytes | str, context: bytes) -> bytes:
        if isinstance(label, str):
            label = label.encode()
        w = Writer()
        w.push_opaque(b"MLS 1.0 " + label)
        w.push_opaque(context)
        return w.data()

    def encrypt_with_label(
        self, pub: bytes, label: bytes | str, context: bytes, plaintext: bytes, rand: RandomSource
    ) -> tuple[bytes, bytes]:
        """§5.1.3 EncryptWithLabel; returns ``(kem_output, ciphertext)``."""
        return self.hpke_seal(pub, self._encrypt_context(label, context), b"", plaintext, rand)

    def decrypt_with_label(
        self, priv: bytes, label: bytes | str, context: bytes, kem_output: bytes, ciphertext: bytes
    ) -> bytes:
        """§5.1.3 DecryptWithLabel."""
        return self.hpke_open(priv, kem_output, self._encrypt_context(label, context), b"", ciphertext)


#: (label, length) -> the encoded ``uint16 length || opaque label<V>`` of a KDFLabel (§5.1)
_KDF_LABEL_HEADS: dict[tuple[bytes | str, int], bytes] = {}


def _kdf_label_head(label: bytes | str, length: int) -> bytes:
    raw = label.encode() if isinstance(label, str) else label
    full = b"MLS 1.0 " + raw
    head = length.to_bytes(2, "big") + opaque_prefix(len(full)) + full
    if len(_KDF_LABEL_HEADS) < 4096:  # labels are a small fixed set; bound it anyway
        _KDF_LABEL_HEADS[(label, length)] = head
    return head
