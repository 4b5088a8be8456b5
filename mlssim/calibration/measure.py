"""Measure what each counted primitive costs on this machine, for every real cipher suite.

Each primitive is timed through the real suite's own method, the one a ``CountingSuite``
counts, with ``time.perf_counter``; ``repeat`` samples are taken and the median kept, so one
descheduled sample on a shared machine does not move the result. Byte-counted primitives are
timed at three input sizes and a least-squares line gives ``per_call`` (intercept) and
``per_byte`` (slope), each clamped at ≥ 0 (``per_call`` at ≥ 1 ns) against noise.

**Cold caches.** The real suites keep parsed keys, public keys and HPKE info hashes in bounded
caches (a simulator speed trick below the counting line). A count means "the member did this
once", so every public-key operation is timed with those caches emptied first: the cost of a
member that has parsed nothing yet, an upper bound for one that keeps parsed keys. The
symmetric primitives have no such cache and are timed in batches of warm calls.

Costs that are not a suite's: ``decode`` (a top-level ``codec.decode``) is timed once, on an
opaque-carrying struct, and given to every suite. ``hpke_setup`` is not a method of the suite:
it is timed as ``hpke_export`` minus one ``kdf_expand``, which is how ``CountingSuite`` counts
an export. The real post-quantum ``kem_encap`` is pure Python here (``mls/crypto/mlkem.py``)
and costs milliseconds where native code takes tens of microseconds: calibrated as it runs
(``hardware.kem_cost: native`` prices it at published native numbers, ``native_pq.py``).

The DS's primitives (:func:`measure_ds`): ``copy`` is ``bytearray(data)`` (one memory copy),
``encode`` a ``codec.encode`` of an opaque-carrying struct (as ``decode``), both fitted over
three sizes; ``pre_reencrypt`` one re-encryption handed in by the caller (``mlssim calibrate``
uses ``assist.pre.reencrypt_bench``: Umbral when ``umbral-pre`` is installed, else the model
twin; the file names which). :func:`measure_group_ops`
times the elliptic-curve halves of the hybrid KEMs (keygen: a scalar times the base point from
a private scalar; dh: one shared secret) with ``cryptography``. Both can be added to an
existing file without re-measuring its suites (``mlssim calibrate --add-ds``).
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

from ..mls.codec import decode, encode
from ..mls.crypto import PQ_SUITES, SUPPORTED_SUITES, get_suite, suite_available
from ..mls.crypto.counting import BYTE_COUNTED, PRIMITIVES
from ..mls.crypto.suite import CipherSuite
from ..mls.messages.welcome import ExternalPub
from ..mls.rand import SeededRandom
from .model import FORMAT, GROUP_OPS, Calibration, DSCosts, Machine, PrimitiveCost, SuiteCosts

__all__ = [
    "PREBench",
    "real_suite_ids",
    "measure",
    "measure_ds",
    "measure_group_ops",
    "with_ds_costs",
    "machine_description",
    "SIZES",
]

#: input sizes (bytes) at which byte-counted primitives are timed; hpke_setup's input is the
#: HPKE ``info`` (an EncryptContext: a label and the GroupContext, 100–2000 bytes)
SIZES: dict[str, tuple[int, ...]] = {name: (64, 1024, 8192) for name in BYTE_COUNTED}
SIZES["hpke_setup"] = (32, 512, 2048)
#: the DS's byte-counted primitives: a control message up to a large commit's copy
SIZES["copy"] = (64, 8192, 131072)
SIZES["encode"] = (64, 1024, 8192)
#: a batch of warm calls lasts about this long (s), so timer resolution does not matter
_BATCH_SECONDS = 1e-3
_MIN_PER_CALL = 1e-9

Progress = Callable[[str], None]


def real_suite_ids() -> tuple[int, ...]:
    """Every suite the core ships with a real implementation here: RFC 9420 suites 1–7 and the
    post-quantum suites this ``cryptography`` build supports."""
    return tuple(s for s in SUPPORTED_SUITES + PQ_SUITES if suite_available(s, "real"))


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_description() -> Machine:
    """This machine, as a calibration records it."""
    from cryptography import __version__ as crypto_version
    from cryptography.hazmat.backends.openssl.backend import backend

    return Machine(
        platform=platform.platform(),
        architecture=platform.machine(),
        cpu_model=_cpu_model(),
        cpu_count=os.cpu_count() or 1,
        python=f"{platform.python_implementation()} {platform.python_version()}",
        cryptography=f"cryptography {crypto_version}, {backend.openssl_version_text()}",
    )


# ---- cold caches ---------------------------------------------------------------------------------


def _is_bounded_cache(v: object) -> bool:
    info = getattr(v, "cache_info", None)
    return callable(info) and hasattr(v, "cache_clear") and info().maxsize is not None


def _caches_of(root: object) -> list[Any]:
    """Every bounded ``lru_cache`` reachable from ``root`` through objects of the crypto
    package, and every module-level one there (unbounded caches are instance factories)."""
    found: dict[int, Any] = {}
    for name, mod in list(sys.modules.items()):
        if name.startswith("mlssim.mls.crypto"):
            for v in vars(mod).values():
                if _is_bounded_cache(v):
                    found[id(v)] = v
    seen: set[int] = set()
    todo: list[object] = [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        attrs = dict(getattr(obj, "__dict__", {}))
        for cls in type(obj).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                if hasattr(obj, slot):
                    attrs[slot] = getattr(obj, slot)
        for v in attrs.values():
            if _is_bounded_cache(v):
                found[id(v)] = v
            elif type(v).__module__.startswith("mlssim.mls.crypto"):
                todo.append(v)
    return list(found.values())


# ---- timing --------------------------------------------------------------------------------------


def _median_seconds(call: Callable[[], object], repeat: int, clear: Callable[[], None] | None) -> float:
    """Median seconds per call over ``repeat`` samples: one call after ``clear()`` each when
    given (cold), else a batch of warm calls lasting about ``_BATCH_SECONDS``."""
    call()  # first use: imports, lazily built tables
    batch = 1
    if clear is None:
        t0 = time.perf_counter()
        call()
        once = time.perf_counter() - t0
        batch = max(1, min(10_000, int(_BATCH_SECONDS / max(once, 1e-9))))
    samples = []
    for _ in range(repeat):
        if clear is not None:
            clear()
        t0 = time.perf_counter()
        for _ in range(batch):
            call()
        samples.append((time.perf_counter() - t0) / batch)
    return statistics.median(samples)


def _fit(points: Sequence[tuple[int, float]]) -> PrimitiveCost:
    """Least-squares line through (bytes, seconds): intercept per call, slope per byte."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    slope = max(0.0, sum((x - mx) * (y - my) for x, y in points) / sxx) if sxx else 0.0
    return PrimitiveCost(per_call=max(_MIN_PER_CALL, my - slope * mx), per_byte=slope)


