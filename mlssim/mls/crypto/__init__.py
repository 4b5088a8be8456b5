"""Cipher suites: the real RFC 9420 suites 1–7, the post-quantum suites of
draft-ietf-mls-pq-ciphersuites (private-use ids 0xF001–0xF00B, ``pq_suites.py``), and the fast
``model`` twins of all of them."""

from __future__ import annotations

from .model import ModelSuite
from .pq_suites import PQ_SUITE_TABLE, real_available
from .real import real_suite
from .suite import CipherSuite, KeyPair, SuiteInfo

__all__ = [
    "CipherSuite",
    "KeyPair",
    "SuiteInfo",
    "get_suite",
    "SUPPORTED_SUITES",
    "PQ_SUITES",
    "suite_available",
    "suite_ids",
]

#: RFC 9420 §17.1 (the official test vectors cover exactly these)
SUPPORTED_SUITES = (1, 2, 3, 4, 5, 6, 7)
#: draft-ietf-mls-pq-ciphersuites TBD1–TBD11 at private-use code points 0xF001–0xF00B
PQ_SUITES = tuple(s.code_point for s in PQ_SUITE_TABLE)


def suite_ids() -> tuple[int, ...]:
    """Every suite id a scenario may name, in any family."""
    return SUPPORTED_SUITES + PQ_SUITES


def suite_available(suite_id: int, family: str) -> bool:
    """Whether ``get_suite(suite_id, family)`` exists: every suite has a model twin; the real
    post-quantum suites need ML-KEM (and ML-DSA) in the ``cryptography`` backend."""
    if family == "model":
        return suite_id in SUPPORTED_SUITES or suite_id in PQ_SUITES
    if family == "real":
        return suite_id in SUPPORTED_SUITES or real_available(suite_id)
    return False


def get_suite(suite_id: int, family: str = "real") -> CipherSuite:
    """The suite with IANA id ``suite_id`` (or the private-use id of a post-quantum suite).

    ``family="real"`` returns a shared stateless instance; ``family="model"`` returns a
    *new* model instance each call, because a model suite holds the key registry of one
    simulated world (see ``model.py``).
    """
    if family == "real":
        return real_suite(suite_id)
    if family == "model":
        return ModelSuite(suite_id)
    raise ValueError(f"unknown cipher suite family {family!r} (expected 'real' or 'model')")
