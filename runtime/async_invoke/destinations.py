"""Where an asynchronous invocation's outcome goes: destinations and the dead-letter queue.

A function's `EventInvokeConfig` (SAM) or `async:` (lambdatop.yaml) may name an
`OnSuccess` and an `OnFailure` destination, and `DeadLetterQueue` a DLQ. Here a
destination is either another function of the fleet (invoked asynchronously
with Lambda's invocation record as its event) or a local queue: a table in the
store named after the SQS/SNS/EventBridge/S3 target (`my-dlq` for
`arn:aws:sqs:us-east-1:123456789012:my-dlq`), readable with `StoreReader.messages()`.
"""

from __future__ import annotations

import time
from typing import Any

from lambdatop.runtime.records import payload_value

ERROR_MESSAGE_LIMIT = 1024  # the DLQ's ErrorMessage attribute holds the first 1 KB
# The trigger of a delivery a destination made (replay skips them: replaying the source makes them again).
DESTINATION_TRIGGER = "destination"


class Condition:
    """Why an invocation record was sent (requestContext.condition)."""

    SUCCESS = "Success"
    RETRIES_EXHAUSTED = "RetriesExhausted"
    EVENT_AGE_EXCEEDED = "EventAgeExceeded"
    ZERO_RESERVED_CONCURRENCY = "ZeroReservedConcurrency"


# -- what gets sent ---------------------------------------------------------------------


def _iso(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"



def invocation_record(
    *,
    request_id: str,
    function_arn: str,
    condition: str,
    approximate_invoke_count: int,
    request_payload: bytes,
    response_payload: bytes | None = None,
    function_error: str | None = None,
    executed_version: str = "$LATEST",
    now: float | None = None,
) -> dict[str, Any]:
    """Lambda's invocation record, as a destination receives it."""
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": _iso(now if now is not None else time.time()),
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": approximate_invoke_count,
        },
        "requestPayload": payload_value(request_payload),
    }
    if condition != Condition.ZERO_RESERVED_CONCURRENCY and response_payload is not None:
        context: dict[str, Any] = {"statusCode": 200, "executedVersion": executed_version}
        if function_error:
            context["functionError"] = function_error
        record["responseContext"] = context
        record["responsePayload"] = payload_value(response_payload)
    return record


def dead_letter_attributes(request_id: str, error_code: int, error_message: str) -> dict[str, Any]:
    """The DLQ message's attributes, in SQS's messageAttributes shape."""
    return {
        "RequestID": {"DataType": "String", "StringValue": request_id},
        "ErrorCode": {"DataType": "Number", "StringValue": str(error_code)},
        "ErrorMessage": {"DataType": "String", "StringValue": error_message[:ERROR_MESSAGE_LIMIT]},
    }