class _SuiteBench:
    """The inputs and timed calls of one suite's primitives."""

    def __init__(self, suite: CipherSuite, repeat: int) -> None:
        self.s = suite
        self.repeat = repeat
        info = suite.info
        self.rand = SeededRandom(b"mlssim calibration", f"suite {info.suite_id}")
        self.nh = b"\x01" * info.hash_len
        self.key = b"\x02" * info.aead_key_len
        self.nonce = b"\x03" * info.aead_nonce_len
        self.kem = suite.kem_derive_key_pair(self.rand.random_bytes(info.kem_secret_len))
        self.ss, self.enc = suite.kem_encap(self.kem.pub, self.rand)
        self.sig = suite.signature_key_pair(self.rand)
        self.caches = _caches_of(suite)

    def clear(self) -> None:
        for c in self.caches:
            c.cache_clear()

    def time(self, call: Callable[[], object], cold: bool) -> float:
        return _median_seconds(call, self.repeat, self.clear if cold else None)

    def sized(
        self, name: str, make: Callable[[bytes], tuple[Callable[[], object], int]], cold: bool
    ) -> PrimitiveCost:
        """``make(data)`` gives the call on input ``data`` and the bytes a tally charges it."""
        points = []
        for size in SIZES[name]:
            call, charged = make(bytes(size))
            points.append((charged, self.time(call, cold)))
        return _fit(points)

    def flat(self, call: Callable[[], object], cold: bool) -> PrimitiveCost:
        return PrimitiveCost(per_call=max(_MIN_PER_CALL, self.time(call, cold)))

    def primitive(self, name: str) -> PrimitiveCost:
        s, rand, kem, sig = self.s, self.rand, self.kem, self.sig
        if name == "hash":
            return self.sized(name, lambda d: (lambda: s.hash(d), len(d)), cold=False)
        if name == "mac":
            return self.sized(name, lambda d: (lambda: s.mac(self.nh, d), len(d)), cold=False)
        if name == "kdf_extract":
            return self.flat(lambda: s.kdf_extract(self.nh, self.nh), cold=False)
        if name == "kdf_expand":
            return self.flat(lambda: s.kdf_expand(self.nh, bytes(32), len(self.nh)), cold=False)
        if name == "aead_seal":
            return self.sized(
                name, lambda d: (lambda: s.aead_seal(self.key, self.nonce, b"", d), len(d)), cold=False
            )
        if name == "aead_open":

            def opener(d: bytes) -> tuple[Callable[[], object], int]:
                ct = s.aead_seal(self.key, self.nonce, b"", d)
                return (lambda: s.aead_open(self.key, self.nonce, b"", ct)), len(ct)

            return self.sized(name, opener, cold=False)
        if name == "hpke_setup":  # an export is one key schedule plus one kdf_expand
            expand = self.primitive("kdf_expand").per_call
            fit = self.sized(
                name, lambda d: (lambda: s.hpke_export(self.ss, d, b"", len(self.nh)), len(d)), cold=True
            )
            return PrimitiveCost(per_call=max(_MIN_PER_CALL, fit.per_call - expand), per_byte=fit.per_byte)
        if name == "kem_encap":
            return self.flat(lambda: s.kem_encap(kem.pub, rand), cold=True)
        if name == "kem_decap":
            return self.flat(lambda: s.kem_decap(self.enc, kem.priv), cold=True)
        if name == "kem_derive_key_pair":
            ikm = rand.random_bytes(self.s.info.kem_secret_len)
            return self.flat(lambda: s.kem_derive_key_pair(ikm), cold=True)
        if name == "kem_public_key":
            return self.flat(lambda: s.kem_public_key(kem.priv), cold=True)
        if name == "sign":
            return self.sized(name, lambda d: (lambda: s.sign(sig.priv, d), len(d)), cold=True)
        if name == "verify":

            def verifier(d: bytes) -> tuple[Callable[[], object], int]:
                signature = s.sign(sig.priv, d)
                return (lambda: s.verify(sig.pub, d, signature)), len(d)

            return self.sized(name, verifier, cold=True)
        if name == "signature_key_pair":
            return self.flat(lambda: s.signature_key_pair(rand), cold=True)
        if name == "signature_public_key":
            return self.flat(lambda: s.signature_public_key(sig.priv), cold=True)
        raise ValueError(f"no measurement for primitive {name!r}")


