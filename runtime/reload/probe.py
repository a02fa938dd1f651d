"""Early Inits of new code versions: how a save's broken code is found before anyone invokes.

After a reload, one environment of the new version is initialised at once (as
Lambda may initialise early). Its Init says whether the code works: a problem
(error type, message, file and line) or none. A config change can touch every
function, so at most `PARALLEL_PREWARMS` run at once; a newer save cancels the
probe of the version it replaces.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lambdatop.runtime.errors import FleetStopped, FunctionCannotRun
from lambdatop.runtime.execution.environment import EnvironmentFailed, Failure
from lambdatop.runtime.reload.broken import problem_from_error, problem_from_exit

if TYPE_CHECKING:
    from lambdatop.runtime.fleet import Fleet

PARALLEL_PREWARMS = 4

# (function, version label, problem or None): what a finished probe found.
Report = Callable[[str, str, "dict[str, Any] | None"], None]


class InitProbes:
    """One early Init per function at a time, reported through `report`; `notice` for an Init that timed out."""

    def __init__(self, fleet: Fleet, report: Report, notice: Callable[[str, str], None]) -> None:
        self.fleet = fleet
        self._report = report
        self._notice = notice
        self._slots = asyncio.Semaphore(PARALLEL_PREWARMS)
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, name: str, label: str) -> None:
        self.cancel(name)  # its environment is of an older version: retired on the way out
        self._tasks[name] = asyncio.create_task(self._probe(name, label), name=f"lambdatop-prewarm-{name}")

    def cancel(self, name: str) -> None:
        task = self._tasks.pop(name, None)
        if task is not None and not task.done():
            task.cancel()

    def running(self) -> list[asyncio.Task[None]]:
        return [task for task in self._tasks.values() if not task.done()]

    async def _probe(self, name: str, label: str) -> None:
        problem: dict[str, Any] | None
        try:
            async with self._slots:
                outcome = await self.fleet.prewarm(name)
            problem = outcome.problem if outcome.problem is not None else problem_from_error(outcome.error)
        except EnvironmentFailed as failure:
            if failure.failure is Failure.INIT_TIMEOUT:
                self._notice(name, f"{name}: {label} Init took longer than 10 s; it will run again inside the first invoke")
                return
            problem = problem_from_exit(str(failure.failure), failure.logs)
        except (FleetStopped, FunctionCannotRun, KeyError):  # stopping, gone, or never runnable
            return
        self._report(name, label, problem)
