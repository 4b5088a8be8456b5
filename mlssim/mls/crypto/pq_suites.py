"""The post-quantum MLS cipher suites of draft-ietf-mls-pq-ciphersuites, at private-use code points.

The draft asks IANA for eleven values, TBD1 … TBD11. Until they are assigned, mlssim uses
values from the "Reserved for Private Use" range of the MLS Cipher Suites registry
(RFC 9420 §17.1: 0xF000–0xFFFF): **TBDn is 0xF000 + n**, i.e. 0xF001 … 0xF00B.
:data:`PQ_SUITE_TABLE` below is the only place that mapping lives; when IANA assigns the real
values, change ``code_point`` there (and any scenario that names a suite by number).

Each row is the draft's IANA table: KEM (draft-ietf-hpke-pq), KDF and AEAD (RFC 9180), the
hash of the suite name, and the TLS signature scheme. Sizes come from the standards:

* KEMs (hpke-pq §3–§4, FIPS 203): Nsecret, Nenc, Npk, Nsk in :data:`KEM_SIZES`.
* Signatures: Ed25519 (RFC 8032), ECDSA (the modal DER length, as for suites 2 and 7), and
  ML-DSA-44/65/87 (FIPS 204 Table 2: public keys 1312/1952/2592 B, signatures 2420/3309/4627 B,
  private keys as the 32-byte seed ξ) in :data:`SIGNATURE_SIZES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from cryptography.hazmat.backends.openssl.backend import backend

from .suite import SuiteInfo

__all__ = [
    "PQSuite",
    "PQ_SUITE_TABLE",
    "PQ_SUITE_INFOS",
    "PQ_SIGNATURES",
    "KEM_SIZES",
    "SIGNATURE_SIZES",
    "real_available",
]

#: KEM id -> (name, Nsecret, Nenc, Npk, Nsk); draft-ietf-hpke-pq-03 IANA tables
KEM_SIZES: dict[int, tuple[str, int, int, int, int]] = {
    0x0041: ("ML-KEM-768", 32, 1088, 1184, 64),
    0x0042: ("ML-KEM-1024", 32, 1568, 1568, 64),
    0x0050: ("MLKEM768-P256", 32, 1153, 1249, 32),
    0x0051: ("MLKEM1024-P384", 32, 1665, 1665, 32),
    0x647A: ("MLKEM768-X25519", 32, 1120, 1216, 32),
}
#: signature scheme -> (private key, public key, signature) lengths in bytes
SIGNATURE_SIZES: dict[str, tuple[int, int, int]] = {
    "ed25519": (32, 32, 64),
    "p256": (32, 65, 71),  # DER: 70–72 bytes, 71 is the modal length
    "p384": (48, 97, 103),  # DER: 102–104 bytes
    "mldsa44": (32, 1312, 2420),
    "mldsa65": (32, 1952, 3309),
    "mldsa87": (32, 2592, 4627),
}
#: RFC 9180 §7.2 / §7.3: KDF id -> Nh, AEAD id -> Nk
_KDF_NH = {0x0001: 32, 0x0002: 48}
_AEAD_NK = {0x0001: 16, 0x0002: 32, 0x0003: 32}


@dataclass(frozen=True, slots=True, kw_only=True)
class PQSuite:
    """One row of the draft's tables and the code point mlssim uses for it."""

    draft_value: str  # "TBD1" … "TBD11"
    code_point: int
    name: str
    kem_id: int
    kdf_id: int
    aead_id: int
    signature: str  # key of SIGNATURE_SIZES / signature.py's schemes

    @property
    def info(self) -> SuiteInfo:
        _, n_secret, n_enc, n_pk, n_sk = KEM_SIZES[self.kem_id]
        _, sig_pk, sig = SIGNATURE_SIZES[self.signature]
        return SuiteInfo(
            suite_id=self.code_point,
            name=self.name,
            kem_id=self.kem_id,
            kdf_id=self.kdf_id,
            aead_id=self.aead_id,
            hash_len=_KDF_NH[self.kdf_id],
            aead_key_len=_AEAD_NK[self.aead_id],
            aead_nonce_len=12,
            kem_secret_len=n_secret,
            kem_enc_len=n_enc,
            kem_pk_len=n_pk,
            kem_sk_len=n_sk,
            sig_pk_len=sig_pk,
            sig_len=sig,
        )


def _row(n: int, name: str, kem: int, kdf: int, aead: int, sig: str) -> PQSuite:
    return PQSuite(
        draft_value=f"TBD{n}",
        code_point=0xF000 + n,
        name=name,
        kem_id=kem,
        kdf_id=kdf,
        aead_id=aead,
        signature=sig,
    )


#: draft-ietf-mls-pq-ciphersuites, IANA Considerations, in the draft's order
PQ_SUITE_TABLE: tuple[PQSuite, ...] = (
    _row(1, "MLS_128_MLKEM768X25519_AES128GCM_SHA256_Ed25519", 0x647A, 0x0001, 0x0001, "ed25519"),
    _row(2, "MLS_128_MLKEM768X25519_AES256GCM_SHA384_Ed25519", 0x647A, 0x0002, 0x0002, "ed25519"),
    _row(3, "MLS_128_MLKEM768P256_AES128GCM_SHA256_P256", 0x0050, 0x0001, 0x0001, "p256"),
    _row(4, "MLS_128_MLKEM768P256_AES256GCM_SHA384_P256", 0x0050, 0x0002, 0x0002, "p256"),
    _row(5, "MLS_192_MLKEM1024P384_AES256GCM_SHA384_P384", 0x0051, 0x0002, 0x0002, "p384"),
    _row(6, "MLS_128_MLKEM768_AES256GCM_SHA384_Ed25519", 0x0041, 0x0002, 0x0002, "ed25519"),
    _row(7, "MLS_128_MLKEM768_AES256GCM_SHA384_P256", 0x0041, 0x0002, 0x0002, "p256"),
    _row(8, "MLS_192_MLKEM1024_AES256GCM_SHA384_P384", 0x0042, 0x0002, 0x0002, "p384"),
    _row(9, "MLS_128_MLKEM768X25519_CHACHA20POLY1305_SHA384_MLDSA44", 0x647A, 0x0002, 0x0003, "mldsa44"),
    _row(10, "MLS_192_MLKEM768_AES256GCM_SHA384_MLDSA65", 0x0041, 0x0002, 0x0002, "mldsa65"),
    _row(11, "MLS_256_MLKEM1024_AES256GCM_SHA384_MLDSA87", 0x0042, 0x0002, 0x0002, "mldsa87"),
)

PQ_SUITE_INFOS: dict[int, SuiteInfo] = {s.code_point: s.info for s in PQ_SUITE_TABLE}
#: suite id -> signature scheme name
PQ_SIGNATURES: dict[int, str] = {s.code_point: s.signature for s in PQ_SUITE_TABLE}


@cache
def real_available(suite_id: int) -> bool:
    """Whether the ``cryptography`` backend has what the real suite needs (ML-KEM; ML-DSA for
    TBD9–11): OpenSSL ≥ 3.5 or AWS-LC under ``cryptography``."""
    if suite_id not in PQ_SIGNATURES:
        return False
    if not backend.mlkem_supported():
        return False
    return not PQ_SIGNATURES[suite_id].startswith("mldsa") or bool(backend.mldsa_supported())
