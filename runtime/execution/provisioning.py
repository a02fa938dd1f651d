"""Builds the pools functions run on, and readies a pool's packages before each cold start.

A function's pool and each of its published versions' pools (runtime/versions/)
are made the same way: the zygote of the function's Python, the fleet's work
folder, the variables every worker gets, the Runtime API server. Before a cold
start the pool's zygote is looked up again (a reload may change the Runtime)
and, for `dependencies: isolated`, its requirements.txt installs and the
runtime's bundled boto3 go on its path. A SnapStart version's pool forks from
its snapshot instead (execution/snapstart.py), taken here when it is made.
"""

from __future__ import annotations

import site
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from lambdatop.runtime.config import FleetConfig, FunctionConfig
from lambdatop.runtime.execution.environment import ExecutionEnvironment
from lambdatop.runtime.execution.pool import FunctionPool
from lambdatop.runtime.execution.snapstart import Notify, SnapshotSpawner, snapstart_init_limit
from lambdatop.runtime.execution.zygotes import Zygotes
from lambdatop.runtime.packages.bundled import bundled_runtime_packages
from lambdatop.runtime.packages.installs import Installs, Python
from lambdatop.runtime.worker.messages import WorkerSpec

if TYPE_CHECKING:
    from lambdatop.runtime.api.runtime_api import RuntimeApiServer


class PoolProvisioner:
    def __init__(self, zygotes: Zygotes, installs: Installs, work_dir: Path, worker_environment: dict[str, str],
                 runtime_api: RuntimeApiServer, on_change: Callable[[ExecutionEnvironment], None],
                 notify: Notify = lambda kind, message: None) -> None:
        self.zygotes = zygotes
        self.notify = notify  # (kind, message): SnapStart snapshots taken or failed, for the fleet's event bus
        self.installs = installs
        self.work_dir = work_dir
        self.worker_environment = worker_environment
        self.runtime_api = runtime_api
        self.on_change = on_change
        self._bundled: str | None = None  # linked at the first isolated function's cold start (most runs have none)

    def pool(self, function: FunctionConfig, fleet: FleetConfig, *, code_version: str = "v1",
             version: str | None = None) -> FunctionPool:
        """A pool for `function` ($LATEST), or for one of its published versions (`version`, its own code copy)."""
        pool = FunctionPool(function, fleet, self.zygotes.for_runtime(function.runtime), self.work_dir,
                            code_version=code_version, shared_environment=self.worker_environment,
                            runtime_api=self.runtime_api)
        if version is not None:
            pool.version = version
        pool.on_change = self.on_change
        pool.prepare = self.prepare
        if pool.snap_start and self._snapshots(pool):
            snapshot = SnapshotSpawner(pool.spawner, f"{function.name}:{version}", self.notify)
            pool.spawner = snapshot
            snapshot.begin(lambda: self._snapshot_spec(pool), snapstart_init_limit(function.timeout))
        return pool

    def _snapshots(self, pool: FunctionPool) -> bool:
        """SnapStart runs on the built-in Python worker; through the Runtime API (restore/next) it is not emulated."""
        if pool.function.python_runtime == "builtin" and pool.function.runtime.startswith("python"):
            return True
        self.notify("warning", f"{pool.name}:{pool.version}: SnapStart is emulated for the built-in Python runtime only; "
                               f"this version's cold starts run Init (python_runtime: {pool.function.python_runtime})")
        return False

    async def _snapshot_spec(self, pool: FunctionPool) -> WorkerSpec:
        await pool.ready()
        return pool.worker_spec(f"{pool.name}-{pool.version}-snapshot")

    async def prepare(self, pool: FunctionPool) -> None:
        if not isinstance(pool.spawner, SnapshotSpawner):  # a SnapStart version's stays: it forks from its zygote
            pool.spawner = self.zygotes.for_runtime(pool.function.runtime)
        if not pool.isolated:
            # Shared on another Python: lambdatop's own packages too, as on its own Python (pure-Python ones import).
            pool.package_paths = () if pool.spawner.interpreter.local else tuple(site.getsitepackages())
            return
        installed = await self.installs.ready(pool.function, python_of(pool))
        if self._bundled is None:
            self._bundled = str(bundled_runtime_packages(self.work_dir))
        pool.package_paths = (*installed, self._bundled)


def python_of(pool: FunctionPool) -> Python:
    """The interpreter a pool's functions run on, as the package installer names it."""
    interpreter = pool.spawner.interpreter
    return Python(interpreter.executable, interpreter.minor, interpreter.local)
