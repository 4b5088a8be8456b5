"""Sampling the scenario's distributions from a named stream."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..scenario.samples import load_samples
from ..scenario.schema import Constant, Distribution, Empirical, Exponential, LogNormal, Normal, Uniform

if TYPE_CHECKING:  # streams are random.Random instances from sim/rng.py; no global generator
    import random

__all__ = ["sample", "sampler", "sampler_many", "load_samples"]


def sampler(dist: Distribution, base_dir: Path | None = None) -> Callable[[random.Random], float]:
    """``dist`` compiled once into a function of the stream: the same draws as :func:`sample`
    (same calls on the stream in the same order), without re-dispatching on every draw."""
    if isinstance(dist, Constant):
        value = dist.value
        return lambda rng: value
    if isinstance(dist, LogNormal) and dist.sigma:
        median, sigma, exp = dist.median, dist.sigma, math.exp
        return lambda rng: median * exp(rng.gauss(0.0, sigma))
    if isinstance(dist, Uniform):
        low, high = dist.low, dist.high
        return lambda rng: rng.uniform(low, high)
    if isinstance(dist, Exponential):
        rate = 1.0 / dist.mean
        return lambda rng: rng.expovariate(rate)
    return lambda rng: sample(dist, rng, base_dir)


def sampler_many(
    dist: Distribution, base_dir: Path | None = None
) -> Callable[[random.Random, int], list[float]]:
    """``dist`` compiled into a function ``(rng, n)`` returning ``n`` draws: the same draws, in
    the same order, as ``n`` calls of :func:`sampler`'s function."""
    if isinstance(dist, LogNormal) and dist.sigma:
        return _lognormal_many(dist.median, dist.sigma)
    if isinstance(dist, Uniform):
        low, high = dist.low, dist.high
        return lambda rng, n: [rng.uniform(low, high) for _ in range(n)]
    one = sampler(dist, base_dir)
    return lambda rng, n: [one(rng) for _ in range(n)]


def _lognormal_many(median: float, sigma: float) -> Callable[[random.Random, int], list[float]]:
    """``n`` calls of ``median * exp(rng.gauss(0.0, sigma))`` in one loop (a DS fan-out draws
    one latency per member): CPython's ``Random.gauss`` inlined — Box-Muller on two
    ``random()`` draws, the second normal kept in ``rng.gauss_next`` for the next call — so the
    floats and the stream's state afterwards are exactly those of the calls
    (``tests/test_sim_network.py`` checks it against ``gauss`` itself)."""
    exp, log, sqrt, cos, sin, two_pi = math.exp, math.log, math.sqrt, math.cos, math.sin, math.tau

    def draw(rng: random.Random, n: int) -> list[float]:
        uniform = rng.random
        z: float | None = rng.gauss_next  # type: ignore[attr-defined]
        out: list[float] = []
        append = out.append
        for _ in range(n):
            if z is None:
                x2pi = uniform() * two_pi
                g2rad = sqrt(-2.0 * log(1.0 - uniform()))
                append(median * exp(0.0 + cos(x2pi) * g2rad * sigma))
                z = sin(x2pi) * g2rad
            else:
                append(median * exp(0.0 + z * sigma))
                z = None
        rng.gauss_next = z  # type: ignore[attr-defined]
        return out

    return draw


def sample(dist: Distribution, rng: random.Random, base_dir: Path | None = None) -> float:
    """One draw; never negative (latencies, sizes and delays are ≥ 0)."""
    if isinstance(dist, Constant):
        return dist.value
    if isinstance(dist, Uniform):
        return rng.uniform(dist.low, dist.high)
    if isinstance(dist, Normal):
        if dist.std == 0:
            return max(0.0, dist.mean)
        for _ in range(1000):
            x = rng.gauss(dist.mean, dist.std)
            if x >= 0:
                return x
        return 0.0
    if isinstance(dist, LogNormal):
        return dist.median * math.exp(rng.gauss(0.0, dist.sigma)) if dist.sigma else dist.median
    if isinstance(dist, Exponential):
        return rng.expovariate(1.0 / dist.mean)
    if isinstance(dist, Empirical):
        p = Path(dist.file)
        if not p.is_absolute() and base_dir is not None:
            p = base_dir / p
        samples = load_samples(str(p))
        return samples[rng.randrange(len(samples))]
    raise TypeError(f"unknown distribution {dist!r}")
