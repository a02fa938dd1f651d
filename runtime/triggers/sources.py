"""The event sources a template declares, read from its functions' `Events:` into typed specs.

Each function's `Events` is kept raw in its config (resolved against the local
resources, so `Queue: !GetAtt MyQueue.Arn` is the sidecar queue's ARN). This
module turns them into `QueueMapping`, `StreamMapping` and `PushSource`
records with Lambda's defaults; `read_sources` lists them for the trigger
service, and names what it cannot run.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lambdatop.runtime.config import FleetConfig, FunctionConfig
from lambdatop.runtime.triggers.filters import EventFilter

_NAMESPACE = uuid.UUID("6f1c3a52-9d0e-4b8e-9a51-1a2b3c4d5e6f")
SQS_DEFAULT_BATCH = 10
STREAM_DEFAULT_BATCH = 100
MAX_PARALLELIZATION = 10  # concurrent batches per shard (LAMBDA.md §9)
MAX_CONCURRENCY_DEFAULT = 5  # Lambda starts an SQS mapping at 5 concurrent batches (LAMBDA.md §9)
# Handled by other capabilities: API routes (issue 14), schedules (triggers/schedules.py).
_ELSEWHERE = {"Api", "HttpApi", "Schedule", "ScheduleV2", "FunctionUrl"}


class PushKind(enum.StrEnum):
    S3 = "s3"
    SNS = "sns"
    EVENTBRIDGE = "eventbridge"


@dataclass(frozen=True)
class QueueMapping:
    """An SQS event source mapping."""

    uuid: str
    function: str
    event: str  # the logical name under Events:
    queue_arn: str
    batch_size: int = SQS_DEFAULT_BATCH
    window_s: float = 0.0  # MaximumBatchingWindowInSeconds
    report_failures: bool = False  # FunctionResponseTypes: [ReportBatchItemFailures]
    max_concurrency: int = MAX_CONCURRENCY_DEFAULT
    filter: EventFilter = field(default_factory=EventFilter)
    enabled: bool = True

    @property
    def source_arn(self) -> str:
        return self.queue_arn

    @property
    def fifo(self) -> bool:
        return self.queue_arn.endswith(".fifo")


@dataclass(frozen=True)
class StreamMapping:
    """A DynamoDB or Kinesis stream event source mapping."""

    uuid: str
    function: str
    event: str
    kind: str  # "dynamodb" or "kinesis"
    stream_arn: str
    starting_position: str = "LATEST"
    starting_timestamp: float | None = None  # StartingPositionTimestamp (epoch seconds), for AT_TIMESTAMP
    batch_size: int = STREAM_DEFAULT_BATCH
    window_s: float = 0.0
    bisect_on_error: bool = False
    max_retries: int = -1  # -1: until the record expires
    max_record_age_s: int = -1
    parallelization: int = 1
    on_failure: str | None = None  # an SQS queue or SNS topic ARN
    report_failures: bool = False
    filter: EventFilter = field(default_factory=EventFilter)
    enabled: bool = True

    @property
    def source_arn(self) -> str:
        return self.stream_arn


@dataclass(frozen=True)
class PushSource:
    """An S3 notification, SNS subscription or EventBridge rule that invokes a function asynchronously."""

    uuid: str
    function: str
    event: str
    kind: PushKind
    properties: Mapping[str, Any]

    @property
    def source_arn(self) -> str:
        props = self.properties
        if self.kind is PushKind.S3:
            return f"arn:aws:s3:::{props.get('Bucket')}"
        return str(props.get("Topic") or props.get("EventBusName") or "default")


Source = QueueMapping | StreamMapping | PushSource


@dataclass(frozen=True)
class Sources:
    mappings: tuple[QueueMapping | StreamMapping, ...] = ()
    push: tuple[PushSource, ...] = ()
    problems: tuple[str, ...] = ()


def read_sources(config: FleetConfig) -> Sources:
    mappings: list[QueueMapping | StreamMapping] = []
    push: list[PushSource] = []
    problems: list[str] = []
    for function in config.functions.values():
        for name, event in (function.events or {}).items():
            if not isinstance(event, Mapping):
                continue
            kind, props = str(event.get("Type", "")), event.get("Properties") or {}
            ident = str(uuid.uuid5(_NAMESPACE, f"{function.name}/{name}"))
            try:
                source = _source(ident, function, str(name), kind, props)
            except (TypeError, ValueError) as exc:
                problems.append(f"{function.name}.{name} ({kind}): {exc}")
                continue
            if source is None:
                if kind not in _ELSEWHERE:
                    problems.append(f"{function.name}.{name}: event type {kind or '?'} is not run locally")
            elif isinstance(source, PushSource):
                push.append(source)
            else:
                mappings.append(source)
    return Sources(tuple(mappings), tuple(push), tuple(problems))


def _source(ident: str, function: FunctionConfig, name: str, kind: str, props: Mapping[str, Any]) -> Source | None:
    enabled = props.get("Enabled", True) is not False
    criteria = EventFilter.from_criteria(props.get("FilterCriteria"))
    responses = props.get("FunctionResponseTypes") or ()
    if kind == "SQS":
        arn = _arn(props.get("Queue"), "Queue")
        scaling = props.get("ScalingConfig") or {}
        return QueueMapping(
            ident, function.name, name, arn, batch_size=int(props.get("BatchSize", SQS_DEFAULT_BATCH)),
            window_s=float(props.get("MaximumBatchingWindowInSeconds", 0)), report_failures="ReportBatchItemFailures" in responses,
            max_concurrency=int(scaling.get("MaximumConcurrency", MAX_CONCURRENCY_DEFAULT)), filter=criteria, enabled=enabled,
        )
    if kind in ("DynamoDB", "Kinesis"):
        arn = _arn(props.get("Stream"), "Stream")
        destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        position, timestamp = _starting_position(kind, props)
        parallelization = int(props.get("ParallelizationFactor", 1))
        if not 1 <= parallelization <= MAX_PARALLELIZATION:
            raise ValueError(f"ParallelizationFactor must be between 1 and {MAX_PARALLELIZATION}, got {parallelization}")
        return StreamMapping(
            ident, function.name, name, kind.lower(), arn, starting_position=position, starting_timestamp=timestamp,
            batch_size=int(props.get("BatchSize", STREAM_DEFAULT_BATCH)),
            window_s=float(props.get("MaximumBatchingWindowInSeconds", 0)),
            bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
            max_retries=int(props.get("MaximumRetryAttempts", -1)), max_record_age_s=int(props.get("MaximumRecordAgeInSeconds", -1)),
            parallelization=parallelization, on_failure=str(destination) if destination else None,
            report_failures="ReportBatchItemFailures" in responses, filter=criteria, enabled=enabled,
        )
    if kind == "S3":
        _arn(props.get("Bucket"), "Bucket")
        return PushSource(ident, function.name, name, PushKind.S3, props)
    if kind == "SNS":
        _arn(props.get("Topic"), "Topic")
        return PushSource(ident, function.name, name, PushKind.SNS, props)
    if kind in ("EventBridgeRule", "CloudWatchEvent"):
        if not props.get("Pattern"):
            raise ValueError("needs a Pattern")
        return PushSource(ident, function.name, name, PushKind.EVENTBRIDGE, props)
    return None


def _starting_position(kind: str, props: Mapping[str, Any]) -> tuple[str, float | None]:
    """StartingPosition as Lambda takes it: TRIM_HORIZON, LATEST, or (Kinesis only) AT_TIMESTAMP with its timestamp."""
    position = str(props.get("StartingPosition", "LATEST"))
    if position not in ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"):
        raise ValueError(f"StartingPosition must be TRIM_HORIZON, LATEST or AT_TIMESTAMP, got {position}")
    if position != "AT_TIMESTAMP":
        return position, None
    if kind != "Kinesis":
        raise ValueError("StartingPosition AT_TIMESTAMP is only for Kinesis streams")
    timestamp = props.get("StartingPositionTimestamp")
    if not isinstance(timestamp, (int, float)) or isinstance(timestamp, bool):
        raise ValueError("StartingPosition AT_TIMESTAMP needs StartingPositionTimestamp (seconds since the epoch)")
    return position, float(timestamp)


def _arn(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} is missing")
    if value.startswith("<"):
        raise ValueError(f"{key} {value} is not a resource that exists locally")
    return value
