"""What one metrics bucket holds: CloudWatch's statistics of a metric, and the invocations' counts.

A `Stat` is what CloudWatch keeps per datapoint (sample count, sum, minimum,
maximum), plus a log-scale histogram for latencies so a percentile read over
any range lands within one histogram bucket (4 %) of the exact value.
`RecordCounts` keeps the standard invocation metrics as plain counts, the
metrics' hot path (metrics.py files every invocation into several buckets).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

from lambdatop.runtime.observability.percentiles import nearest_rank, percentile_of
from lambdatop.runtime.records import InvocationRecord, InvocationStatus

# Histogram buckets: (BASE * GROWTH**(i-1), BASE * GROWTH**i] for i >= 1, [0, BASE] for i = 0.
# 4 % wide: p99 of a 200 ms function is read to within 8 ms.
HIST_BASE = 0.01
HIST_GROWTH = 1.04
_LOG_GROWTH = math.log(HIST_GROWTH)

def histogram_index(value: float) -> int:
    if value <= HIST_BASE:
        return 0
    return max(1, math.ceil(math.log(value / HIST_BASE) / _LOG_GROWTH - 1e-12))


def histogram_bounds(index: int) -> tuple[float, float]:
    """(lower, upper] of a histogram bucket."""
    if index <= 0:
        return 0.0, HIST_BASE
    return HIST_BASE * HIST_GROWTH ** (index - 1), HIST_BASE * HIST_GROWTH**index


@dataclass(slots=True)
class Stat:
    """One metric's samples within a bucket (or merged over a range)."""

    count: int = 0
    total: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    histogram: dict[int, int] | None = None

    def add(self, value: float, histogram: bool = False, index: int | None = None) -> None:
        """One sample; `histogram` also files it in the histogram (`index`, when the caller computed it)."""
        self.count += 1
        self.total += value
        if value < self.minimum:
            self.minimum = value
        if value > self.maximum:
            self.maximum = value
        if histogram:
            if self.histogram is None:
                self.histogram = {}
            if index is None:
                index = histogram_index(value)
            self.histogram[index] = self.histogram.get(index, 0) + 1

    def gauge(self, value: float) -> None:
        """A gauge keeps one sample per bucket: its maximum (ConcurrentExecutions, queue depth)."""
        if self.count == 0:
            self.count, self.total, self.minimum, self.maximum = 1, value, value, value
        elif value > self.maximum:
            self.total = self.maximum = value

    def merge(self, other: Stat) -> None:
        self.count += other.count
        self.total += other.total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        if other.histogram:
            if self.histogram is None:
                self.histogram = {}
            for index, n in other.histogram.items():
                self.histogram[index] = self.histogram.get(index, 0) + n

    def percentile(self, fraction: float) -> float | None:
        """Nearest-rank percentile from the histogram: within one bucket width of the exact value."""
        if not self.count:
            return None
        if not self.histogram:
            return self.maximum
        rank = nearest_rank(fraction, self.count)
        seen = 0
        for index in sorted(self.histogram):
            seen += self.histogram[index]
            if seen >= rank:
                _, upper = histogram_bounds(index)
                return min(max(upper, self.minimum), self.maximum)
        return self.maximum

    def statistic(self, statistic: str) -> float | None:
        if not self.count:
            return None
        if statistic == "Sum":
            return self.total
        if statistic == "Average":
            return self.total / self.count
        if statistic == "Maximum":
            return self.maximum
        if statistic == "Minimum":
            return self.minimum
        if statistic == "SampleCount":
            return float(self.count)
        fraction = percentile_of(statistic)
        assert fraction is not None
        return self.percentile(fraction)


_RECORD_METRICS = frozenset({"Invocations", "Errors", "Timeouts", "ColdStarts", "Throttles", "Duration", "InitDuration",
                             "MaxMemoryUsed"})


def _ones(count: int, ones: int) -> Stat | None:
    """A 0-or-1 metric (Errors, Timeouts, ColdStarts) as CloudWatch keeps it: `count` samples, `ones` of them 1."""
    if not count:
        return None
    return Stat(count, float(ones), 0.0 if ones < count else 1.0, 1.0 if ones else 0.0)


