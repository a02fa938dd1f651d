"""SnapStart: the cold start of a function with a 1 s Init, with and without SnapStart, in the same run.

`slow_init` runs its Init (a 1 s sleep at import) on every cold start;
version 1 of `slow_init_snap` ran that Init once, when it was published at
the fleet's start, and each cold start restores from the snapshot instead. The
figure is start → handler entry (the handler returns `time.monotonic()` at
entry), each sample on a fresh environment.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationStatus
from lambdatop.tui.bench.cold import wait_gone
from lambdatop.tui.bench.results import Figure, latency

if TYPE_CHECKING:
    from lambdatop.tui.bench.runner import BenchContext


async def _cold_starts(fleet: Fleet, function: str, qualifier: str | None, samples: int) -> list[float]:
    """`samples` cold starts of `function` (at `qualifier`), in seconds, each on a fresh environment."""
    pool = fleet.versions.pool_for(fleet.pools[function], qualifier)
    name = f"{function}:{qualifier}" if qualifier else function
    measured = []
    for _ in range(samples):
        begin = time.monotonic()
        result = await fleet.invoke(name, b"{}")
        record = result.record
        if record.status is not InvocationStatus.SUCCESS or not record.cold_start:
            raise RuntimeError(f"cold invoke of {name}: {record.status} cold={record.cold_start} {record.error_message}")
        measured.append(float(result.response) - begin)
        while pool.kill_one() is not None:
            pass
        await wait_gone(fleet, function, qualifier=qualifier)
    return measured


async def run(ctx: BenchContext) -> list[Figure]:
    samples = 3 if ctx.quick else 10
    async with Fleet(ctx.project.config_path) as fleet:
        await fleet.versions.pool_for(fleet.pools["slow_init_snap"], "1").spawner.wait_ready()  # the snapshot, taken at start
        without = await _cold_starts(fleet, "slow_init", None, samples)
        with_snapstart = await _cold_starts(fleet, "slow_init_snap", "1", samples)
    plain = latency("snapstart", "1 s Init: cold start → handler entry, without SnapStart", without, unit="ms")
    restored = latency("snapstart", "1 s Init: cold start → handler entry, SnapStart (a restore)", with_snapstart, unit="ms",
                       note="Init ran once, at publish; each cold start forks the snapshot and runs the after-restore hooks")
    return [plain, restored.judge("the same cold start without SnapStart", plain.p50, "report", None)]
