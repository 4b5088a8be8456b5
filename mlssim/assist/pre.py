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

from collections.abc import Callable
from functools import partial

from ..mls.rand import SeededRandom
from .pre_model import ModelPRE
from .pre_scheme import PRE, PREInfo
from .pre_umbral import PRE_EXTRA, UMBRAL_INFO, UmbralPRE

__all__ = [
    "PRE",
    "PREInfo",
    "UMBRAL_INFO",
    "UmbralPRE",
    "ModelPRE",
    "get_pre",
    "PRE_EXTRA",
    "reencrypt_bench",
]


def get_pre(family: str = "real") -> PRE:
    """The PRE scheme of ``family``: ``"real"`` (Umbral; needs the ``pre`` extra) or ``"model"``
    (a *new* instance each call: it holds the registries of one simulated world)."""
    if family == "real":
        return UmbralPRE()
    if family == "model":
        return ModelPRE()
    raise ValueError(f"unknown PRE family {family!r} (expected 'real' or 'model')")


def reencrypt_bench() -> tuple[str, Callable[[], bytes]]:
    """One re-encryption ready to time (``mlssim calibrate``): the real scheme (Umbral) when
    ``umbral-pre`` is installed, else the model twin, and the scheme's name."""
    try:
        import umbral_pre  # noqa: F401
    except ImportError:
        pre = get_pre("model")
    else:
        pre = get_pre("real")
    rand = SeededRandom(b"mlssim calibration", "pre")
    alice, bob, signer = pre.generate_key_pair(rand), pre.generate_key_pair(rand), pre.signer_key_pair(rand)
    capsule, _ = pre.encrypt(alice.pub, bytes(32), rand)
    (kfrag,) = pre.generate_kfrags(alice.priv, bob.pub, signer.priv, rand)
    call = partial(
        pre.reencrypt, capsule, kfrag, signer_pub=signer.pub, delegating_pub=alice.pub, receiving_pub=bob.pub
    )
    return pre.info.name, call
