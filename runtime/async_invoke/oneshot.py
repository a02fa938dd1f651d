"""An Event invocation without the store: validated, then run once in the background.

What `Fleet.enqueue` does when no durable queue is attached (`store:
{enabled: false}`, `serve --no-store`): no durability, no retries, no
destinations; the invocation's record shows what happened.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from lambdatop.runtime.errors import FleetStopped, LambdaServiceError
from lambdatop.runtime.execution.requests import check_payload
from lambdatop.runtime.identifiers import request_id as new_request_id
from lambdatop.runtime.records import InvocationType, Trigger

if TYPE_CHECKING:
    from lambdatop.runtime.fleet import Fleet

_background: set[asyncio.Task[None]] = set()  # kept referenced until done, so the loop cannot drop them


async def deliver_once(
    fleet: Fleet, function: str, payload: bytes, *, trigger: Trigger | str = Trigger.ASYNC, trace: str | None = None,
    request_id: str | None = None, source_arn: str | None = None,
) -> str:
    """An Event invocation without the store: validated, then run once in the background (no durability, no retries)."""
    if not fleet.running:
        raise FleetStopped("lambdatop is not running")
    fleet.resolve(function)
    payload = bytes(payload)
    check_payload(payload, InvocationType.EVENT)
    rid = request_id or new_request_id()
    accepted_at = time.time()

    async def run() -> None:
        try:
            await fleet.invoke(function, payload, invocation_type=InvocationType.EVENT, trigger=trigger, trace=trace,
                               request_id=rid, queued_at=accepted_at, source_arn=source_arn)
        except LambdaServiceError:
            pass  # throttled or stopping: without the store there is no queue to retry from (the record shows it)

    task = asyncio.create_task(run(), name=f"lambdatop-event-{rid}")
    _background.add(task)
    task.add_done_callback(_background.discard)
    return rid

