"""What the screen sees of one function's pool: its environments and live figures, as typed snapshots.

Plain data copied out of the live pool, gate and counters at one instant (`Fleet.snapshot` calls it
once per function per frame), so a screen can render it while the pool keeps changing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from lambdatop.runtime.execution.environment import EnvState
from lambdatop.runtime.execution.gate import ConcurrencyGate
from lambdatop.runtime.execution.pool import FunctionPool
from lambdatop.runtime.execution.sandbox import SandboxInfo, cpu_share
from lambdatop.runtime.execution.stats import Counters, FunctionStats
from lambdatop.runtime.snapshot import EnvSnapshot, FunctionSnapshot


RATE_WINDOW_S = 5  # the table's rates: the average over the last five complete seconds
HISTORY_S = 60  # the concurrency sparkline's width


class Activity(Protocol):
    """What happened per second, from the fleet's metrics (observability/metrics.py's MetricSeries)."""

    def rate(self, metric: str, seconds: int, now: float) -> float: ...

    def history(self, metric: str, seconds: int, now: float) -> list[int]: ...


def function_snapshot(name: str, pool: FunctionPool, stats: FunctionStats, activity: Activity, gate: ConcurrencyGate,
                      now: float, sandbox: SandboxInfo | None = None,
                      version_pools: Iterable[FunctionPool] = ()) -> FunctionSnapshot:
    """`version_pools`: the pools of its published versions (runtime/versions/), whose environments count too."""
    envs = [
        EnvSnapshot(
            id=e.id, pid=e.pid, state=str(e.state), age_s=now - e.created_at, idle_s=now - e.last_used,
            invocations=e.invocations, rss_mb=e.rss_kb / 1024, code_version=e.code_version, stale=e.stale,
            frozen=e.frozen, request_id=e.request_id, version=each.version,
        )
        for each in (pool, *version_pools) for e in each.envs.values()
    ]
    function = pool.function
    return FunctionSnapshot(
        name=name, code_version=pool.code_version, handler=function.handler, memory_size=function.memory_size,
        timeout=function.timeout, reserved=function.reserved_concurrency, limit=gate.limit_for(name),
        in_use=gate.in_use.get(name, 0),
        busy=sum(1 for e in envs if e.state == EnvState.BUSY),
        idle=sum(1 for e in envs if e.state == EnvState.IDLE),
        initializing=sum(1 for e in envs if e.state == EnvState.INITIALIZING),
        envs=envs, totals=Counters(**{k: getattr(stats.totals, k) for k in Counters.__slots__}),
        invocations_per_s=activity.rate("Invocations", RATE_WINDOW_S, now),
        errors_per_s=activity.rate("Errors", RATE_WINDOW_S, now),
        throttles_per_s=activity.rate("Throttles", RATE_WINDOW_S, now), p50_ms=stats.percentile(0.5),
        p99_ms=stats.percentile(0.99), max_memory_used_mb=stats.max_memory_used_mb,
        concurrency_history=activity.history("ConcurrentExecutions", HISTORY_S, now), config=function,
        cpu_share=cpu_share(function.memory_size) if function.cpu == "proportional" else None,
        cpu_enforced=sandbox is not None and sandbox.cpu_quota,
    )
