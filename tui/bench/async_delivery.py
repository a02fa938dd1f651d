"""Asynchronous invocations through the durable queue: accepted → delivered latency and the enqueue rate.

The store and the async queue are attached as `lambdatop serve` attaches them
(SQLite in the generated project's .lambdatop/). Latency: one event at a time,
from `fleet.enqueue` returning (committed, the caller told "202 accepted") to
its delivery settling. Rate: events accepted per second with several callers
at once, each acceptance committed before it returns; then every one of them
must be delivered.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from lambdatop.runtime.fleet import Fleet
from lambdatop.tui.bench.results import Figure, latency

if TYPE_CHECKING:
    from lambdatop.tui.bench.runner import BenchContext

ENQUEUERS = 16
DELIVERY_TIMEOUT_S = 60.0


async def _settle(fleet: Fleet, request_id: str) -> Any:
    assert fleet.async_queue is not None  # attach_store_services attached it
    return await asyncio.wait_for(fleet.async_queue.settled(request_id), DELIVERY_TIMEOUT_S)


async def run(ctx: BenchContext) -> list[Figure]:
    from lambdatop.runtime.services import attach_store_services

    fleet = Fleet(ctx.project.config_path)
    attach_store_services(fleet, enabled=True, adopt=False, command="bench")
    event = b'{"n": 1}'
    samples = max(20, ctx.budget.async_messages // 10)
    async with fleet:
        if fleet.async_queue is None:
            raise RuntimeError("the async queue service did not attach")
        await fleet.invoke("noop", event)  # a warm environment, so latency is the queue's, not a cold start's
        delays = []
        for _ in range(samples):
            request_id = await fleet.enqueue("noop", event)
            accepted = time.perf_counter()
            result = await _settle(fleet, request_id)
            if result is None or result.record.status != "success":
                raise RuntimeError(f"async event {request_id} was not delivered successfully: {result}")
            delays.append(time.perf_counter() - accepted)

        count = ctx.budget.async_messages
        remaining = count
        accepted_ids: list[str] = []

        async def enqueuer() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                accepted_ids.append(await fleet.enqueue("noop", event))

        begin = time.perf_counter()
        await asyncio.gather(*(enqueuer() for _ in range(ENQUEUERS)))
        accept_s = time.perf_counter() - begin
        settled = await asyncio.gather(*(_settle(fleet, rid) for rid in accepted_ids))
        all_s = time.perf_counter() - begin
        failed = sum(1 for r in settled if r is not None and r.record.status != "success")
    note = f"{count} events, {ENQUEUERS} callers; {failed} failed; all delivered {all_s:.1f} s after the first was sent"
    figures = [
        latency("async", "accepted → delivered (one at a time)", delays, unit="ms"),
        Figure("async", "durable enqueue rate (committed before accepted)", "inv/s", value=count / accept_s, samples=count, note=note),
        Figure("async", "enqueue + delivery rate", "inv/s", value=count / all_s, samples=count),
    ]
    if failed:
        figures[1].error = f"{failed} of {count} events failed"
    return figures
