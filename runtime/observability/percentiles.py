"""The one percentile rule every figure lambdatop shows is computed with.

CloudWatch's percentiles are nearest-rank: pNN is the smallest sample at or
above NN % of the samples. The live function table, the function screen, the
APIs view, the metrics panel's histograms, `invoke -n`, `stats` and `bench`
all read their p50/p99 through `nearest_rank`, so the same samples give the
same number everywhere (the histogram reads it within one bucket width).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

STATISTICS = ("Sum", "Average", "Maximum", "Minimum", "SampleCount")
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")


class UnknownStatistic(ValueError):
    """A statistic CloudWatch would refuse (it takes Sum, Average, Maximum, Minimum, SampleCount, pNN)."""


def percentile_of(statistic: str) -> float | None:
    """0.99 for "p99", 0.999 for "p99.9"; None for the plain statistics. Raises UnknownStatistic."""
    if statistic in STATISTICS:
        return None
    match = _PERCENTILE.match(statistic)
    if not match or not 0 < float(match.group(1)) < 100:
        raise UnknownStatistic(f"unknown statistic {statistic!r}: use Sum, Average, Maximum, Minimum, SampleCount or pNN (p0 < NN < p100)")
    return float(match.group(1)) / 100.0


def nearest_rank(fraction: float, count: int) -> int:
    """The 1-based rank of the sample that is the `fraction` percentile of `count` samples."""
    # The epsilon keeps 0.99 * 100 (= 99.00000000000001 in floating point) at rank 99, not 100.
    return min(count, max(1, math.ceil(fraction * count - 1e-9)))


def percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted samples; None when there are none."""
    if not ordered:
        return None
    return ordered[nearest_rank(fraction, len(ordered)) - 1]


def percentiles(samples: Iterable[float], *fractions: float) -> tuple[float | None, ...]:
    """Several percentiles of unsorted samples, sorting them once."""
    ordered = sorted(samples)
    return tuple(percentile(ordered, fraction) for fraction in fractions)
