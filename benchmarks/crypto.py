"""Microseconds per cipher-suite operation: real suites 1–7, the post-quantum suites
0xF001–0xF00B (draft-ietf-mls-pq-ciphersuites TBD1–11, docs/pq-suites.md) and their model twins.

Usage: ``python benchmarks/crypto.py [--quick] [--suites 1,0xf001,...]``. Fixed iteration counts timed with
``time.perf_counter``. Each (suite, operation) cell runs in ``ROUNDS`` equal slices, the
rounds interleaved across all suites so that load from elsewhere on a shared machine hits
every row alike; the fastest slice is reported (other load only ever adds time). Prints one
table of µs/op and one of how many times faster each model suite is than real suite 1 (the
suite of the fast tests and most runs). The AEAD and ExpandWithLabel columns run the same
code in both families, so their ratios (≈1) show how much noise is left.

Real post-quantum suites run fewer asymmetric iterations (ML-DSA signing and the pure-Python
ML-KEM encapsulation take milliseconds). Their "KEM encap" and "HPKE seal" encapsulate to one
recipient, whose parsed key (the matrix Â) is cached after the first call; encapsulating to a
fresh key costs about 1–2.5 ms more (``mlssim/mls/crypto/mlkem.py``). Real suites that the
installed ``cryptography`` cannot run (no ML-KEM/ML-DSA) are left out.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from mlssim.mls.crypto import PQ_SUITES, SUPPORTED_SUITES, CipherSuite, get_suite, suite_available
from mlssim.mls.rand import SeededRandom

ROUNDS = 5
OPS = (
    "kem_derive",
    "kem_encap",
    "kem_decap",
    "hpke_seal",
    "hpke_open",
    "sign",
    "verify",
    "aead_1k",
    "expand_label",
)
HEADERS = {
    "kem_derive": "DeriveKeyPair",
    "kem_encap": "KEM encap",
    "kem_decap": "KEM decap",
    "hpke_seal": "HPKE seal",
    "hpke_open": "HPKE open",
    "sign": "sign",
    "verify": "verify",
    "aead_1k": "AEAD 1KiB",
    "expand_label": "ExpandLabel",
}

Op = Callable[[int], object]


def suite_ops(cs: CipherSuite, n_asym: int, n_sym: int) -> dict[str, tuple[int, Op]]:
    """For each operation: (iterations, fn(i)); inputs prepared here, outside the timing."""
    rand = SeededRandom(1, f"bench-{cs.info.name}")
    info = cs.info
    ikms = [rand.random_bytes(info.hash_len) for _ in range(n_asym + 1)]
    recipient = cs.kem_derive_key_pair(rand.random_bytes(info.hash_len))
    hpke_info = b"MLS 1.0 UpdatePathNode" + bytes(100)  # a typical EncryptWithLabel context
    secret = rand.random_bytes(info.hash_len)  # a path secret
    sealed = [cs.hpke_seal(recipient.pub, hpke_info, b"", secret, rand) for _ in range(n_asym + 1)]
    encs = [cs.kem_encap(recipient.pub, rand)[1] for _ in range(n_asym + 1)]
    signer = cs.signature_key_pair(rand)
    message = rand.random_bytes(200)  # about a framed commit's to-be-signed content
    signature = cs.sign(signer.priv, message)
    assert cs.verify(signer.pub, message, signature)
    key = rand.random_bytes(info.aead_key_len)
    nonce = rand.random_bytes(info.aead_nonce_len)
    kib = bytes(1024)
    ctx = rand.random_bytes(info.hash_len)
    return {
        "kem_derive": (n_asym, lambda i: cs.kem_derive_key_pair(ikms[i])),
        "kem_encap": (n_asym, lambda i: cs.kem_encap(recipient.pub, rand)),
        "kem_decap": (n_asym, lambda i: cs.kem_decap(encs[i], recipient.priv)),
        "hpke_seal": (n_asym, lambda i: cs.hpke_seal(recipient.pub, hpke_info, b"", secret, rand)),
        "hpke_open": (
            n_asym,
            lambda i: cs.hpke_open(recipient.priv, sealed[i][0], hpke_info, b"", sealed[i][1]),
        ),
        "sign": (n_asym, lambda i: cs.sign(signer.priv, message)),
        "verify": (n_asym, lambda i: cs.verify(signer.pub, message, signature)),
        "aead_1k": (n_sym, lambda i: cs.aead_seal(key, nonce, b"", kib)),
        "expand_label": (n_sym, lambda i: cs.expand_with_label(secret, "key", ctx, info.aead_key_len)),
    }


def row_label(family: str, sid: int) -> str:
    return f"{family} {sid}" if sid in SUPPORTED_SUITES else f"{family} {sid:#06x}"


def run(
    n_real: int, n_model: int, n_sym: int, suites: tuple[int, ...] = SUPPORTED_SUITES + PQ_SUITES
) -> list[tuple[str, dict[str, float]]]:
    """µs per operation for every suite: min over ROUNDS interleaved slices."""
    plans: list[tuple[str, dict[str, tuple[int, Op]]]] = []
    for family, n_asym in (("real", n_real), ("model", n_model)):
        for sid in suites:
            if not suite_available(sid, family):
                continue
            n = max(ROUNDS, n_asym // 5) if family == "real" and sid in PQ_SUITES else n_asym
            ops = suite_ops(get_suite(sid, family), n, n_sym)
            for _, fn in ops.values():
                fn(0)  # warm-up: first-call setup and key caches
            plans.append((row_label(family, sid), ops))
    best = {label: dict.fromkeys(OPS, float("inf")) for label, _ in plans}
    for r in range(ROUNDS):
        for label, ops in plans:
            for op in OPS:
                n, fn = ops[op]
                per = max(1, n // ROUNDS)
                start = time.perf_counter()
                for i in range(r * per, (r + 1) * per):
                    fn(i)
                best[label][op] = min(best[label][op], (time.perf_counter() - start) / per * 1e6)
    return [(label, best[label]) for label, _ in plans]


def main() -> None:
    ap = argparse.ArgumentParser(description="µs per operation of the real and model cipher suites")
    ap.add_argument("--quick", action="store_true", help="fewer iterations (< 10 s for suites 1–7)")
    ap.add_argument(
        "--suites",
        default="",
        help="comma-separated suite ids (e.g. 1,0xf001); default: 1–7 and 0xF001–0xF00B",
    )
    args = ap.parse_args()
    n_real, n_model, n_sym = (25, 500, 500) if args.quick else (150, 5000, 5000)
    suites = SUPPORTED_SUITES + PQ_SUITES
    if args.suites:
        suites = tuple(int(x, 0) for x in args.suites.split(","))
    if 1 not in suites:
        suites = (1, *suites)  # the speed-up table's reference

    t0 = time.perf_counter()
    rows = run(n_real, n_model, n_sym, suites)
    width = 14
    lw = max(9, *(len(name) + 1 for name, _ in rows))
    head = f"{'suite':<{lw}}" + "".join(f"{HEADERS[op]:>{width}}" for op in OPS)
    print("µs per operation (min over interleaved rounds)")
    print(head)
    for name, r in rows:
        print(f"{name:<{lw}}" + "".join(f"{r[op]:>{width}.1f}" for op in OPS))

    base = dict(rows)["real 1"]
    print()
    print("speed-up vs real suite 1 (real suite 1 time / model time)")
    print(head)
    for name, r in rows:
        if name.startswith("model"):
            print(f"{name:<{lw}}" + "".join(f"{base[op] / r[op]:>{width}.1f}" for op in OPS))
    print(f"\ntotal wall time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
