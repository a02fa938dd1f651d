"""Cold start: from `Fleet.invoke` to the handler's first line, minus the import of the user's code.

Each sample needs a fresh environment, so the previous one is killed and
forgotten before the next invoke. The handler returns `time.monotonic()` at
entry (CLOCK_MONOTONIC is system-wide on Linux, so both processes share it);
the Init Duration the worker reports (importing app.py) is subtracted, as the
issue asks: the overhead is fork + bootstrap + the socket handshake + Init
framing + the first invoke's delivery.

One at a time, a cold start finds the zygote's spare (forked and rehearsed
ahead of need). A burst of cold starts at once finds one spare at most: the
rest are forked on demand, which the burst figure reports.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationResult, InvocationStatus
from lambdatop.tui.bench.results import Figure, latency

if TYPE_CHECKING:
    from lambdatop.tui.bench.runner import BenchContext

BURST = 8  # cold starts sent at once in the burst figure
LARGE_BURST = 100  # ... and in the amortised one: what a fan-out (an SQS batch, a load test) asks at once
LARGE_BURST_TARGET = 3.0  # amortised per start ≤ 3× a raw fork


class ColdSamples:
    def __init__(self) -> None:
        self.overheads: list[float] = []  # seconds, start to handler entry minus Init Duration
        self.to_entry: list[float] = []  # seconds, start to handler entry
        self.init_durations: list[float] = []  # seconds, the import of app.py as the worker measured it

    def add(self, function: str, result: InvocationResult, begin: float) -> None:
        """One cold start that began at `begin` (monotonic); its handler returned when it was entered."""
        record = result.record
        if record.status is not InvocationStatus.SUCCESS or not record.cold_start:
            raise RuntimeError(f"cold invoke of {function}: {record.status} cold={record.cold_start} {record.error_message}")
        entered = float(result.response)
        init_s = (record.init_duration_ms or 0.0) / 1000
        self.to_entry.append(entered - begin)
        self.init_durations.append(init_s)
        self.overheads.append(entered - begin - init_s)


async def wait_gone(fleet: Fleet, function: str, timeout: float = 5.0, qualifier: str | None = None) -> None:
    """Until every environment of `function` (its version `qualifier`'s, if given) is gone."""
    pool = fleet.versions.pool_for(fleet.pools[function], qualifier)
    deadline = time.monotonic() + timeout
    while pool.envs:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{function}: environment not gone after {timeout} s")
        await asyncio.sleep(0.002)


async def sequential(fleet: Fleet, function: str, samples: int, warmup: int = 5) -> ColdSamples:
    measured = ColdSamples()
    for index in range(warmup + samples):
        begin = time.monotonic()
        result = await fleet.invoke(function, b"{}")
        # Warm-ups are checked like every sample, then dropped.
        (measured if index >= warmup else ColdSamples()).add(function, result, begin)
        fleet.kill_environment(function)
        await wait_gone(fleet, function)
    return measured


async def burst(fleet: Fleet, function: str, rounds: int, size: int = BURST) -> ColdSamples:
    """`rounds` times, `size` cold starts of `function` sent at once; every environment goes after each round."""
    measured = ColdSamples()
    for _ in range(rounds):
        begin = time.monotonic()
        results = await asyncio.gather(*(fleet.invoke(function, b"{}") for _ in range(size)))
        for result in results:
            measured.add(function, result, begin)
        while fleet.kill_environment(function) is not None:
            await asyncio.sleep(0.001)
        await wait_gone(fleet, function)
    return measured


async def amortised(fleet: Fleet, function: str, rounds: int, size: int = LARGE_BURST) -> list[float]:
    """`rounds` times, `size` cold starts at once: the round's wall time (first sent → last answered) / size, in seconds."""
    per_start: list[float] = []
    for _ in range(rounds):
        begin = time.monotonic()
        results = await asyncio.gather(*(fleet.invoke(function, b"{}") for _ in range(size)))
        per_start.append((time.monotonic() - begin) / size)
        for result in results:
            ColdSamples().add(function, result, begin)  # each one a successful cold start, or the figure fails
        while fleet.kill_environment(function) is not None:
            await asyncio.sleep(0.001)
        await wait_gone(fleet, function, timeout=30.0)
    return per_start


async def run(ctx: BenchContext) -> list[Figure]:
    baseline = ctx.baselines.get("fork_us")
    async with Fleet(ctx.project.config_path) as fleet:
        measured = await sequential(fleet, "entry", ctx.budget.cold_samples)
        bursts = await burst(fleet, "entry", max(2, ctx.budget.cold_samples // 20))
        large = await amortised(fleet, "entry", 1 if ctx.quick else 3)
    init = latency("cold", "Init Duration (import of app.py, excluded)", measured.init_durations)
    return [
        latency("cold", "overhead: start → handler entry − Init", measured.overheads).judge(
            "os.fork + exit + wait", baseline, "p50 ≤ 5× baseline", 5.0,
        ),
        latency("cold", "start → handler entry", measured.to_entry).judge("os.fork + exit + wait", baseline, "report", None),
        init,
        latency("cold", f"overhead, {BURST} cold starts at once (one spare at most)", bursts.overheads).judge(
            "os.fork + exit + wait", baseline, "report", None,
        ),
        latency("cold", f"{LARGE_BURST} cold starts at once, wall time per start", large,
                note="first sent to last answered, over the count: forks, bootstraps and first invokes overlapping on the cores").judge(
            "os.fork + exit + wait", baseline, f"≤ {LARGE_BURST_TARGET:g}× baseline", LARGE_BURST_TARGET,
        ),
    ]
