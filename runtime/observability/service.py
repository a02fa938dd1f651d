"""The observability service: traces, metrics, custom metrics and alarms, fed by the telemetry bus.

It runs the local X-Ray daemon (so workers' X-Ray SDK sends land here), drains
the bus on a short timer (never per invocation on the critical path), files
each finished invocation into the trace index (the fleet itself files it into
the metrics), pulls EMF lines out of its log into custom metrics, samples the
gauges (concurrency, async queue) once a second, evaluates the alarms as their
periods end, and hands each invocation's settled trace to the store.

What the screen reads (typed views in runtime/snapshot.py): `snapshot.alarms` (AlarmsSnapshot),
`snapshot.metrics` (MetricsSnapshot, rebuilt once a second) and `snapshot.traces` (TracesView).
Transitions are also published as `FleetEvent(kind="alarm", ...)`.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import TYPE_CHECKING, Any

from lambdatop.runtime.observability import emf
from lambdatop.runtime.observability.alarms import (
    EVALUATION_LAG_S,
    AlarmDefinition,
    AlarmSet,
    AlarmState,
    default_definitions,
    parse_rules,
)
from lambdatop.runtime.bus import FleetEvent, Subscription
from lambdatop.runtime.errors import ConfigError
from lambdatop.runtime.observability.metrics import FLEET, MetricsRegistry
from lambdatop.runtime.records import InvocationResult
from lambdatop.runtime.observability.figures import CostView, CustomMetricView, FunctionMetricsView, MetricsSnapshot, RecentTraceView, TracesView
from lambdatop.runtime.observability.template_alarms import template_alarms
from lambdatop.runtime.observability.tracing import Trace, TraceIndex
from lambdatop.runtime.observability.xray_daemon import XRayDaemon

if TYPE_CHECKING:
    from lambdatop.runtime.fleet import Fleet

DRAIN_INTERVAL_S = 0.1
TRACE_SETTLE_S = 1.0  # late datagrams from a handler's last subsegments arrive within this


class ObservabilityService:
    """Attach with `fleet.add_service(ObservabilityService())` before `fleet.start()`."""

    def __init__(self, *, xray_host: str = "127.0.0.1", xray_port: int = 0, max_traces: int = 5000) -> None:
        self.traces = TraceIndex(max_traces)
        self.metrics = MetricsRegistry()
        self.alarms = AlarmSet(())
        self.daemon = XRayDaemon(self._on_document, xray_host, xray_port)
        self.fleet: Fleet | None = None
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._summary = MetricsSnapshot(at=None, functions={})
        self._last_tick = 0.0
        self._pending_traces: dict[str, tuple[float, str, str]] = {}  # segment id -> (due, request id, trace id)
        self._persisted: dict[str, list[tuple[str, str]]] = {}  # trace id -> [(segment id, request id)] stored
        self._known_functions: set[str] = set()
        self._defaults: bool = True
        self._section: Any = None

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.metrics = fleet.metrics  # the fleet files every invocation; custom metrics and gauges are added here
        section = fleet.config.sections.get("alarms")
        where = str(fleet.config.path)
        self.alarms = AlarmSet(self._definitions(section, where, warn=True), time.time())
        self._defaults = not (isinstance(section, dict) and section.get("defaults") is False)
        self._section = section
        self._known_functions = set(fleet.functions)
        await self.daemon.start()
        fleet.worker_environment.update(self.daemon.environment())
        self._subscription = fleet.subscribe("observability", maxlen=100_000)
        fleet.snapshot_providers["alarms"] = self.alarms.snapshot
        fleet.snapshot_providers["metrics"] = lambda: self.summary
        fleet.snapshot_providers["traces"] = self._traces_summary
        self._task = asyncio.create_task(self._run(), name="lambdatop-observability")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._subscription is not None and self.fleet is not None:
            self.process(self._subscription.drain())
            self.fleet.bus.unsubscribe(self._subscription)
            self._subscription = None
        self._persist_traces(force=True)
        await self.daemon.stop()
        if self.fleet is not None:
            for name in ("alarms", "metrics", "traces"):
                self.fleet.snapshot_providers.pop(name, None)

    # -- the loop -------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(DRAIN_INTERVAL_S)
            try:
                self.turn(time.time())
            except Exception as exc:  # noqa: BLE001 - observability must never take the fleet down
                if self.fleet is not None:
                    self.fleet.bus.publish(FleetEvent("error", f"observability: {type(exc).__name__}: {exc}", time.time()))

    @property
    def summary(self) -> MetricsSnapshot:
        """What the screen shows of the metrics, as of the last tick."""
        return self._summary

    def turn(self, now: float) -> None:
        """One drain: file what the bus delivered, hand settled traces to the store, and tick once a second."""
        if self._subscription is not None:
            self.process(self._subscription.drain())
        self._persist_traces()
        if self._tick_due(now):
            self._last_tick = now
            self.tick(now)

    def _tick_due(self, now: float) -> bool:
        """Whether a second has ended (EVALUATION_LAG_S ago) since the last tick.

        Ticks follow the clock's seconds rather than coming "a second after the last one": that drifts by a
        drain's length each time, so now and then one tick crossed two period ends and judged a one-second
        period and the next together, and an alarm that fired for that second was OK again before anyone
        (the screen, a test, `lambdatop alarms`) could read it.
        """
        if now < self._last_tick:  # the clock was set back: the gauges and the summary go on (judged periods wait)
            return True
        return math.floor(now - EVALUATION_LAG_S) > math.floor(self._last_tick - EVALUATION_LAG_S)

    def alarm_state(self, name: str) -> str | None:
        alarm = self.alarms.alarms.get(name)
        return str(alarm.state) if alarm is not None else None

    def alarm_fired_since(self, name: str, since: float) -> bool:
        return self.alarms.fired_since(name, since)

    def flush(self) -> None:
        """File every invocation published so far, now, instead of at the next drain (tests read right after)."""
        if self._subscription is not None:
            self.process(self._subscription.drain())

    def process(self, items: list[Any]) -> None:
        """File what the bus delivered: each invocation into traces, metrics and custom metrics."""
        fleet = self.fleet
        for item in items:
            if not isinstance(item, InvocationResult):
                continue
            record = item.record
            pool = fleet.pools.get(record.function) if fleet else None
            function = pool.function if pool else None
            arn = fleet.function_arn(record.function) if fleet and function else None
            self.traces.add_record(record, arn)
            if item.log_lines:
                data = emf.extract(item.log_lines)
                if data:
                    self.metrics.add_data(record.function, data, record.ended_at or time.time())
            if record.segment_id and record.trace_id:
                self._pending_traces[record.segment_id] = (time.time() + TRACE_SETTLE_S, record.request_id, record.trace_id)

    def tick(self, now: float) -> None:
        """Once a second: gauges, new functions' default alarms, alarm evaluation, the screen's summary."""
        self._sample_gauges(now)
        self._sync_functions()
        for alarm, transition in self.alarms.evaluate(self.metrics, now):
            # Every transition is in the alarm's history; only those into or out of ALARM make a notice
            # (a fresh alarm's first INSUFFICIENT_DATA -> OK is not news).
            if self.fleet is not None and AlarmState.ALARM in (transition.old, transition.new):
                d = alarm.definition
                self.fleet.bus.publish(FleetEvent(
                    "alarm", f"Alarm {alarm.name} is {transition.new} ({d.describe()})", transition.at,
                    function=None if d.function == FLEET else d.function,
                    detail={"alarm": alarm.name, "old": str(transition.old), "new": str(transition.new), "reason": transition.reason},
                ))
        self._summary = self._build_summary(now)

    def _sample_gauges(self, now: float) -> None:
        """The gauges, once a second. The fleet takes ConcurrentExecutions at every acquire; this sample adds the
        seconds in which invocations ran on without a new one starting."""
        fleet = self.fleet
        if fleet is None:
            return
        second = int(now)
        for name, in_use in fleet.gate.in_use.items():
            if in_use:
                self.metrics.function(name).gauge("ConcurrentExecutions", float(in_use), second)
        self.metrics.fleet.gauge("ConcurrentExecutions", float(fleet.gate.total_in_use), second)
        if fleet.async_queue is None:
            return
        for name, queue in fleet.async_queue.snapshot().items():
            series = self.metrics.function(name)
            series.gauge("AsyncQueueDepth", float(queue.queue_depth), second)
            if queue.oldest_age_s is not None:
                series.gauge("AsyncEventAge", queue.oldest_age_s * 1000.0, second)  # ms, as Lambda's AsyncEventAge

    def _sync_functions(self) -> None:
        """A reload: a changed `alarms:` section is re-read; added or removed functions get (or lose) their defaults."""
        if self.fleet is None:
            return
        section = self.fleet.config.sections.get("alarms")
        if section != self._section:
            self._section = section
            self._reload_alarms(section)
        current = set(self.fleet.functions)
        if current == self._known_functions:
            return
        for gone in self._known_functions - current:
            self.alarms.remove_function(gone)
        if self._defaults:
            for definition in default_definitions(sorted(current - self._known_functions)):
                if definition.name not in self.alarms.alarms:
                    self.alarms.add(definition, time.time())
        self._known_functions = current

    def _definitions(self, section: Any, where: str, *, warn: bool) -> list[AlarmDefinition]:
        """The `alarms:` section's rules (or the defaults), then the template's own CloudWatch alarms."""
        assert self.fleet is not None
        definitions = parse_rules(section, self.fleet.functions, where)
        config = self.fleet.config
        found = template_alarms(config.template, {name: f.names for name, f in config.functions.items()},
                                config.parameters)
        taken = {d.name for d in definitions}
        definitions += [d for d in found.definitions if d.name not in taken]  # a rule of the same name wins
        if warn:
            for warning in found.warnings:
                self.fleet.bus.publish(FleetEvent("warning", warning, time.time()))
        return definitions

    def _reload_alarms(self, section: Any) -> None:
        """New definitions from a reloaded config; alarms that keep their name keep their state and history."""
        assert self.fleet is not None
        try:
            definitions = self._definitions(section, str(self.fleet.config.path), warn=False)
        except ConfigError as exc:
            self.fleet.bus.publish(FleetEvent("error", f"alarms not reloaded: {exc}", time.time()))
            return
        old = self.alarms.alarms
        fresh = AlarmSet(())
        for definition in definitions:
            fresh.add(definition, time.time())
            previous = old.get(definition.name)
            if previous is not None and previous.definition == definition:
                fresh.alarms[definition.name] = previous
        fresh.transitions = self.alarms.transitions
        self.alarms = fresh
        self._defaults = not (isinstance(section, dict) and section.get("defaults") is False)
        self._known_functions = set(self.fleet.functions)
        self.fleet.snapshot_providers["alarms"] = self.alarms.snapshot
        self.fleet.bus.publish(FleetEvent("reload", f"alarms reloaded: {len(definitions)} defined", time.time()))

    # -- traces -----------------------------------------------------------------------------

    def add_segment(self, document: dict[str, Any]) -> None:
        """File a segment lambdatop records beside the pool (the API Gateway's), as the daemon's documents are."""
        self._on_document(document)

    def _on_document(self, document: dict[str, Any]) -> None:
        trace = self.traces.add_document(document)
        if trace is not None and trace.trace_id in self._persisted:
            # A straggler for an invocation already stored: store it again with the new subsegment.
            for segment_id, request_id in self._persisted[trace.trace_id]:
                self._pending_traces[segment_id] = (time.time() + TRACE_SETTLE_S, request_id, trace.trace_id)

    def _persist_traces(self, force: bool = False) -> None:
        store = self.fleet.store if self.fleet is not None else None
        if not self._pending_traces:
            return
        now = time.time()
        due = [(s, v) for s, v in self._pending_traces.items() if force or v[0] <= now]
        for segment_id, (_, request_id, trace_id) in due:
            del self._pending_traces[segment_id]
            if store is None:
                continue
            trace = self.traces.get(trace_id)
            if trace is None:
                continue
            try:
                store.attach_trace(request_trace(trace, request_id), segment_id=segment_id)
            except Exception:  # noqa: BLE001 - a closed store at shutdown loses a trace, not the run
                continue
            persisted = self._persisted.setdefault(trace_id, [])
            if (segment_id, request_id) not in persisted:
                persisted.append((segment_id, request_id))
            if len(self._persisted) > self.traces.max_traces:
                self._persisted.pop(next(iter(self._persisted)))

    def trace(self, request_id: str) -> Trace | None:
        """The trace an invocation belongs to (with its callers and children), if still in memory."""
        return self.traces.for_request(request_id)

    def trace_documents(self, request_id: str) -> list[dict[str, Any]]:
        """The whole trace of an invocation as segment documents (empty if unknown)."""
        trace = self.traces.for_request(request_id)
        return trace.segment_documents() if trace else []

    def _traces_summary(self) -> TracesView:
        recent = []
        for trace in self.traces.recent(20):
            first = next(iter(trace.requests.values()), None)
            recent.append(RecentTraceView(
                trace_id=trace.trace_id, requests=tuple(trace.request_ids),
                function=first.attempts[0].function if first and first.attempts else None,
                user_documents=len(trace.documents),
            ))
        # Datagrams the daemon took, documents filed or refused: why a user's subsegment is not
        # in its trace shows here instead of nowhere.
        return TracesView(
            count=len(self.traces), documents_received=self.traces.documents_received,
            documents_rejected=self.traces.documents_rejected, datagrams=self.daemon.received,
            malformed=self.daemon.malformed, daemon=self.daemon.address if self.daemon.running else None,
            daemon_error=self.daemon.last_error, recent=tuple(recent),
        )

    # -- summary ----------------------------------------------------------------------------

    def _build_summary(self, now: float) -> MetricsSnapshot:
        functions: dict[str, FunctionMetricsView] = {}
        for name, series in self.metrics.functions.items():
            custom = []
            for key in sorted(m for m in series.totals if "/" in m):
                last = series.window(key, now - 60, now + 1)
                total = series.totals[key]
                custom.append(CustomMetricView(
                    metric=key, unit=series.units.get(key, "None"), samples=total.count, sum=total.total,
                    last_minute_sum=last.total if last.count else None, max=total.maximum if total.count else None,
                    dimensions=tuple(dict(d) for d in sorted(series.dimensions.get(key, ())))[:5]))
            cost = series.cost
            functions[name] = FunctionMetricsView(
                minute=series.summary(60, now), hour=series.summary(3600, now),
                custom=tuple(custom),
                cost=CostView(cost.requests, cost.gb_seconds, cost.total_usd, cost.per_million()),
            )
        return MetricsSnapshot(at=now, functions=functions)


def request_trace(trace: Trace, request_id: str) -> dict[str, Any]:
    """What the store keeps for one invocation: its trace id and every document of the trace.

    The whole trace (caller and children included) is small, and keeping it whole means an
    export of any one invocation shows the full picture.
    """
    return {"trace_id": trace.trace_id, "request_id": request_id, "documents": trace.segment_documents()}


def find(fleet: Any) -> ObservabilityService | None:
    """The observability service attached to `fleet`, if any."""
    for service in getattr(fleet, "services", ()):
        if isinstance(service, ObservabilityService):
            return service
    return None


__all__ = ["ObservabilityService", "find", "request_trace"]
