"""ML-KEM encapsulation (FIPS 203) in pure Python, so that it can take injected randomness.

``cryptography`` 48 offers ML-KEM-768/1024 key generation from a 64-byte seed and
decapsulation, but its ``encapsulate()`` draws the message ``m`` from the operating system.
The simulator must replay a run from its seed (``hpke.py`` does the same for DHKEM), so this
module implements the deterministic half FIPS 203 calls ``ML-KEM.Encaps_internal(ek, m)``
(Algorithm 17, with K-PKE.Encrypt, Algorithm 14) on the standard library's SHA-3/SHAKE.
Key generation and decapsulation stay with ``cryptography``; the tests check every
encapsulation made here against its decapsulation and against published vectors.

Only the public-key side lives here: it handles no long-term secret, so the lack of
constant-time arithmetic does not matter in a simulator. It costs a few milliseconds per
call (``benchmarks/crypto.py``), against tens of microseconds native; the parsed public key
(``t̂`` and the matrix ``Â``, the bulk of the work) is cached per encapsulation key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

from ..errors import CryptoError

__all__ = ["MLKEMParams", "ML_KEM_768", "ML_KEM_1024", "encaps_internal", "check_encapsulation_key"]

Q = 3329
_N_INV = 3303  # 128^-1 mod q (the scaling of NTT^-1, FIPS 203 Algorithm 10)


def _bitrev7(i: int) -> int:
    return int(f"{i:07b}"[::-1], 2)


#: ζ^BitRev7(i) mod q (FIPS 203 §4.3, the NTT's twiddle factors)
_ZETAS: tuple[int, ...] = tuple(pow(17, _bitrev7(i), Q) for i in range(128))
#: ζ^(2·BitRev7(i)+1) mod q (FIPS 203 §4.3.1, the base-case multiplication constants)
_GAMMAS: tuple[int, ...] = tuple(pow(17, 2 * _bitrev7(i) + 1, Q) for i in range(128))
#: SamplePolyCBD_2 of one byte: its two coefficients (FIPS 203 Algorithm 8, η = 2)
_CBD2: tuple[tuple[int, int], ...] = tuple(
    (
        ((b & 1) + ((b >> 1) & 1) - ((b >> 2) & 1) - ((b >> 3) & 1)) % Q,
        (((b >> 4) & 1) + ((b >> 5) & 1) - ((b >> 6) & 1) - ((b >> 7) & 1)) % Q,
    )
    for b in range(256)
)
_PARSED_KEY_CACHE = 64  # a parsed ML-KEM-1024 key holds 20 polynomials, about 0.2 MB


@dataclass(frozen=True, slots=True, kw_only=True)
class MLKEMParams:
    """One ML-KEM parameter set (FIPS 203 §8, Table 2); sizes in bytes."""

    name: str
    k: int
    du: int
    dv: int

    @property
    def ek_len(self) -> int:
        return 384 * self.k + 32

    @property
    def ct_len(self) -> int:
        return 32 * (self.du * self.k + self.dv)


# η1 = η2 = 2 for both (only ML-KEM-512 has η1 = 3, and no MLS suite uses it)
ML_KEM_768 = MLKEMParams(name="ML-KEM-768", k=3, du=10, dv=4)
ML_KEM_1024 = MLKEMParams(name="ML-KEM-1024", k=4, du=11, dv=5)


def _cg_layouts() -> list[tuple[int, ...]]:
    """The layouts of a constant-geometry NTT: before stage s, position p holds coefficient layouts[s][p].

    Every stage of FIPS 203's NTT (Algorithm 9) pairs coefficients a and a + len. Reordered so
    that each stage pairs positions p and p + 128 and writes its results to 2p and 2p + 1, all
    seven stages become whole-list operations (three list comprehensions each) instead of 127
    short blocks: the same arithmetic, three to four times faster in Python.
    """
    layouts = [tuple(range(256))]
    for _ in range(7):
        cur = layouts[-1]
        nxt = [0] * 256
        nxt[0::2] = cur[:128]
        nxt[1::2] = cur[128:]
        layouts.append(tuple(nxt))
    return layouts


_LAYOUTS = _cg_layouts()
#: twiddle of each butterfly of forward stage s (length 128 >> s), by position
_FWD_Z: tuple[tuple[int, ...], ...] = tuple(
    tuple(_ZETAS[(1 << s) + a // (256 >> s)] for a in _LAYOUTS[s][:128]) for s in range(7)
)
#: twiddle of each butterfly of inverse stage s (Algorithm 10 runs s = 6 … 0), by position
_INV_Z: tuple[tuple[int, ...], ...] = tuple(
    tuple(_ZETAS[(2 << s) - 1 - a // (256 >> s)] for a in _LAYOUTS[s][:128]) for s in range(7)
)
#: the last inverse stage (s = 0) also applies the scaling by 128^-1
_INV_Z0_SCALED: tuple[int, ...] = tuple(z * _N_INV % Q for z in _INV_Z[0])
_POS = {c: p for p, c in enumerate(_LAYOUTS[7])}
_EVEN_POS = tuple(_POS[2 * i] for i in range(128))
_ODD_POS = tuple(_POS[2 * i + 1] for i in range(128))
#: where each position of the NTT-domain layout finds its value in ``even + odd``
_SPLIT_IDX = tuple(c // 2 + 128 * (c & 1) for c in _LAYOUTS[7])


def _ntt(f: list[int]) -> tuple[list[int], list[int]]:
    """NTT (Algorithm 9) -> (even, odd) coefficients of f̂, the form MultiplyNTTs pairs up.

    Sums are left unreduced (Python integers do not overflow) and reduced at the end.
    """
    for z in _FWD_Z:
        lo = f[:128]
        t = [zz * x % Q for zz, x in zip(z, f[128:], strict=True)]
        f = [0] * 256
        f[0::2] = [a + b for a, b in zip(lo, t, strict=True)]
        f[1::2] = [a - b for a, b in zip(lo, t, strict=True)]
    return [f[p] % Q for p in _EVEN_POS], [f[p] % Q for p in _ODD_POS]


def _intt(even: list[int], odd: list[int]) -> list[int]:
    """NTT^-1 (Algorithm 10) of f̂ given as (even, odd) coefficients; natural order out."""
    both = even + odd
    f = [both[i] for i in _SPLIT_IDX]
    for s in range(6, 0, -1):
        z = _INV_Z[s]
        a, b = f[0::2], f[1::2]
        f = [x + y for x, y in zip(a, b, strict=True)] + [
            zz * (y - x) % Q for zz, x, y in zip(z, a, b, strict=True)
        ]
    a, b = f[0::2], f[1::2]
    return [(x + y) * _N_INV % Q for x, y in zip(a, b, strict=True)] + [
        zz * (y - x) % Q for zz, x, y in zip(_INV_Z0_SCALED, a, b, strict=True)
    ]


def _sample_ntt(seed: bytes) -> list[int]:
    """SampleNTT (Algorithm 7): rejection-sample 256 coefficients < q from SHAKE128(seed)."""
    n = 672  # four SHAKE128 blocks: 448 candidates, ≈364 accepted; more only if unlucky
    while True:
        buf = hashlib.shake_128(seed).digest(n)
        b0, b1, b2 = buf[0::3], buf[1::3], buf[2::3]
        d1 = [x | ((y & 15) << 8) for x, y in zip(b0, b1, strict=True)]
        d2 = [(y >> 4) | (z << 4) for y, z in zip(b1, b2, strict=True)]
        coeffs = [d for pair in zip(d1, d2, strict=True) for d in pair if d < Q]
        if len(coeffs) >= 256:
            return coeffs[:256]
        n *= 2  # pragma: no cover - probability below 2^-100


def _cbd2(prf_out: bytes) -> list[int]:
    """SamplePolyCBD_2 (Algorithm 8) of 128 PRF bytes."""
    return [c for b in prf_out for c in _CBD2[b]]


def _byte_encode(coeffs: list[int], d: int) -> bytes:
    """ByteEncode_d (Algorithm 5): 256 d-bit integers, little-endian bit order."""
    acc = 0
    for c in reversed(coeffs):
        acc = (acc << d) | c
    return acc.to_bytes(32 * d, "little")


def _byte_decode12(data: bytes) -> list[int]:
    """ByteDecode_12 (Algorithm 6) of 384 bytes, without the reduction mod q (checked by the caller)."""
    acc = int.from_bytes(data, "little")
    return [(acc >> (12 * i)) & 0xFFF for i in range(256)]


def _compress(coeffs: list[int], d: int) -> list[int]:
    """Compress_d (§4.2.1): round(2^d / q · x) mod 2^d, in integers."""
    mask = (1 << d) - 1
    return [(((x << (d + 1)) + Q) // (2 * Q)) & mask for x in coeffs]


@dataclass(frozen=True, slots=True)
class _ParsedKey:
    """An encapsulation key as K-PKE.Encrypt uses it: t̂ split by parity, Âᵀ rows, H(ek)."""

    t_hat: tuple[tuple[list[int], list[int]], ...]  # (even, odd) coefficients of each t̂[j]
    a_t: tuple[tuple[tuple[list[int], list[int]], ...], ...]  # a_t[i][j] = Â[j][i], split
    ek_hash: bytes  # H(ek)


def check_encapsulation_key(params: MLKEMParams, ek: bytes) -> list[list[int]]:
    """FIPS 203 §7.2 input checks (type and modulus) of ``ek``; returns t̂. CryptoError if invalid."""
    if len(ek) != params.ek_len:
        raise CryptoError(f"{params.name} encapsulation key must be {params.ek_len} bytes, got {len(ek)}")
    t_hat = [_byte_decode12(ek[384 * j : 384 * (j + 1)]) for j in range(params.k)]
    if any(c >= Q for poly in t_hat for c in poly):
        raise CryptoError(f"{params.name} encapsulation key fails the modulus check")
    return t_hat


def _parse_key(params: MLKEMParams, ek: bytes) -> _ParsedKey:
    k = params.k
    t_hat = check_encapsulation_key(params, ek)
    rho = ek[384 * k :]
    # Â[i][j] = SampleNTT(ρ ‖ j ‖ i); encryption multiplies by Âᵀ, so keep a_t[i][j] = Â[j][i]
    a = [[_sample_ntt(rho + bytes((j, i))) for j in range(k)] for i in range(k)]
    a_t = tuple(tuple((a[j][i][0::2], a[j][i][1::2]) for j in range(k)) for i in range(k))
    return _ParsedKey(
        t_hat=tuple((t[0::2], t[1::2]) for t in t_hat),
        a_t=a_t,
        ek_hash=hashlib.sha3_256(ek).digest(),
    )


@lru_cache(maxsize=_PARSED_KEY_CACHE)
def _parsed_key(params: MLKEMParams, ek: bytes) -> _ParsedKey:
    return _parse_key(params, ek)


def _inner(
    row: tuple[tuple[list[int], list[int]], ...], y_split: list[tuple[list[int], list[int], list[int]]]
) -> tuple[list[int], list[int]]:
    """Σ_j row[j] ∘ ŷ[j] (MultiplyNTTs, Algorithm 11, summed) as (even, odd), reduced."""
    c0 = [0] * 128
    c1 = [0] * 128
    for (a0, a1), (b0, b1, b1g) in zip(row, y_split, strict=True):
        c0 = [c + x0 * y0 + x1 * y1g for c, x0, x1, y0, y1g in zip(c0, a0, a1, b0, b1g, strict=True)]
        c1 = [c + x0 * y1 + x1 * y0 for c, x0, x1, y0, y1 in zip(c1, a0, a1, b0, b1, strict=True)]
    return [c % Q for c in c0], [c % Q for c in c1]


def encaps_internal(params: MLKEMParams, ek: bytes, m: bytes) -> tuple[bytes, bytes]:
    """ML-KEM.Encaps_internal(ek, m) -> (K, c) (FIPS 203 Algorithm 17); ``m`` is 32 bytes.

    Raises CryptoError for an encapsulation key that fails the §7.2 checks.
    """
    if len(m) != 32:
        raise CryptoError("ML-KEM encapsulation randomness must be 32 bytes")
    key = _parsed_key(params, ek)
    g = hashlib.sha3_512(m + key.ek_hash).digest()
    shared, r = g[:32], g[32:]
    k = params.k
    # K-PKE.Encrypt(ek, m, r), Algorithm 14; PRF_2(r, N) = SHAKE256(r ‖ N, 128)
    prf = [hashlib.shake_256(r + bytes((n,))).digest(128) for n in range(2 * k + 1)]
    y_split = []
    for i in range(k):
        y0, y1 = _ntt(_cbd2(prf[i]))
        y_split.append((y0, y1, [b * gamma % Q for b, gamma in zip(y1, _GAMMAS, strict=True)]))
    e1 = [_cbd2(prf[k + i]) for i in range(k)]
    e2 = _cbd2(prf[2 * k])
    c1 = b"".join(
        _byte_encode(
            _compress(
                [(a + b) % Q for a, b in zip(_intt(*_inner(key.a_t[i], y_split)), e1[i], strict=True)],
                params.du,
            ),
            params.du,
        )
        for i in range(k)
    )
    mu = [1665 * ((m[j >> 3] >> (j & 7)) & 1) for j in range(256)]  # Decompress_1(ByteDecode_1(m))
    v = [(a + b + c) % Q for a, b, c in zip(_intt(*_inner(key.t_hat, y_split)), e2, mu, strict=True)]
    c2 = _byte_encode(_compress(v, params.dv), params.dv)
    return shared, c1 + c2
