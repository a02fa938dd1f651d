"""Sustained throughput: no-op invocations with enough in flight to keep both cores busy.

Every invocation must also come out of the telemetry bus as a record (the
figure counts only invocations whose record was kept), so the rate is what
the whole pipeline sustains, not just the socket.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationResult, InvocationStatus

DEFAULT_CONCURRENCY = 8  # workers kept busy: enough that the supervisor never waits on one of them


@dataclass(slots=True)
class Sustained:
    invocations: int
    records: int
    failures: int
    elapsed_s: float
    concurrency: int
    environments: int

    @property
    def rate(self) -> float:
        return self.records / self.elapsed_s if self.elapsed_s else 0.0


async def sustained(fleet: Fleet, function: str, seconds: float, concurrency: int = DEFAULT_CONCURRENCY) -> Sustained:
    """Run `concurrency` back-to-back invokers for `seconds` (after a short warm-up) and count kept records."""
    event = b'{"n": 1}'
    # Warm-up: create the environments so cold starts do not count against the rate.
    await asyncio.gather(*(fleet.invoke(function, event) for _ in range(concurrency)))
    for _ in range(3):
        await asyncio.gather(*(fleet.invoke(function, event) for _ in range(concurrency)))
    subscription = fleet.subscribe(f"bench-throughput-{id(object())}", maxlen=5_000_000)
    invocations = failures = 0
    stop_at = time.perf_counter() + seconds

    async def lane() -> None:
        nonlocal invocations, failures
        perf = time.perf_counter
        while perf() < stop_at:
            result = await fleet.invoke(function, event)
            invocations += 1
            if result.record.status is not InvocationStatus.SUCCESS:
                failures += 1

    begin = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    elapsed = time.perf_counter() - begin
    kept = sum(1 for item in subscription.drain() if isinstance(item, InvocationResult))
    fleet.bus.unsubscribe(subscription)
    return Sustained(invocations, kept, failures, elapsed, concurrency, len(fleet.pools[function].envs))
