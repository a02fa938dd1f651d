"""Live counters per function, cheap enough to update on every invocation.

Totals, a short window of per-second buckets (rates, concurrency sparkline)
and a sample of recent durations for percentiles. The observability layer
keeps the full CloudWatch-like metrics; this is what the screen needs now.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field

from lambdatop.runtime.observability.percentiles import percentile
from lambdatop.runtime.records import InvocationRecord, InvocationStatus

WINDOW_S = 120


@dataclass(slots=True)
class Counters:
    invocations: int = 0
    errors: int = 0
    throttles: int = 0
    timeouts: int = 0
    cold_starts: int = 0
    out_of_memory: int = 0
    crashes: int = 0


@dataclass(slots=True)
class SecondBucket:
    second: int
    invocations: int = 0
    errors: int = 0
    throttles: int = 0
    cold_starts: int = 0
    max_concurrency: int = 0


@dataclass
class FunctionStats:
    totals: Counters = field(default_factory=Counters)
    durations: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=1000))
    buckets: collections.deque[SecondBucket] = field(default_factory=lambda: collections.deque(maxlen=WINDOW_S))
    recent: collections.deque[InvocationRecord] = field(default_factory=lambda: collections.deque(maxlen=200))
    max_memory_used_mb: int = 0

    def bucket(self, now: float | None = None) -> SecondBucket:
        second = int(now if now is not None else time.time())
        if not self.buckets or self.buckets[-1].second != second:
            self.buckets.append(SecondBucket(second))
        return self.buckets[-1]

    def add(self, record: InvocationRecord) -> None:
        totals = self.totals
        bucket = self.bucket(record.ended_at or None)
        self.recent.append(record)
        if record.status is InvocationStatus.THROTTLED:
            totals.throttles += 1
            bucket.throttles += 1
            return
        totals.invocations += 1
        bucket.invocations += 1
        self.durations.append(record.duration_ms)
        if record.cold_start:
            totals.cold_starts += 1
            bucket.cold_starts += 1
        if record.is_error:
            totals.errors += 1
            bucket.errors += 1
        if record.status is InvocationStatus.TIMEOUT:
            totals.timeouts += 1
        elif record.status is InvocationStatus.OUT_OF_MEMORY:
            totals.out_of_memory += 1
        elif record.status is InvocationStatus.CRASHED:
            totals.crashes += 1
        if record.max_memory_used_mb > self.max_memory_used_mb:
            self.max_memory_used_mb = record.max_memory_used_mb

    def saw_concurrency(self, in_use: int) -> None:
        bucket = self.bucket()
        if in_use > bucket.max_concurrency:
            bucket.max_concurrency = in_use

    def rate(self, attribute: str, seconds: int = 5, now: float | None = None) -> float:
        """Average per second over the last complete `seconds` seconds."""
        current = int(now if now is not None else time.time())
        total = sum(getattr(b, attribute) for b in self.buckets if current - seconds <= b.second < current)
        return total / seconds

    def history(self, attribute: str, seconds: int = 60, now: float | None = None) -> list[int]:
        """One value per second, oldest first, zeros where nothing happened."""
        current = int(now if now is not None else time.time())
        by_second = {b.second: getattr(b, attribute) for b in self.buckets}
        return [by_second.get(s, 0) for s in range(current - seconds + 1, current + 1)]

    def percentile(self, fraction: float) -> float | None:
        """Over the last `durations.maxlen` invocations, by the rule every figure uses."""
        return percentile(sorted(self.durations), fraction)
