"""The observability service's typed views: alarms, metrics and traces, as the dashboard reads them.

Plain frozen data, built once a second by `observability/service.py` and read
through `FleetSnapshot.alarms`, `.metrics` and `.traces` (runtime/snapshot.py).
It imports nothing of the runtime, so the screen and the metrics can both use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

@dataclass(frozen=True, slots=True)
class RecentTraceView:
    trace_id: str
    requests: tuple[str, ...]  # request ids in the trace (a retry's attempts, a caller's children)
    function: str | None  # of its first request
    user_documents: int  # the function's own (sub)segments, from the X-Ray SDK


@dataclass(frozen=True, slots=True)
class TracesView:
    """The live traces and the X-Ray daemon that feeds them: what it took, filed and refused."""

    count: int
    documents_received: int
    documents_rejected: int  # no trace id or no start time
    datagrams: int  # well-formed datagrams the daemon took
    malformed: int  # datagrams not in the daemon's format
    daemon: str | None  # its address, while it listens
    daemon_error: str | None  # why the last malformed datagram was refused
    recent: tuple[RecentTraceView, ...]


@dataclass(frozen=True, slots=True)
class AlarmTransitionView:
    alarm: str
    at: float
    old: str  # OK | ALARM | INSUFFICIENT_DATA
    new: str
    reason: str  # CloudWatch's wording: "Threshold Crossed: ..."


@dataclass(frozen=True, slots=True)
class AlarmView:
    name: str
    function: str  # the function's name, or "*" for a fleet-wide alarm
    metric: str
    statistic: str
    state: str  # OK | ALARM | INSUFFICIENT_DATA
    reason: str
    since: float
    description: str  # `Errors Sum > 0 for 1 of 1 × 60 s`
    datapoints: tuple[float | None, ...]  # of the newest evaluation, oldest first; None: missing
    history: tuple[AlarmTransitionView, ...]  # newest first


@dataclass(frozen=True, slots=True)
class AlarmsSnapshot:
    open: int  # alarms in ALARM
    states: Mapping[str, str]  # function -> its worst alarm state
    alarms: tuple[AlarmView, ...]
    transitions: tuple[AlarmTransitionView, ...]  # every alarm's, newest first

    def of(self, function: str) -> list[AlarmView]:
        return [alarm for alarm in self.alarms if alarm.function == function]


@dataclass(frozen=True, slots=True)
class WindowFigures:
    """CloudWatch's standard metrics of one function over a window (the last minute, the last hour)."""

    invocations: int
    errors: int
    error_rate: float | None
    throttles: int
    timeouts: int
    cold_starts: int
    duration_p50: float | None
    duration_p90: float | None
    duration_p99: float | None
    duration_max: float | None
    duration_avg: float | None
    init_duration_avg: float | None
    max_memory_used: float | None
    concurrent_executions_max: float | None
    async_queue_depth: float | None
    async_event_age_max: float | None


@dataclass(frozen=True, slots=True)
class CustomMetricView:
    """A metric the function's own EMF lines made (`Namespace/Name`)."""

    metric: str
    unit: str
    samples: int
    sum: float
    last_minute_sum: float | None
    max: float | None
    dimensions: tuple[Mapping[str, str], ...]  # the first few dimension sets seen


@dataclass(frozen=True, slots=True)
class CostView:
    requests: int
    gb_seconds: float
    total_usd: float
    per_million_usd: float


@dataclass(frozen=True, slots=True)
class FunctionMetricsView:
    minute: WindowFigures
    hour: WindowFigures
    custom: tuple[CustomMetricView, ...]
    cost: CostView


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """The observability service's figures, rebuilt once a second (`at`)."""

    at: float | None
    functions: Mapping[str, FunctionMetricsView]
