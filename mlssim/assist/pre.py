"""Unidirectional proxy re-encryption (PRE): Umbral, and its ``model`` twin of exact sizes.

Not part of RFC 9420. This is the primitive under the ``pre`` fan-out strategy (a DS that
stores node secrets encrypted to a member and re-encrypts them to another on request,
``docs/bandwidth.md``). Two families implement one interface, :class:`PRE` (``pre_scheme``,
which lists the operations):

* :class:`UmbralPRE` (``"real"``, ``pre_umbral``): Umbral on secp256k1 with XChaCha20-Poly1305
  as the DEM, from the ``umbral-pre`` package (the optional ``pre`` extra). The library draws
  its own randomness, so outputs differ between runs; their sizes do not.
* :class:`ModelPRE` (``"model"``, ``pre_model``): no public-key maths; the same byte lengths for
  every object, derived from injected randomness only (a seed gives the same bytes), and fast.
  Key-gated like :class:`~mlssim.mls.crypto.model.ModelSuite` (see its docstring).

This module holds :func:`get_pre`, which picks a family by name, and re-exports every name.
"""

from __future__ import annotations

from .pre_model import ModelPRE
from .pre_scheme import PRE, PREInfo
from .pre_umbral import PRE_EXTRA, UMBRAL_INFO, UmbralPRE

__all__ = ["PRE", "PREInfo", "UMBRAL_INFO", "UmbralPRE", "ModelPRE", "get_pre", "PRE_EXTRA"]


def get_pre(family: str = "real") -> PRE:
    """The PRE scheme of ``family``: ``"real"`` (Umbral; needs the ``pre`` extra) or ``"model"``
    (a *new* instance each call: it holds the registries of one simulated world)."""
    if family == "real":
        return UmbralPRE()
    if family == "model":
        return ModelPRE()
    raise ValueError(f"unknown PRE family {family!r} (expected 'real' or 'model')")
