"""The statistics behind every figure and table, each named in the caption it serves.

- Means over replications get a Student-t interval (the replications are independent runs).
- Medians and other percentiles over replications get a percentile-bootstrap interval, with
  a fixed seed so that the same runs give the same report.
- Paired differences (two designs on the same seeds) are a mean of per-replication
  differences with its Student-t interval.
- Healing times are censored (a compromise that has not healed by the end of its run is
  still exposed): their distribution is the Kaplan–Meier estimate, which counts censored cases
  in the risk set instead of dropping them.

A statistic of one value has no interval (``None``): reports print "n/a", figures draw no bar.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "Estimate",
    "bootstrap",
    "kaplan_meier",
    "mean_t",
    "t_quantile",
]

_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}
#: resamples of the percentile bootstrap
BOOTSTRAP_RESAMPLES = 2000


def t_quantile(df: int) -> float:
    """Two-sided 95% Student t quantile (table for small df, Cornish-Fisher beyond)."""
    if df in _T975:
        return _T975[df]
    z = 1.959964
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    return z + g1 / df + g2 / df**2


@dataclass(frozen=True)
class Estimate:
    """A statistic over ``n`` values with its 95% interval (``None`` below two values)."""

    value: float
    low: float | None
    high: float | None
    n: int

    @property
    def half_width(self) -> float | None:
        """For symmetric intervals (Student t): half the interval's width."""
        return None if self.low is None or self.high is None else (self.high - self.low) / 2


def mean_t(xs: Sequence[float]) -> Estimate:
    """Mean with its Student-t 95% interval."""
    m = statistics.fmean(xs)
    if len(xs) < 2:
        return Estimate(m, None, None, len(xs))
    h = t_quantile(len(xs) - 1) * statistics.stdev(xs) / math.sqrt(len(xs))
    return Estimate(m, m - h, m + h, len(xs))


def bootstrap(xs: Sequence[float], stat: Callable[[Sequence[float]], float], seed: int = 0) -> Estimate:
    """``stat`` with a percentile-bootstrap 95% interval (``BOOTSTRAP_RESAMPLES`` resamples,
    drawn from a stream seeded by ``seed`` and the data, so the interval is reproducible)."""
    value = stat(xs)
    if len(xs) < 2:
        return Estimate(value, None, None, len(xs))
    rng = random.Random(f"{seed}:{len(xs)}:{sum(xs)!r}")
    n = len(xs)
    boots = sorted(stat([xs[rng.randrange(n)] for _ in range(n)]) for _ in range(BOOTSTRAP_RESAMPLES))
    lo = boots[int(0.025 * BOOTSTRAP_RESAMPLES)]
    hi = boots[min(BOOTSTRAP_RESAMPLES - 1, int(0.975 * BOOTSTRAP_RESAMPLES))]
    return Estimate(value, lo, hi, n)


def kaplan_meier(times: Sequence[float], observed: Sequence[bool]) -> list[tuple[float, float]]:
    """The Kaplan–Meier survival curve of ``times`` (``observed[i]`` False: censored at
    ``times[i]``): ``[(0, 1.0), (t1, S(t1)), ...]``, one step per distinct event time.

    At each event time t, S drops by the factor (1 − d/r): d events at t, r cases still at risk
    (not healed and not censored before t; a case censored at t counts as at risk at t)."""
    pairs = sorted(zip(times, observed, strict=True))
    at_risk = len(pairs)
    s = 1.0
    curve = [(0.0, 1.0)]
    i = 0
    while i < len(pairs):
        t = pairs[i][0]
        events = censored = 0
        while i < len(pairs) and pairs[i][0] == t:
            events += pairs[i][1]
            censored += not pairs[i][1]
            i += 1
        if events:
            s *= 1 - events / at_risk
            curve.append((t, s))
        at_risk -= events + censored
    return curve
