"""Live counters per function, cheap enough to update on every invocation.

Totals since start, the exact durations of the last thousand invocations (for
the table's p50 and p99) and the latest records. What happened per second
(rates, the concurrency sparkline, everything CloudWatch-like) is kept once,
in the fleet's metrics (observability/metrics.py), not here.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

from lambdatop.runtime.observability.percentiles import percentile
from lambdatop.runtime.records import InvocationRecord, InvocationStatus

@dataclass(slots=True)
class Counters:
    invocations: int = 0
    errors: int = 0
    throttles: int = 0
    timeouts: int = 0
    cold_starts: int = 0
    out_of_memory: int = 0
    crashes: int = 0


@dataclass
class FunctionStats:
    totals: Counters = field(default_factory=Counters)
    durations: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=1000))
    recent: collections.deque[InvocationRecord] = field(default_factory=lambda: collections.deque(maxlen=200))
    max_memory_used_mb: int = 0

    def add(self, record: InvocationRecord) -> None:
        totals = self.totals
        self.recent.append(record)
        if record.status is InvocationStatus.THROTTLED:
            totals.throttles += 1
            return
        totals.invocations += 1
        self.durations.append(record.duration_ms)
        if record.cold_start:
            totals.cold_starts += 1
        if record.is_error:
            totals.errors += 1
        if record.status is InvocationStatus.TIMEOUT:
            totals.timeouts += 1
        elif record.status is InvocationStatus.OUT_OF_MEMORY:
            totals.out_of_memory += 1
        elif record.status is InvocationStatus.CRASHED:
            totals.crashes += 1
        if record.max_memory_used_mb > self.max_memory_used_mb:
            self.max_memory_used_mb = record.max_memory_used_mb

    def percentile(self, fraction: float) -> float | None:
        """Over the last `durations.maxlen` invocations, by the rule every figure uses."""
        return percentile(sorted(self.durations), fraction)
