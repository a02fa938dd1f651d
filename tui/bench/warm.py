"""Warm invoke, one at a time: the round trip through `Fleet.invoke` minus the handler's own time.

The handler is a no-op; its own time is the Duration the worker reports (the
span Lambda bills: event decode, the call, response encode). Overhead is
everything else: validation, the gate, the pool, ids, the socket round trip,
the freeze/thaw signals, the records, the log lines and the stats update.

An environment is frozen once it has been idle for a few ms (FREEZE_GRACE_S),
so a caller that invokes again at once (this loop) takes it back unfrozen. The
third run waits until the environment is frozen before each invocation, as a
caller that is not back to back finds it: each invocation then pays the thaw
and the freeze.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from typing import TYPE_CHECKING

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationStatus
from lambdatop.tui.bench.results import Figure, latency

if TYPE_CHECKING:
    from lambdatop.tui.bench.runner import BenchContext


class WarmSamples:
    """Per-invocation round trips and reported Durations, in seconds."""

    def __init__(self) -> None:
        self.round_trips: list[float] = []
        self.overheads: list[float] = []

    def add(self, round_trip: float, duration_ms: float) -> None:
        self.round_trips.append(round_trip)
        self.overheads.append(round_trip - duration_ms / 1000)


async def sequential(fleet: Fleet, function: str, samples: int, warmup: int = 200, frozen_between: bool = False) -> WarmSamples:
    """`samples` warm invocations of `function`, awaited one after the other (each on a frozen environment, if asked)."""
    event = b'{"n": 1}'
    measured = WarmSamples()
    perf = time.perf_counter
    for index in range(warmup + samples):
        begin = perf()
        result = await fleet.invoke(function, event)
        elapsed = perf() - begin
        record = result.record
        if record.status is not InvocationStatus.SUCCESS:
            raise RuntimeError(f"warm invoke of {function} failed: {record.error_type}: {record.error_message}")
        if index >= warmup:
            if record.cold_start:
                raise RuntimeError(f"{function}: a cold start during the warm run (env {record.env_id})")
            measured.add(elapsed, record.duration_ms)
        if frozen_between:
            while not all(env.frozen for env in fleet.environments(function)):
                await asyncio.sleep(0.001)
    return measured


async def run(ctx: BenchContext) -> list[Figure]:
    baseline = ctx.baselines.get("socket_round_trip_us")
    figures = []
    async with Fleet(ctx.project.config_path) as fleet:
        for function, label in (("noop", "freeze on (default)"), ("noop_unfrozen", "freeze off")):
            measured = await sequential(fleet, function, ctx.budget.warm_samples)
            figures.append(latency("warm", f"overhead, {label}", measured.overheads).judge(
                "socket round trip", baseline, "p50 ≤ 2× baseline", 2.0,
            ))
            figures.append(latency("warm", f"round trip, {label}", measured.round_trips).judge(
                "socket round trip", baseline, "report", None,
            ))
        # Each sample waits out the freeze's grace: a tenth of the samples keeps the run as short as the others.
        measured = await sequential(fleet, "noop", ctx.budget.warm_samples // 10, warmup=20, frozen_between=True)
        figures.append(latency("warm", "overhead, freeze on, frozen between (thawed and frozen each time)", measured.overheads).judge(
            "socket round trip", baseline, "report", None,
        ))
        figures.append(await runtime_api_overhead(fleet, ctx.budget.warm_samples // 4, baseline))
    return figures


async def runtime_api_overhead(fleet: Fleet, samples: int, baseline: float | None) -> Figure:
    """The same no-op under awslambdaric through the Runtime API (GET /next, POST /response over HTTP), same run."""
    label = "overhead, through the Runtime API (python_runtime: ric), freeze on"
    if importlib.util.find_spec("awslambdaric") is None:
        return Figure("warm", label, "µs", skipped="awslambdaric is not installed (pip install 'lambdatop[ric]')")
    measured = await sequential(fleet, "noop_ric", samples, warmup=50)
    return latency("warm", label, measured.overheads).judge("socket round trip", baseline, "report", None)
