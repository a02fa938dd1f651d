"""What the dashboard remembers of recent invocations, in fixed-size windows.

The app drains its bus subscription a few times a second and hands the items
here. Everything is bounded (the store keeps history; the screen keeps a
window), and the work per drain is bounded by the subscription's length, not
by the invocation rate: at thousands of invocations a second the oldest items
are simply dropped by the bus before we see them.

Kept: the last few hundred `InvocationResult`s by attempt (event, response
and log for the invocation screen and for `r`), which attempt of its request
each record is, recent records and log lines per function, per-second
duration and concurrency series for the charts, and fleet events not yet shown.

Attempts: an asynchronous event that fails is retried under the same request id
(as on Lambda), so a request id names up to three invocations. Each one is told
apart by its attempt number (1, 2, 3: the order of their start times), and
`attempt_key(request_id, n)` is what the tables key their rows by.
"""

from __future__ import annotations

import bisect
import collections
from dataclasses import dataclass

from lambdatop.runtime.bus import FleetEvent
from lambdatop.runtime.records import InvocationRecord, InvocationResult, InvocationStatus

RESULTS_KEPT = 400
RECORDS_PER_FUNCTION = 100
LOG_LINES_PER_FUNCTION = 400
SERIES_SECONDS = 300  # the function screen's charts: the last five minutes
SUBSCRIPTION_LENGTH = 512  # what one drain can hold; older items are dropped by the bus
REQUESTS_TRACKED = 5_000  # request ids whose attempts are numbered (retries come minutes apart on Lambda)


def attempt_key(request_id: str, attempt: int) -> str:
    """The row key of one attempt of a request: unique even when retries share the request id."""
    return f"{request_id}#{attempt}"


class AttemptLedger:
    """Which attempt of its request each record is: the order of the start times seen for that request id.

    Bounded: the least recently seen request ids are forgotten first.
    """

    def __init__(self, kept: int = REQUESTS_TRACKED) -> None:
        self._starts: collections.OrderedDict[str, list[float]] = collections.OrderedDict()
        self._kept = kept

    def attempt(self, record: InvocationRecord) -> int:
        """The record's attempt number (1 for the first), noting the record if it is new."""
        starts = self._starts.get(record.request_id)
        if starts is None:
            starts = self._starts[record.request_id] = []
            if len(self._starts) > self._kept:
                self._starts.popitem(last=False)
        else:
            self._starts.move_to_end(record.request_id)
        index = bisect.bisect_left(starts, record.started_at)
        if index == len(starts) or starts[index] != record.started_at:
            starts.insert(index, record.started_at)
        return index + 1

    def count(self, request_id: str) -> int:
        """How many attempts of this request have been seen."""
        return len(self._starts.get(request_id, ()))

    def key(self, record: InvocationRecord) -> str:
        return attempt_key(record.request_id, self.attempt(record))


@dataclass(slots=True)
class SecondSample:
    second: int
    count: int = 0
    total_ms: float = 0.0
    max_ms: float = 0.0
    concurrency: int = 0


class RecentActivity:
    """The dashboard's bounded memory of recent invocations and fleet events (see the module docstring)."""

    def __init__(self) -> None:
        self.attempts = AttemptLedger()
        self.results: collections.OrderedDict[str, InvocationResult] = collections.OrderedDict()  # by attempt_key
        self.records: dict[str, collections.deque[InvocationRecord]] = {}
        self.logs: dict[str, collections.deque[str]] = {}
        self.log_counts: dict[str, int] = {}  # lines ever added per function, to know what is new
        self.series: dict[str, collections.deque[SecondSample]] = {}
        self.fleet_events: collections.deque[FleetEvent] = collections.deque(maxlen=50)
        self.absorbed = 0

    # -- feeding ----------------------------------------------------------------------

    def absorb(self, items: list[object]) -> list[FleetEvent]:
        """Take what the bus published since the last drain; returns the new fleet events."""
        events: list[FleetEvent] = []
        for item in items:
            if isinstance(item, InvocationResult):
                self._add_result(item)
            elif isinstance(item, FleetEvent):
                events.append(item)
                self.fleet_events.append(item)
        return events

    def sample_concurrency(self, function: str, at: float, in_use: int) -> None:
        """Called once per screen refresh per function: the concurrency chart's data."""
        sample = self._sample(function, at)
        sample.concurrency = max(sample.concurrency, in_use)

    def _add_result(self, result: InvocationResult) -> None:
        record = result.record
        self.absorbed += 1
        self.results[self.attempts.key(record)] = result
        if len(self.results) > RESULTS_KEPT:
            self.results.popitem(last=False)
        self.records.setdefault(record.function, collections.deque(maxlen=RECORDS_PER_FUNCTION)).append(record)
        if result.log_lines:
            log = self.logs.setdefault(record.function, collections.deque(maxlen=LOG_LINES_PER_FUNCTION))
            log.extend(line.rstrip("\n") for line in result.log_lines)
            self.log_counts[record.function] = self.log_counts.get(record.function, 0) + len(result.log_lines)
        if record.status is not InvocationStatus.THROTTLED:
            sample = self._sample(record.function, record.ended_at or record.started_at)
            sample.count += 1
            sample.total_ms += record.duration_ms
            sample.max_ms = max(sample.max_ms, record.duration_ms)

    def _sample(self, function: str, at: float) -> SecondSample:
        series = self.series.setdefault(function, collections.deque(maxlen=SERIES_SECONDS))
        second = int(at)
        if series and series[-1].second == second:
            return series[-1]
        if series and series[-1].second > second:
            # A record that finished a moment before the last sample (results arrive in bursts).
            for sample in reversed(series):
                if sample.second == second:
                    return sample
                if sample.second < second:
                    break
            return series[-1]
        sample = SecondSample(second)
        series.append(sample)
        return sample

    # -- reading ----------------------------------------------------------------------

    def result(self, request_id: str, attempt: int | None = None) -> InvocationResult | None:
        """One attempt's result (the latest attempt when `attempt` is None), while it is in the window."""
        if attempt is not None:
            return self.results.get(attempt_key(request_id, attempt))
        for number in range(self.attempts.count(request_id), 0, -1):
            if (found := self.results.get(attempt_key(request_id, number))) is not None:
                return found
        return None

    def attempts_of(self, request_id: str) -> list[InvocationResult]:
        """Every attempt of a request still in the window, oldest first."""
        found = (self.results.get(attempt_key(request_id, n)) for n in range(1, self.attempts.count(request_id) + 1))
        return [result for result in found if result is not None]

    def latest_result(self, function: str | None = None) -> InvocationResult | None:
        for result in reversed(self.results.values()):
            if function is None or result.record.function == function:
                return result
        return None

    def recent_records(self, function: str) -> list[InvocationRecord]:
        """Newest first."""
        return list(reversed(self.records.get(function, ())))

    def log_tail(self, function: str) -> list[str]:
        return list(self.logs.get(function, ()))

    def history(self, function: str, now: float, seconds: int = SERIES_SECONDS) -> tuple[list[float], list[float]]:
        """(concurrency, mean duration ms) per second over the last `seconds`, oldest first, zeros where idle."""
        current = int(now)
        by_second = {s.second: s for s in self.series.get(function, ())}
        concurrency: list[float] = []
        durations: list[float] = []
        for second in range(current - seconds + 1, current + 1):
            sample = by_second.get(second)
            concurrency.append(float(sample.concurrency) if sample else 0.0)
            durations.append(sample.total_ms / sample.count if sample and sample.count else 0.0)
        return concurrency, durations