def _decode_cost(repeat: int) -> PrimitiveCost:
    """``codec.decode`` of an opaque-carrying struct; the same for every suite."""
    points = []
    for size in SIZES["decode"]:
        data = encode(ExternalPub(external_pub=bytes(size)))
        points.append((len(data), _median_seconds(partial(decode, ExternalPub, data), repeat, None)))
    return _fit(points)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()


#: a PRE re-encryption ready to time: the scheme's name and one call (``assist.pre.reencrypt_bench``;
#: passed in, since ``assist/`` sits beside this package, not below it)
PREBench = tuple[str, Callable[[], object]]


def measure_ds(pre: PREBench, repeat: int = 31) -> DSCosts:
    """Time the DS's primitives (module docstring) on this machine; ``pre`` the re-encryption."""
    if repeat < 1:
        raise ValueError(f"repeat must be ≥ 1, got {repeat}")
    copy_points = []
    for size in SIZES["copy"]:
        data = bytes(size)
        copy_points.append((size, _median_seconds(partial(bytearray, data), repeat, None)))
    encode_points = []
    for size in SIZES["encode"]:
        struct = ExternalPub(external_pub=bytes(size))
        encode_points.append((len(encode(struct)), _median_seconds(partial(encode, struct), repeat, None)))
    scheme, reencrypt = pre
    return DSCosts(
        date=_now(),
        copy=_fit(copy_points),
        encode=_fit(encode_points),
        pre_reencrypt=PrimitiveCost(per_call=max(_MIN_PER_CALL, _median_seconds(reencrypt, repeat, None))),
        pre_scheme=scheme,
    )


