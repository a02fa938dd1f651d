"""One zygote per Python the fleet's functions run on.

lambdatop's own interpreter always has one (started with the fleet); a
function whose `Runtime` names another Python that this machine has gets that
interpreter's zygote, started when first needed. A Runtime with no matching
Python runs on lambdatop's own, and says so once (`warnings`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from lambdatop.runtime.execution.interpreters import Interpreters
from lambdatop.runtime.execution.sandbox import Sandbox
from lambdatop.runtime.execution.spawner import Spawner


class Zygotes:
    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.local = Spawner(work_dir)
        self._interpreters = Interpreters(work_dir)
        self._by_executable: dict[str, Spawner] = {self.local.interpreter.executable: self.local}
        self.warnings: list[str] = []  # one per runtime that runs on another Python than it names
        self._warned: set[str] = set()
        self.sandbox: Sandbox | None = None  # found (and its cgroup folders made) at the start, removed at the stop

    def for_runtime(self, runtime: str) -> Spawner:
        """The zygote of the Python `runtime` runs on (made, not started: a spawn starts it)."""
        choice = self._interpreters.for_runtime(runtime)
        if choice.warning and runtime not in self._warned:
            self._warned.add(runtime)
            self.warnings.append(choice.warning)
        spawner = self._by_executable.get(choice.interpreter.executable)
        if spawner is None:
            spawner = Spawner(self.work_dir, choice.interpreter)
            spawner.sandbox = self.sandbox
            self._by_executable[choice.interpreter.executable] = spawner
        return spawner

    @property
    def all(self) -> list[Spawner]:
        return list(self._by_executable.values())

    def start(self) -> None:
        if self.sandbox is None:
            self.sandbox = Sandbox()
        for spawner in self.all:
            spawner.sandbox = self.sandbox
            spawner.start()

    async def stop(self) -> None:
        # All at once: each stop first closes its control socket, so every zygote is in its shutdown before any
        # kills what is in the run's cgroups (the others' spares too), and none forks a spare into removed folders.
        await asyncio.gather(*(spawner.stop() for spawner in self.all))
        self._close_sandbox()

    def kill_now(self) -> None:
        for spawner in self.all:
            spawner.kill_now()
        self._close_sandbox()

    def _close_sandbox(self) -> None:
        """Remove the run's cgroup folders (the zygotes killed what was in them); a folder still busy is the
        next start's to sweep."""
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None
