"""CloudWatch-like metrics: one-second buckets per function and for the whole fleet, an hour deep.

Each bucket holds, per metric, what CloudWatch keeps per datapoint (sample
count, sum, minimum, maximum) and, for latency metrics, a log-scale histogram
so percentiles can be read over any range of seconds. Counting metrics are
published the way Lambda publishes them: every invocation adds a sample to
Invocations (1), Errors and Timeouts and ColdStarts (1 or 0, so their Average
is a rate); Throttles get a 1 per throttled request, which is not an
invocation. ConcurrentExecutions and the async queue are gauges, sampled.

Adding a record is O(1); reading a statistic is O(seconds in the range).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

from lambdatop.runtime.observability.cost import CostEstimate
from lambdatop.runtime.observability.emf import MetricDatum
from lambdatop.runtime.observability.figures import WindowFigures
from lambdatop.runtime.observability.samples import Bucket, RecordCounts, Sample, Stat, histogram_index
from lambdatop.runtime.records import InvocationRecord, InvocationStatus

RETENTION_S = 3900  # an hour, plus a margin so "the last hour" is always complete
FLEET = "*"  # the series name of the fleet-wide metrics

STANDARD_METRICS = (
    "Invocations", "Errors", "Throttles", "Timeouts", "Duration", "ConcurrentExecutions", "ColdStarts",
    "InitDuration", "MaxMemoryUsed", "AsyncQueueDepth", "AsyncEventAge",
)
_HISTOGRAM_METRICS = frozenset({"Duration", "InitDuration"})


class MetricSeries:
    """One function's (or the fleet's) metrics: one-second buckets, oldest dropped after the retention.

    This is the one per-second record of what happened: the dashboard's rates and concurrency
    sparkline, the metrics panel and the alarms all read it.
    """

    def __init__(self, name: str, retention_s: int = RETENTION_S) -> None:
        self.name = name
        self.retention_s = retention_s
        self.buckets: dict[int, Bucket] = {}
        # The same samples rolled up per minute (keyed by epoch minute), so an hour is 60 merges, not 3,600.
        self.minutes: dict[int, Bucket] = {}
        self.since_start = Bucket(0)  # never pruned
        self.cost = CostEstimate()
        self.units: dict[str, str] = {}  # custom metric -> unit
        self.dimensions: dict[str, set[tuple[tuple[str, str], ...]]] = {}

    @property
    def totals(self) -> dict[str, Stat]:
        """Every metric's samples since start."""
        return self.since_start.view()

    def bucket(self, second: int) -> Bucket:
        bucket = self.buckets.get(second)
        if bucket is None:
            bucket = self.buckets[second] = Bucket(second)
        return bucket

    def minute(self, second: int) -> Bucket:
        key = second // 60
        bucket = self.minutes.get(key)
        if bucket is None:
            bucket = self.minutes[key] = Bucket(key)
            self.prune(second)  # a new minute: drop what fell out of the retention (so nothing needs a timer)
        return bucket

    def _add(self, bucket: Bucket, metric: str, value: float) -> None:
        histogram = metric in _HISTOGRAM_METRICS
        index = histogram_index(value) if histogram else None
        bucket.stat(metric).add(value, histogram, index)
        self.minute(bucket.second).stat(metric).add(value, histogram, index)
        self.since_start.stat(metric).add(value, histogram, index)

    def add_record(self, record: InvocationRecord, architecture: str = "x86_64") -> None:
        """One record on its own (MetricsRegistry files them in batches, through `file_counts`)."""
        counts, cost = RecordCounts(), CostEstimate()
        count_record(record, architecture, counts, cost)
        self.file_counts(record_second(record), counts, cost)

    def file_counts(self, second: int, counts: RecordCounts, cost: CostEstimate) -> None:
        """A batch's invocations of one second, counted once (MetricsRegistry.file_pending), filed in its buckets."""
        for bucket in (self.bucket(second), self.minute(second), self.since_start):
            bucket.records.merge(counts)
        self.cost.merge(cost)

    def add_datum(self, datum: MetricDatum, at: float) -> None:
        """A custom (EMF) metric, filed under `Namespace/Name`."""
        bucket = self.bucket(int(datum.timestamp if datum.timestamp and abs(datum.timestamp - at) < self.retention_s else at))
        key = datum.key
        self.units.setdefault(key, datum.unit)
        self.dimensions.setdefault(key, set()).add(tuple(sorted(datum.dimensions.items())))
        for value in datum.values:
            self._add(bucket, key, value)

    def gauge(self, metric: str, value: float, second: int) -> None:
        self.bucket(second).stat(metric).gauge(value)
        self.minute(second).stat(metric).gauge(value)
        self.since_start.stat(metric).gauge(value)

    def prune(self, now: float) -> None:
        cutoff = int(now) - self.retention_s
        if self.buckets and min(self.buckets) < cutoff:
            for second in [s for s in self.buckets if s < cutoff]:
                del self.buckets[second]
        if self.minutes and min(self.minutes) < cutoff // 60:
            for minute in [m for m in self.minutes if m < cutoff // 60]:
                del self.minutes[minute]

    def window(self, metric: str, start: float, end: float) -> Stat:
        """The samples of `metric` in [start, end) (whole seconds)."""
        merged = Stat()
        first, last = math.floor(start), math.ceil(end)
        if last - first > len(self.buckets):
            seconds: Iterable[int] = sorted(s for s in self.buckets if first <= s < last)
        else:
            seconds = range(first, last)
        for second in seconds:
            bucket = self.buckets.get(second)
            if bucket is not None:
                stat = bucket.get(metric)
                if stat is not None:
                    merged.merge(stat)
        return merged

    def rate(self, metric: str, seconds: int, now: float) -> float:
        """Average per second of a counted metric's Sum over the last `seconds` complete seconds."""
        current = int(now)
        return self.window(metric, current - seconds, current).total / seconds

    def history(self, metric: str, seconds: int, now: float) -> list[int]:
        """A gauge's per-second maximum, oldest first, ending at the current second; 0 where it has no sample."""
        current = int(now)
        out = []
        for second in range(current - seconds + 1, current + 1):
            bucket = self.buckets.get(second)
            stat = bucket.stats.get(metric) if bucket is not None else None
            out.append(int(stat.maximum) if stat is not None and stat.count else 0)
        return out

    def statistic(self, metric: str, statistic: str, start: float, end: float) -> float | None:
        """One datapoint: `statistic` of `metric` over [start, end), or None when there is no data."""
        return self.window(metric, start, end).statistic(statistic)

    def series(self, metric: str, statistic: str, seconds: int, now: float, step: int = 1) -> list[float | None]:
        """`seconds // step` datapoints ending at the current second, oldest first (None where no data)."""
        end = int(now) + 1
        return [self.statistic(metric, statistic, t, t + step) for t in range(end - seconds, end, step)]

    def metric_names(self) -> list[str]:
        totals = self.totals
        return [m for m in STANDARD_METRICS if m in totals] + sorted(m for m in totals if "/" in m)

    def merged(self, start: float, end: float) -> dict[str, Stat]:
        """Every metric's samples in [start, end), in one pass over the buckets that exist.

        Whole minutes inside the range come from the per-minute rollups; the ragged edges from seconds.
        """
        out: dict[str, Stat] = {}
        records = RecordCounts()
        first, last = math.floor(start), math.ceil(end)
        buckets: list[Bucket] = []
        minute_first, minute_last = -(-first // 60), last // 60  # whole minutes [minute_first, minute_last)
        if minute_last - minute_first >= 2:
            buckets += [self.minutes[m] for m in range(minute_first, minute_last) if m in self.minutes]
            edges = [*range(first, minute_first * 60), *range(minute_last * 60, last)]
            buckets += [self.buckets[s] for s in edges if s in self.buckets]
        elif last - first <= len(self.buckets):
            buckets = [self.buckets[s] for s in range(first, last) if s in self.buckets]
        else:
            buckets = [b for s, b in self.buckets.items() if first <= s < last]
        for bucket in buckets:
            records.merge(bucket.records)
            for metric, stat in bucket.stats.items():
                merged = out.get(metric)
                if merged is None:
                    merged = out[metric] = Stat()
                merged.merge(stat)
        out.update(records.stats())
        return out

    def summary(self, seconds: int, now: float) -> WindowFigures:
        """The figures a function screen shows for the last `seconds`."""
        stats = self.merged(now - seconds, now + 1)
        empty = Stat()
        invocations = stats.get("Invocations", empty)
        duration = stats.get("Duration", empty)
        errors = stats.get("Errors", empty)
        return WindowFigures(
            invocations=invocations.count,
            errors=int(errors.total),
            error_rate=errors.total / errors.count if errors.count else None,
            throttles=int(stats.get("Throttles", empty).total),
            timeouts=int(stats.get("Timeouts", empty).total),
            cold_starts=int(stats.get("ColdStarts", empty).total),
            duration_p50=duration.percentile(0.50),
            duration_p90=duration.percentile(0.90),
            duration_p99=duration.percentile(0.99),
            duration_max=duration.maximum if duration.count else None,
            duration_avg=duration.total / duration.count if duration.count else None,
            init_duration_avg=stats.get("InitDuration", empty).statistic("Average"),
            max_memory_used=stats.get("MaxMemoryUsed", empty).statistic("Maximum"),
            concurrent_executions_max=stats.get("ConcurrentExecutions", empty).statistic("Maximum"),
            async_queue_depth=stats.get("AsyncQueueDepth", empty).statistic("Maximum"),
            async_event_age_max=stats.get("AsyncEventAge", empty).statistic("Maximum"),
        )


class MetricsRegistry:
    """Every function's series plus the fleet's (`FLEET`).

    Records and concurrency samples are queued as they come and filed in a batch at the next read
    (a frame, an alarm's evaluation, a summary) or once PENDING_LIMIT are queued: filing takes about
    10 µs a record, which the invocation's return path (a warm invoke is ~150 µs) should not pay.
    Every read goes through `series`, `function()` or `fleet`, which file what is queued first.
    """

    PENDING_LIMIT = 4096

    def __init__(self, retention_s: int = RETENTION_S) -> None:
        self.retention_s = retention_s
        self._series: dict[str, MetricSeries] = {FLEET: MetricSeries(FLEET, retention_s)}
        self._records: list[tuple[InvocationRecord, str]] = []
        self._concurrency: list[tuple[str, int, int, int]] = []  # (function, in use, fleet in use, second)

    @property
    def series(self) -> dict[str, MetricSeries]:
        self.file_pending()
        return self._series

    def function(self, name: str) -> MetricSeries:
        self.file_pending()
        return self._series_of(name)

    @property
    def fleet(self) -> MetricSeries:
        self.file_pending()
        return self._series[FLEET]

    def add_record(self, record: InvocationRecord, architecture: str = "x86_64") -> None:
        self._records.append((record, architecture))
        if len(self._records) >= self.PENDING_LIMIT:
            self.file_pending()

    def saw_concurrency(self, function: str, in_use: int, fleet_in_use: int, now: float) -> None:
        """ConcurrentExecutions, taken at every acquire, so each second keeps its exact maximum."""
        self._concurrency.append((function, in_use, fleet_in_use, int(now)))
        if len(self._concurrency) >= self.PENDING_LIMIT:
            self.file_pending()

    def file_pending(self) -> None:
        """File the queued records and concurrency samples, in the order they came.

        The records are counted once per (function, second) and each count merged into the buckets it
        belongs in (the second's, the minute's, since start; the function's, the fleet's and a published
        version's): one RecordCounts.add per invocation instead of nine, on the loop that also serves.
        """
        if self._records:
            records, self._records = self._records, []
            batch: dict[tuple[str, str, int], tuple[RecordCounts, CostEstimate]] = {}
            for record, architecture in records:
                key = (record.function, record.version, record_second(record))
                counted = batch.get(key)
                if counted is None:
                    counted = batch[key] = (RecordCounts(), CostEstimate())
                count_record(record, architecture, *counted)
            fleet = self._series[FLEET]
            for (function, version, second), (counts, cost) in batch.items():
                self._series_of(function).file_counts(second, counts, cost)
                fleet.file_counts(second, counts, cost)
                if version != "$LATEST":  # CloudWatch's ExecutedVersion: what an alarm on a canary reads
                    self._series_of(version_series(function, version)).file_counts(second, counts, cost)
        if self._concurrency:
            samples, self._concurrency = self._concurrency, []
            # A gauge keeps each second's maximum: the batch's, per second, is filed once.
            peaks: dict[tuple[str, int], int] = {}
            fleet_peaks: dict[int, int] = {}
            for function, in_use, fleet_in_use, second in samples:
                if in_use > peaks.get((function, second), -1):
                    peaks[function, second] = in_use
                if fleet_in_use > fleet_peaks.get(second, -1):
                    fleet_peaks[second] = fleet_in_use
            for (function, second), peak in peaks.items():
                self._series_of(function).gauge("ConcurrentExecutions", float(peak), second)
            fleet = self._series[FLEET]
            for second, peak in fleet_peaks.items():
                fleet.gauge("ConcurrentExecutions", float(peak), second)

    @property
    def functions(self) -> dict[str, MetricSeries]:
        """The functions' own series (not the fleet's, nor their versions')."""
        return {name: series for name, series in self.series.items() if name != FLEET and not is_version_series(name)}

    def _series_of(self, name: str) -> MetricSeries:
        series = self._series.get(name)
        if series is None:
            series = self._series[name] = MetricSeries(name, self.retention_s)
        return series

    def add_data(self, function: str, data: list[MetricDatum], at: float) -> None:
        series = self.function(function)
        for datum in data:
            series.add_datum(datum, at)

    def prune(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        for series in self.series.values():
            series.prune(now)


def record_second(record: InvocationRecord) -> int:
    """The second an invocation is counted in: when it ended (when it was accepted, for one that never did)."""
    return int(record.ended_at or record.started_at)


def count_record(record: InvocationRecord, architecture: str, counts: RecordCounts, cost: CostEstimate) -> None:
    """Add one invocation to a batch's counts and cost (a throttle is never billed and has no duration)."""
    if record.status is InvocationStatus.THROTTLED:
        counts.throttles += 1
        return
    counts.add(Sample.of(record))
    cost.add(record.billed_duration_ms, record.memory_size_mb, architecture)


def version_series(function: str, version: str) -> str:
    """The name of a published version's own series: `FN:2` (a function's name never holds a colon)."""
    return f"{function}:{version}"


def is_version_series(name: str) -> bool:
    return ":" in name