def measure_group_ops(repeat: int = 31) -> dict[str, PrimitiveCost]:
    """Time X25519, P-256 and P-384 key generation from a private scalar and one DH."""
    from cryptography.hazmat.primitives.asymmetric import ec, x25519

    x_priv = x25519.X25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
    x_peer = x25519.X25519PrivateKey.from_private_bytes(bytes(range(2, 34))).public_key()
    calls: dict[str, Callable[[], object]] = {
        "x25519_keygen": lambda: x25519.X25519PrivateKey.from_private_bytes(bytes(range(1, 33))).public_key(),
        "x25519_dh": partial(x_priv.exchange, x_peer),
    }
    for name, curve in (("p256", ec.SECP256R1()), ("p384", ec.SECP384R1())):
        priv = ec.derive_private_key(12345, curve)
        peer = ec.derive_private_key(67890, curve).public_key()
        calls[f"{name}_keygen"] = partial(lambda c: ec.derive_private_key(12345, c).public_key(), curve)
        calls[f"{name}_dh"] = partial(priv.exchange, ec.ECDH(), peer)
    return {
        op: PrimitiveCost(per_call=max(_MIN_PER_CALL, _median_seconds(calls[op], repeat, None)))
        for op in GROUP_OPS
    }


def with_ds_costs(calibration: Calibration, pre: PREBench, repeat: int = 31) -> Calibration:
    """``calibration`` with the DS's primitives and the group operations measured here now
    (its suites' costs kept as they are); ValueError on another machine than the file's."""
    here = machine_description()
    if here != calibration.machine:
        raise ValueError(f"the file was measured on another machine: {calibration.machine} (here: {here})")
    return calibration.model_copy(
        update={"ds": measure_ds(pre, repeat), "group_ops": measure_group_ops(repeat)}
    )


def measure(
    suite_ids: Iterable[int] | None = None,
    repeat: int = 31,
    progress: Progress | None = None,
    pre: PREBench | None = None,
) -> Calibration:
    """Time every primitive of every suite in ``suite_ids`` (default: :func:`real_suite_ids`)
    on this machine; ``progress(label)`` is called after each primitive (a progress bar). With
    ``pre`` (a re-encryption to time) the DS's primitives and the curve operations too."""
    if repeat < 1:
        raise ValueError(f"repeat must be ≥ 1, got {repeat}")
    ids = tuple(real_suite_ids() if suite_ids is None else suite_ids)
    unknown = [s for s in ids if not suite_available(s, "real")]
    if unknown:
        raise ValueError(f"no real implementation of cipher suite(s) {unknown} here")
    decode_cost = _decode_cost(repeat)
    suites: dict[int, SuiteCosts] = {}
    for suite_id in ids:
        suite = get_suite(suite_id, "real")
        bench = _SuiteBench(suite, repeat)
        costs: dict[str, PrimitiveCost] = {}
        for name in PRIMITIVES:
            costs[name] = decode_cost if name == "decode" else bench.primitive(name)
            if progress is not None:
                progress(f"{suite.info.name} {name}")
        suites[suite_id] = SuiteCosts(name=suite.info.name, costs=costs)
    return Calibration(
        format=FORMAT,
        machine=machine_description(),
        date=_now(),
        repeat=repeat,
        suites=suites,
        ds=measure_ds(pre, repeat) if pre is not None else None,
        group_ops=measure_group_ops(repeat) if pre is not None else None,
    )
