"""X-Ray-like traces: the segments Lambda records for an invocation, plus what user code sends.

For every invocation lambdatop builds the two segments Lambda itself records
(LAMBDA.md §11, the "old layout"):

    AWS::Lambda              the service: accepted → answered (async: Dwell Time, Attempt #n)
    AWS::Lambda::Function    id = record.segment_id (the Parent the worker sees in _X_AMZN_TRACE_ID)
        Initialization       cold starts only (worker clock)
        Invocation           the handler (worker clock)
        Overhead             handler returned → the supervisor finished the record

Supervisor and worker timestamps are both `time.time()` on one machine, so they
share one time base. Subsegments the function's own X-Ray SDK (or Powertools
Tracer) sends to the local daemon name that function segment as `parent_id`, so
they are attached to it here. A child invocation started with the caller's
trace header has the caller's Root as its trace id and joins the same `Trace`.

The index is bounded: the oldest traces are forgotten first.
"""

from __future__ import annotations

import collections
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lambdatop.runtime.records import InvocationRecord, InvocationStatus, InvocationType

SERVICE_ORIGIN = "AWS::Lambda"
FUNCTION_ORIGIN = "AWS::Lambda::Function"
DEFAULT_MAX_TRACES = 5000
_STATUS_HTTP = {
    InvocationStatus.SUCCESS: 200,
    InvocationStatus.ERROR: 200,  # a function error still answers 200 with X-Amz-Function-Error
    InvocationStatus.TIMEOUT: 200,
    InvocationStatus.OUT_OF_MEMORY: 200,
    InvocationStatus.CRASHED: 200,
    InvocationStatus.THROTTLED: 429,
}


def service_segment_id(request_id: str) -> str:
    """The AWS::Lambda segment's id: stable per request, so rebuilding a trace gives the same ids."""
    return hashlib.blake2b(request_id.encode(), digest_size=8).hexdigest()


def _sub_id(segment_id: str, name: str) -> str:
    return hashlib.blake2b(f"{segment_id}/{name}".encode(), digest_size=8).hexdigest()


def queued_at(record: InvocationRecord) -> float | None:
    """When an asynchronous event was accepted into the queue (None for synchronous invocations)."""
    return record.queued_at


def _cause(record: InvocationRecord) -> dict[str, Any]:
    return {
        "working_directory": "/var/task",
        "paths": [],
        "exceptions": [{
            "id": _sub_id(record.segment_id or record.request_id, "exception")[:16],
            "message": record.error_message or "",
            "type": record.error_type or "Unhandled",
        }],
    }


def _flags(doc: dict[str, Any], record: InvocationRecord) -> None:
    """Error flags as X-Ray sets them: a function error or platform kill is a fault of the function."""
    if record.status is InvocationStatus.THROTTLED:
        doc["error"] = True
        doc["throttle"] = True
    elif record.is_error:
        doc["fault"] = True
        doc["cause"] = _cause(record)


def function_segment(record: InvocationRecord, arn: str | None = None) -> dict[str, Any] | None:
    """The AWS::Lambda::Function segment with Initialization / Invocation / Overhead, or None for a throttle."""
    if record.status is InvocationStatus.THROTTLED or not record.segment_id:
        return None
    ended = record.ended_at or record.started_at
    subsegments: list[dict[str, Any]] = []
    start = record.invoke_started_at or record.started_at
    init_end: float | None = None
    if record.cold_start and record.init_started_at:
        # A SnapStart cold start has no Initialization subsegment but a Restore one (DG snapstart-monitoring).
        phase = "Restore" if record.restore_duration_ms is not None else "Initialization"
        init_ms = record.restore_duration_ms if record.restore_duration_ms is not None else record.init_duration_ms
        if init_ms is None:
            init_ms = record.duration_ms
        # The Init the REPORT line reports: after an early Init, the idle wait until this invoke is a gap, not Init.
        init_end = min(record.init_ended_at or record.init_started_at + init_ms / 1000.0, ended)
        start = record.init_started_at
        init = {"id": _sub_id(record.segment_id, phase), "name": phase,
                "start_time": record.init_started_at, "end_time": init_end}
        if record.init_suppressed and record.is_error:
            init["fault"] = True  # Init itself failed (import error, init crash or timeout)
            init["cause"] = _cause(record)
        subsegments.append(init)
    invoke_start: float | None
    invoke_end: float | None
    if record.invoke_started_at and record.invoke_ended_at:
        invoke_start, invoke_end = record.invoke_started_at, record.invoke_ended_at
    elif init_end is not None and record.init_suppressed:
        invoke_start = invoke_end = None  # Init failed: the handler never ran
    else:
        # Killed by the platform (timeout, memory, crash): the worker never reported its times.
        invoke_end = ended
        invoke_start = max(ended - record.duration_ms / 1000.0, init_end or record.started_at)
    if invoke_start is not None and invoke_end is not None:
        invocation: dict[str, Any] = {"id": _sub_id(record.segment_id, "Invocation"), "name": "Invocation",
                                      "start_time": invoke_start, "end_time": invoke_end}
        _flags(invocation, record)
        subsegments.append(invocation)
        if record.invoke_ended_at and ended > invoke_end:
            subsegments.append({"id": _sub_id(record.segment_id, "Overhead"), "name": "Overhead",
                                "start_time": invoke_end, "end_time": ended})
    segment: dict[str, Any] = {
        "id": record.segment_id,
        "name": record.function,
        "trace_id": record.trace_id,
        "parent_id": service_segment_id(record.request_id),
        "start_time": min(start, ended),
        "end_time": ended,
        "origin": FUNCTION_ORIGIN,
        "aws": {"request_id": record.request_id, "function_version": record.version},
        "annotations": {"cold_start": record.cold_start},
        "metadata": {"lambdatop": {
            "status": str(record.status), "env_id": record.env_id, "pid": record.pid,
            "duration_ms": round(record.duration_ms, 2), "billed_duration_ms": record.billed_duration_ms,
            "init_duration_ms": record.init_duration_ms, "restore_duration_ms": record.restore_duration_ms,
            "memory_size_mb": record.memory_size_mb,
            "max_memory_used_mb": record.max_memory_used_mb, "code_version": record.code_version,
            "trigger": record.trigger,
        }},
        "subsegments": subsegments,
    }
    if arn:
        segment["resource_arn"] = arn
    if record.error_type:
        segment["annotations"]["error_type"] = record.error_type
    _flags(segment, record)
    return segment


