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
    API = "api"  # Fleet.invoke from library code or tests
    # Event sources and push sources (runtime/triggers/): the service whose event it is.
    SQS = "sqs"
    STREAM = "stream"  # DynamoDB and Kinesis streams
    S3 = "s3"
    SNS = "sns"
    EVENTBRIDGE = "eventbridge"


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

    @property
    def is_error(self) -> bool:
        return self.status.is_function_error

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
