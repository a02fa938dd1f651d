"""The supervisor's enforcement, in one place: who stops what, and when.

    limit                      enforced by                         outcome
    ─────────────────────────  ──────────────────────────────────  ─────────────────────────────────
    Init phase (10 s)          init_deadline(), armed by start()   Failure.INIT_TIMEOUT (retried in the invoke)
    function timeout           invoke_deadline(), by finish()      Failure.TIMEOUT: Sandbox.Timedout
    memory size                Housekeeping.sample_memory()        Failure.OUT_OF_MEMORY: Runtime.OutOfMemory
    idle timeout               Housekeeping.reap_idle()            the environment is retired
    a bad message              WorkerChannel, then the env         Failure.BAD_MESSAGE: Runtime.ExitError
    a failed invocation        the invoker retires the env         the next invocation is a cold start

Each limit ends in `ExecutionEnvironment.fail()` (which kills the worker and
fails the waiting invocation) or `FunctionPool.retire()`; the invoker turns
the failure into Lambda's error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING

from lambdatop.runtime.execution.lifecycle import EnvState, Failure

if TYPE_CHECKING:
    from lambdatop.runtime.execution.environment import ExecutionEnvironment
    from lambdatop.runtime.execution.pool import FunctionPool

MEMORY_SAMPLE_INTERVAL_S = 0.02
# Of each interval, the most the sampler may take of the loop it shares with every invocation: a sample is
# ~100 µs (the cgroup's process list, each process's statm), so 400 busy environments took all of it and
# 3,000 held the loop nine tenths of the time. Past the budget the rest wait for the next turns, first in line.
MEMORY_SAMPLE_BUDGET_S = 0.002
REAP_INTERVAL_S = 1.0


def init_deadline(env: ExecutionEnvironment, limit: float) -> asyncio.TimerHandle:
    """Fail `env`'s Init after `limit` seconds."""
    return asyncio.get_running_loop().call_later(limit, env.fail, Failure.INIT_TIMEOUT)


def invoke_deadline(env: ExecutionEnvironment, deadline: float) -> asyncio.TimerHandle:
    """Fail `env`'s invocation at `deadline` (time.monotonic(), set when the invocation began, not when it was sent)."""
    loop = asyncio.get_running_loop()
    delay = max(deadline - time.monotonic(), 0.0)
    return loop.call_at(loop.time() + delay, env.fail, Failure.TIMEOUT)


def over_memory(env: ExecutionEnvironment) -> bool:
    """Whether a busy environment's RSS, sampled now, is past its memory size, or its cgroup's limit was hit
    (the kernel killed one of its processes: a handler's child, while the worker itself lives on)."""
    return env.state is EnvState.BUSY and (env.sample_memory() > env.memory_mb * 1024 or env.oom_killed())


class Housekeeping:
    """The two loops that run beside the pools: the memory sampler and the idle reaper."""

    def __init__(self, busy: Callable[[], Collection[ExecutionEnvironment]], pools: Callable[[], Iterable[FunctionPool]]) -> None:
        # `pools`: every pool the reaper looks after, $LATEST's and the published versions' (runtime/versions/).
        self._busy = busy
        self._pools = pools

    def start(self) -> list[asyncio.Task[None]]:
        return [
            asyncio.create_task(self.sample_memory(), name="lambdatop-memory-sampler"),
            asyncio.create_task(self.reap_idle(), name="lambdatop-idle-reaper"),
        ]

    async def sample_memory(self) -> None:
        """Enforce memory sizes: a busy worker whose RSS passes its limit is killed (Runtime.OutOfMemory).

        Every busy environment is sampled each interval while that fits the budget; with more of them,
        in turns, those the last turn did not reach first (with a memory cgroup the kernel enforces the
        limit meanwhile; without one, a runaway is caught within a few turns instead of one).
        """
        behind: list[ExecutionEnvironment] = []
        while True:
            await asyncio.sleep(MEMORY_SAMPLE_INTERVAL_S)
            busy = self._busy()
            if not busy:
                behind = []
                continue
            first = [env for env in behind if env in busy]
            waiting = set(first)
            order = first + [env for env in busy if env not in waiting]
            deadline = time.monotonic() + MEMORY_SAMPLE_BUDGET_S
            behind = []
            for index, env in enumerate(order):
                if over_memory(env):
                    env.fail(Failure.OUT_OF_MEMORY)
                if time.monotonic() > deadline:
                    behind = order[index + 1:]
                    break

    async def reap_idle(self) -> None:
        """Retire environments idle past their function's idle timeout."""
        while True:
            await asyncio.sleep(REAP_INTERVAL_S)
            now = time.time()
            for pool in list(self._pools()):
                pool.reap_idle(now)