def service_segment(attempts: list[InvocationRecord], arn: str | None = None, enqueued: float | None = None) -> dict[str, Any]:
    """The AWS::Lambda segment for one request: all its attempts (throttled retries included)."""
    first, last = attempts[0], attempts[-1]
    seg_id = service_segment_id(first.request_id)
    is_async = first.invocation_type == InvocationType.EVENT
    begin = min(enqueued or first.started_at, first.started_at)
    end = max(r.ended_at or r.started_at for r in attempts)
    subsegments: list[dict[str, Any]] = []
    if is_async and enqueued is not None:
        subsegments.append({"id": _sub_id(seg_id, "Dwell Time"), "name": "Dwell Time",
                            "start_time": begin, "end_time": first.started_at})
    if is_async or len(attempts) > 1:
        for number, attempt in enumerate(attempts, 1):
            sub: dict[str, Any] = {"id": _sub_id(seg_id, f"Attempt #{number}"), "name": f"Attempt #{number}",
                                   "start_time": attempt.started_at, "end_time": attempt.ended_at or attempt.started_at,
                                   "annotations": {"status": str(attempt.status)}}
            _flags(sub, attempt)
            subsegments.append(sub)
    segment: dict[str, Any] = {
        "id": seg_id,
        "name": first.function,
        "trace_id": first.trace_id,
        "start_time": begin,
        "end_time": end,
        "origin": SERVICE_ORIGIN,
        "http": {"response": {"status": _STATUS_HTTP.get(last.status, 200)}},
        "aws": {"request_id": first.request_id, "invocation_type": first.invocation_type, "attempts": len(attempts)},
        "annotations": {"trigger": first.trigger},
    }
    if first.parent_id:
        segment["parent_id"] = first.parent_id
    if arn:
        segment["resource_arn"] = arn
    if subsegments:
        segment["subsegments"] = subsegments
    if last.status is InvocationStatus.THROTTLED:
        _flags(segment, last)
    return segment


@dataclass
class RequestTrace:
    """One request's part of a trace: its attempts (usually one) and when it was queued."""

    request_id: str
    attempts: list[InvocationRecord] = field(default_factory=list)
    enqueued_at: float | None = None
    arn: str | None = None

    def segments(self) -> list[dict[str, Any]]:
        out = [service_segment(self.attempts, self.arn, self.enqueued_at)]
        for attempt in self.attempts:
            segment = function_segment(attempt, self.arn)
            if segment is not None:
                out.append(segment)
        return out


