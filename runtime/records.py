"""What one invocation leaves behind.

Every invocation, whatever becomes of it, yields exactly one `InvocationRecord`.
Records, not log text, feed metrics, alarms, the store and the screen.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field
from typing import Any


class InvocationStatus(enum.StrEnum):
    SUCCESS = "success"
    ERROR = "error"  # the function raised, or the runtime reported an error
    TIMEOUT = "timeout"
    THROTTLED = "throttled"
    OUT_OF_MEMORY = "out_of_memory"
    CRASHED = "crashed"  # the worker process died mid-invocation

    @property
    def is_function_error(self) -> bool:
        """True for outcomes Lambda reports with X-Amz-Function-Error."""
        return self not in (InvocationStatus.SUCCESS, InvocationStatus.THROTTLED)


class InvocationType(enum.StrEnum):
    REQUEST_RESPONSE = "RequestResponse"
    EVENT = "Event"
    DRY_RUN = "DryRun"


class Trigger(enum.StrEnum):
    """Where an invocation came from."""

    CLI = "cli"
    KEY = "key"
    HTTP = "http"
    URL = "url"
    SCHEDULE = "schedule"
    QUEUE = "queue"
    REPLAY = "replay"
    ASYNC = "async"
    API = "api"  # API Gateway: a route of the template's REST or HTTP APIs (record.route says which)
    LIBRARY = "library"  # Fleet.invoke from library code or tests
    # Event sources and push sources (runtime/triggers/): the service whose event it is.
    SQS = "sqs"
    STREAM = "stream"  # DynamoDB and Kinesis streams
    S3 = "s3"
    SNS = "sns"
    EVENTBRIDGE = "eventbridge"
    TUNE = "tune"  # power tuning (runtime/tuning/): `lambdatop tune` or the dashboard's `T`


@dataclass(slots=True)
class InvocationRecord:
    request_id: str
    function: str
    version: str  # the Lambda version that ran: "$LATEST" or a number
    code_version: str  # lambdatop's code version of the function ("v1", "v2", ...)
    trigger: str
    invocation_type: str
    started_at: float  # epoch seconds when the invocation was accepted
    status: InvocationStatus = InvocationStatus.SUCCESS
    cold_start: bool = False
    init_duration_ms: float | None = None
    # A cold start that reports no Init Duration: its Init failed, or was retried inside the invoke
    # phase (Lambda's suppressed init), and that time counts as Duration.
    init_suppressed: bool = False
    # A SnapStart environment's first invocation: no Init Duration (Init ran when the version was published), the
    # restore from its snapshot instead; Restore Duration is the whole restore, the billed part is its own inside.
    restore_duration_ms: float | None = None
    billed_restore_duration_ms: int | None = None
    duration_ms: float = 0.0
    billed_duration_ms: int = 0
    memory_size_mb: int = 128
    max_memory_used_mb: int = 0
    error_type: str | None = None
    error_message: str | None = None
    env_id: str | None = None
    pid: int | None = None
    trace_id: str | None = None
    segment_id: str | None = None
    parent_id: str | None = None  # the caller's segment, when a trace header came in
    queued_at: float | None = None  # asynchronous invocations: when the event was accepted (epoch s)
    source_arn: str | None = None  # event source mappings: the queue or stream the batch came from
    ended_at: float = 0.0
    # Worker-clock timestamps (epoch seconds) for the trace view: init and handler phases.
    init_started_at: float | None = None
    invoke_started_at: float | None = None
    invoke_ended_at: float | None = None
    # When the Init that `init_duration_ms` reports ended (its start + that duration). Before `started_at`
    # when the environment was initialised early (a reload's pre-warm): the wait until this invoke is idle.
    init_ended_at: float | None = None
    route: str | None = None  # API Gateway invocations: the route that took the request, "GET /hello (ServerlessRestApi)"

    @property
    def is_error(self) -> bool:
        return self.status.is_function_error

    @property
    def initialized_early(self) -> bool:
        """Init ran before this request was accepted, so none of the wait after it belongs to the request."""
        return self.cold_start and self.init_ended_at is not None and self.init_ended_at <= self.started_at

    def phases(self) -> list[tuple[str, float]]:
        """(phase, ms) in order: dispatch, init or restore (cold starts), invoke, after; phases that did not happen are left out.

        An early Init counts its own duration, never the idle wait between it and
        this invoke, so it agrees with the REPORT line's Init Duration.
        """
        if self.status is InvocationStatus.THROTTLED:
            return []
        end = self.ended_at or (self.started_at + self.duration_ms / 1000)
        out: list[tuple[str, float]] = []
        cursor = self.started_at
        if self.initialized_early and self.init_duration_ms is not None:
            out.append(("init", self.init_duration_ms))
        elif self.cold_start and self.init_started_at and self.invoke_started_at:
            if self.init_started_at > cursor:
                out.append(("dispatch", (self.init_started_at - cursor) * 1000))
            phase = "restore" if self.restore_duration_ms is not None else "init"  # a SnapStart cold start restores
            out.append((phase, (self.invoke_started_at - self.init_started_at) * 1000))
            cursor = self.invoke_started_at
        if self.invoke_started_at and self.invoke_started_at > cursor:
            out.append(("dispatch", (self.invoke_started_at - cursor) * 1000))
            cursor = self.invoke_started_at
        invoke_end = self.invoke_ended_at or (cursor + self.duration_ms / 1000)
        out.append(("invoke", max(0.0, (invoke_end - cursor) * 1000)))
        if end > invoke_end:
            out.append(("after", (end - invoke_end) * 1000))
        return [(name, value) for name, value in out if value >= 0]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = str(self.status)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


def payload_value(data: bytes | None) -> Any:
    """A request or response payload as JSON data, or as text when it is not JSON (None when empty)."""
    if not data:
        return None
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return data.decode("utf-8", "replace")


@dataclass(slots=True)
class InvocationResult:
    """A finished invocation: its record, what went in, what came out, and its log."""

    record: InvocationRecord
    request: bytes
    response: bytes  # the response payload, or the error object as JSON
    log_lines: list[str] = field(default_factory=list)  # START .. REPORT, as CloudWatch would hold them

    @property
    def function_error(self) -> str | None:
        """The X-Amz-Function-Error header value, or None on success."""
        return "Unhandled" if self.record.is_error else None

    @property
    def log_text(self) -> str:
        return "".join(line if line.endswith("\n") else line + "\n" for line in self.log_lines)
