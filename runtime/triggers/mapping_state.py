"""The live state of one event source mapping, as the plumbing view and the Lambda API show it."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass


class MappingState(enum.StrEnum):
    """Lambda's State values for an event source mapping."""

    CREATING = "Creating"
    ENABLED = "Enabled"
    DISABLED = "Disabled"
    UPDATING = "Updating"
    # lambdatop's own: a mapping Lambda would refuse to create (its error says why); it does not poll.
    REFUSED = "Refused"


@dataclass(slots=True)
class MappingStats:
    batches: int = 0
    records: int = 0
    failed_batches: int = 0
    throttles: int = 0
    filtered_out: int = 0
    in_flight: int = 0
    last_poll_at: float | None = None
    last_result: str = "No records processed"  # LastProcessingResult
    last_error: str | None = None
    last_error_at: float | None = None
    iterator_age_ms: float | None = None  # streams: how far behind the newest record the poller is

    def error(self, message: str) -> None:
        self.last_error, self.last_error_at = message, time.time()


@dataclass(frozen=True, slots=True)
class MappingSnapshot:
    """One mapping, for the screen: source → function, state, batch size, and how it is doing."""

    uuid: str
    kind: str  # "sqs", "dynamodb", "kinesis", "s3", "sns", "eventbridge"
    function: str
    event: str
    source_arn: str
    state: str
    batch_size: int | None
    batches: int
    records: int
    failed_batches: int
    throttles: int
    in_flight: int
    last_poll_at: float | None
    last_error: str | None
    iterator_age_ms: float | None = None