@dataclass
class Trace:
    """Everything known under one trace id: Lambda's segments per request and user documents by id."""

    trace_id: str
    requests: dict[str, RequestTrace] = field(default_factory=dict)
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)  # user (sub)segments by id, latest wins

    @property
    def request_ids(self) -> list[str]:
        return list(self.requests)

    def segment_documents(self) -> list[dict[str, Any]]:
        """The trace as X-Ray's BatchGetTraces gives it: top-level segments with nested subsegments.

        User subsegments are attached under the segment (or subsegment) their parent_id names;
        ones whose parent is unknown stay top-level so nothing is lost.
        """
        segments: list[dict[str, Any]] = []
        for request in self.requests.values():
            segments.extend(request.segments())
        index: dict[str, dict[str, Any]] = {}

        def register(node: dict[str, Any]) -> None:
            index[node["id"]] = node
            for child in node.get("subsegments", ()):
                register(child)

        for segment in segments:
            register(segment)
        users = [dict(doc) for doc in self.documents.values()]
        for doc in users:
            register(doc)
        for doc in sorted(users, key=lambda d: d.get("start_time", 0.0)):
            parent = index.get(doc.get("parent_id", "")) if doc.get("type") == "subsegment" else None
            if parent is not None and parent is not doc:
                parent.setdefault("subsegments", []).append(doc)
            else:
                segments.append(doc)
        return segments

    def to_xray(self) -> dict[str, Any]:
        """`{"Id", "Duration", "Segments": [{"Id", "Document"}]}` as in BatchGetTraces (Document as an object)."""
        import json

        docs = self.segment_documents()
        starts = [d["start_time"] for d in docs if "start_time" in d]
        ends = [d.get("end_time", d.get("start_time", 0.0)) for d in docs]
        return {
            "Id": self.trace_id,
            "Duration": round(max(ends) - min(starts), 6) if starts and ends else 0.0,
            "Segments": [{"Id": d["id"], "Document": json.dumps(d, separators=(",", ":"))} for d in docs],
        }


class TraceIndex:
    """Recent traces by trace id and by request id, bounded to `max_traces` (oldest dropped first)."""

    def __init__(self, max_traces: int = DEFAULT_MAX_TRACES) -> None:
        self.max_traces = max_traces
        self._traces: collections.OrderedDict[str, Trace] = collections.OrderedDict()
        self._by_request: dict[str, str] = {}
        self._aliases: dict[str, str] = {}  # a retry's own trace id -> the trace of its request
        self.documents_received = 0
        self.documents_rejected = 0

    def __len__(self) -> int:
        return len(self._traces)

    def _trace(self, trace_id: str) -> Trace:
        trace = self._traces.get(trace_id)
        if trace is None:
            trace = self._traces[trace_id] = Trace(trace_id)
            while len(self._traces) > self.max_traces:
                _, old = self._traces.popitem(last=False)
                for request_id in old.requests:
                    if self._by_request.get(request_id) == old.trace_id:
                        del self._by_request[request_id]
        else:
            self._traces.move_to_end(trace_id)
        return trace

    def add_record(self, record: InvocationRecord, arn: str | None = None, enqueued_at: float | None = None) -> Trace:
        """File a finished invocation (or a throttled attempt) under its trace. O(1)."""
        # A retried attempt of a request already seen joins that request, whatever trace id it was given;
        # its own trace id becomes an alias, so the subsegments its code sent (under that id) follow it.
        trace_id = self._by_request.get(record.request_id) or record.trace_id or f"untraced-{record.request_id}"
        if record.trace_id and record.trace_id != trace_id:
            self._alias(record.trace_id, trace_id)
        trace = self._trace(trace_id)
        request = trace.requests.get(record.request_id)
        if request is None:
            request = trace.requests[record.request_id] = RequestTrace(record.request_id, arn=arn)
            self._by_request[record.request_id] = trace_id
        request.attempts.append(record)
        request.enqueued_at = enqueued_at or request.enqueued_at or queued_at(record)
        return trace

    def _alias(self, alias: str, canonical: str) -> None:
        """Documents filed (or to be filed) under `alias` belong to the trace `canonical`."""
        self._aliases[alias] = canonical
        if len(self._aliases) > self.max_traces:
            self._aliases.pop(next(iter(self._aliases)))
        stray = self._traces.pop(alias, None)
        if stray is not None:
            target = self._trace(canonical)
            target.documents.update(stray.documents)

    def add_document(self, doc: dict[str, Any]) -> Trace | None:
        """File a segment or subsegment document from the daemon; returns its trace, or None if unusable."""
        trace_id = doc.get("trace_id")
        doc_id = doc.get("id")
        if not isinstance(trace_id, str) or not isinstance(doc_id, str) or "start_time" not in doc:
            self.documents_rejected += 1
            return None
        self.documents_received += 1
        trace = self._trace(self._aliases.get(trace_id, trace_id))
        trace.documents[doc_id] = doc
        return trace

    def get(self, trace_id: str) -> Trace | None:
        return self._traces.get(trace_id)

    def for_request(self, request_id: str) -> Trace | None:
        trace_id = self._by_request.get(request_id)
        return self._traces.get(trace_id) if trace_id else None

    def recent(self, limit: int = 50) -> list[Trace]:
        """Newest first."""
        out = []
        for trace in reversed(self._traces.values()):
            out.append(trace)
            if len(out) >= limit:
                break
        return out

    def traces(self) -> Iterable[Trace]:
        return list(self._traces.values())
