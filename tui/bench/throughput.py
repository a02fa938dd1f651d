"""Sustained throughput: no-op invocations with enough in flight to keep both cores busy.

Every invocation must also come out of the telemetry bus as a record (the
figure counts only invocations whose record was kept), so the rate is what
the whole pipeline sustains, not just the socket.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationResult, InvocationStatus
from lambdatop.tui.bench.results import Figure

if TYPE_CHECKING:
    from lambdatop.tui.bench.runner import BenchContext

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


THROUGHPUT_TARGET = 5_000.0
ONE_SHOT_MULTIPLE = 50.0


def throughput_figures(scenario: str, label: str, outcome: Sustained, ctx: BenchContext) -> list[Figure]:
    note = f"{outcome.concurrency} in flight, {outcome.environments} envs, {outcome.elapsed_s:.1f} s"
    if outcome.failures or outcome.records != outcome.invocations:
        note += f"; {outcome.failures} failed, {outcome.invocations - outcome.records} records missing"
    rate = Figure(scenario, label, "inv/s", value=outcome.rate, samples=outcome.records, note=note)
    rate.judge("one process per invocation", ctx.baselines.get("one_shot_rate"), "≥ 5,000/s and ≥ 50× baseline", ONE_SHOT_MULTIPLE, at_least=True)
    if rate.met is not None:
        rate.met = rate.met and outcome.rate >= THROUGHPUT_TARGET and not outcome.failures and outcome.records == outcome.invocations
    ceiling = Figure(scenario, f"{label}, share of the ceiling", "inv/s", value=outcome.rate, samples=outcome.records)
    ceiling.judge("direct in-process calls", ctx.baselines.get("direct_rate"), "report", None)
    return [rate, ceiling]


async def run(ctx: BenchContext) -> list[Figure]:
    async with Fleet(ctx.project.config_path) as fleet:
        outcome = await sustained(fleet, "noop", ctx.budget.throughput_s)
    ctx.baselines["throughput_rate"] = outcome.rate
    return throughput_figures("throughput", "no-op, records kept", outcome, ctx)
