"""What an invocation starts as: a payload Lambda would accept, and the record that will tell what became of it."""

from __future__ import annotations

import json
import time

from lambdatop.runtime.errors import ASYNC_PAYLOAD_LIMIT, SYNC_PAYLOAD_LIMIT, InvalidRequestContent, RequestTooLarge
from lambdatop.runtime.execution.pool import FunctionPool
from lambdatop.runtime.identifiers import request_id as new_request_id, segment_id, trace_id
from lambdatop.runtime.records import InvocationRecord, InvocationType, Trigger


def new_record(
    pool: FunctionPool, request_id: str | None, trigger: Trigger | str, invocation_type: InvocationType,
    incoming: dict[str, str], queued_at: float | None, route: str | None = None, source_arn: str | None = None,
) -> InvocationRecord:
    """The record an invocation starts with, accepted now; the invoker fills in what happens."""
    now = time.time()
    function = pool.function
    return InvocationRecord(
        request_id=request_id or new_request_id(),
        function=function.name,
        version=pool.version,
        code_version=pool.code_version,
        trigger=str(trigger),
        invocation_type=str(invocation_type),
        started_at=now,
        memory_size_mb=function.memory_size,
        trace_id=incoming.get("Root") or trace_id(now),
        segment_id=segment_id(),
        parent_id=incoming.get("Parent"),
        queued_at=queued_at,
        route=route,
        source_arn=source_arn,
    )


def check_payload(payload: bytes, invocation_type: InvocationType) -> None:
    """What Lambda refuses before any code runs: a payload over the invocation type's limit, or not JSON."""
    limit = ASYNC_PAYLOAD_LIMIT if invocation_type is InvocationType.EVENT else SYNC_PAYLOAD_LIMIT
    if len(payload) > limit:
        raise RequestTooLarge(len(payload), limit)
    if not payload.strip():
        return
    try:
        json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequestContent(f"Could not parse request body into json: Could not parse payload into json: {exc}") from exc
    except RecursionError as exc:  # nested deeper than Python's stack: Lambda's parser refuses such depth too
        raise InvalidRequestContent("Could not parse request body into json: Could not parse payload into json: "
                                    "nested too deeply") from exc