class Sample(NamedTuple):
    """What the metrics take from one invocation record, worked out once for every bucket it lands in."""

    error: bool
    timeout: bool
    cold_start: bool
    duration_ms: float
    duration_index: int
    init_duration_ms: float | None
    max_memory_used_mb: int

    @classmethod
    def of(cls, record: InvocationRecord) -> Sample:
        return cls(record.is_error, record.status is InvocationStatus.TIMEOUT, record.cold_start, record.duration_ms,
                   histogram_index(record.duration_ms), record.init_duration_ms, record.max_memory_used_mb)


@dataclass(slots=True)
class RecordCounts:
    """The standard metrics of the invocations in a bucket, kept as counts.

    Every invocation lands here once per bucket it counts in (its second, its minute, the totals,
    for its function and for the fleet), so this is the metrics' hot path: a few integer additions
    and one histogram sample, where a `Stat` per metric would be seven. `stat()` builds the
    CloudWatch view of a metric from the counts when something reads it.
    """

    invocations: int = 0
    errors: int = 0
    timeouts: int = 0
    cold_starts: int = 0
    throttles: int = 0
    duration: Stat = field(default_factory=Stat)
    init_duration: Stat = field(default_factory=Stat)
    memory: Stat = field(default_factory=Stat)

    def add(self, sample: Sample) -> None:
        self.invocations += 1
        self.errors += sample.error
        self.timeouts += sample.timeout
        self.cold_starts += sample.cold_start
        self.duration.add(sample.duration_ms, True, sample.duration_index)
        if sample.init_duration_ms is not None:
            self.init_duration.add(sample.init_duration_ms, True)
        if sample.max_memory_used_mb:
            self.memory.add(float(sample.max_memory_used_mb))

    def merge(self, other: RecordCounts) -> None:
        self.invocations += other.invocations
        self.errors += other.errors
        self.timeouts += other.timeouts
        self.cold_starts += other.cold_starts
        self.throttles += other.throttles
        if other.duration.count:
            self.duration.merge(other.duration)
        if other.init_duration.count:
            self.init_duration.merge(other.init_duration)
        if other.memory.count:
            self.memory.merge(other.memory)

    def stat(self, metric: str) -> Stat | None:
        """One standard metric as CloudWatch keeps it, or None when it has no samples."""
        if metric == "Invocations":
            return Stat(self.invocations, float(self.invocations), 1.0, 1.0) if self.invocations else None
        if metric == "Throttles":
            return Stat(self.throttles, float(self.throttles), 1.0, 1.0) if self.throttles else None
        if metric == "Errors":
            return _ones(self.invocations, self.errors)
        if metric == "Timeouts":
            return _ones(self.invocations, self.timeouts)
        if metric == "ColdStarts":
            return _ones(self.invocations, self.cold_starts)
        held = {"Duration": self.duration, "InitDuration": self.init_duration, "MaxMemoryUsed": self.memory}[metric]
        return held if held.count else None

    def stats(self) -> dict[str, Stat]:
        out = {}
        for metric in _RECORD_METRICS:
            stat = self.stat(metric)
            if stat is not None:
                out[metric] = stat
        return out


@dataclass(slots=True)
class Bucket:
    """One second's (or one minute's, or since start) samples: the invocations' counts, then the gauges and custom metrics."""

    second: int
    records: RecordCounts = field(default_factory=RecordCounts)
    stats: dict[str, Stat] = field(default_factory=dict)

    def stat(self, metric: str) -> Stat:
        """A gauge's or a custom metric's samples, created on first use."""
        stat = self.stats.get(metric)
        if stat is None:
            stat = self.stats[metric] = Stat()
        return stat

    def get(self, metric: str) -> Stat | None:
        if metric in _RECORD_METRICS:
            return self.records.stat(metric)
        return self.stats.get(metric)

    def view(self) -> dict[str, Stat]:
        """Every metric with samples here."""
        return {**self.records.stats(), **self.stats}
