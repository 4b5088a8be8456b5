"""Cipher suites: the real RFC 9420 suites 1–7 and their fast ``model`` twins."""

from __future__ import annotations

from .suite import CipherSuite, KeyPair, SuiteInfo

__all__ = ["CipherSuite", "KeyPair", "SuiteInfo", "get_suite", "SUPPORTED_SUITES", "suite_available", "suite_ids"]

SUPPORTED_SUITES = (1, 2, 3, 4, 5, 6, 7)


def suite_ids() -> tuple[int, ...]:
    """Every suite id a scenario may name, in any family."""
    return SUPPORTED_SUITES


def suite_available(suite_id: int, family: str) -> bool:
    """Whether ``get_suite(suite_id, family)`` exists (some suites have only a model twin)."""
    return suite_id in SUPPORTED_SUITES and family in ("real", "model")


def get_suite(suite_id: int, family: str = "real") -> CipherSuite:
    """The suite with IANA id ``suite_id``.

    ``family="real"`` returns a shared stateless instance; ``family="model"`` returns a
    *new* model instance each call, because a model suite holds the key registry of one
    simulated world (see ``model.py``).
    """
    if family == "real":
        from .real import real_suite

        return real_suite(suite_id)
    if family == "model":
        from .model import ModelSuite

        return ModelSuite(suite_id)
    raise ValueError(f"unknown cipher suite family {family!r} (expected 'real' or 'model')")
