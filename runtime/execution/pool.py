"""One function's pool of execution environments.

Warm reuse takes the most recently used idle environment (LIFO), so the ones
at the bottom of the stack age out after the idle timeout, as on Lambda.
A new code or config version makes every environment stale: idle ones go at
once, busy ones after their current invocation.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from lambdatop.runtime.worker.messages import WorkerSpec
from lambdatop.runtime.config import FleetConfig, FunctionConfig, LayerContent
from lambdatop.runtime.execution.layers import OPT_VARIABLE, LayerRoot, build_layer_root
from lambdatop.runtime.execution.environment import EnvState, ExecutionEnvironment, InitOutcome
from lambdatop.runtime.execution.runtime_channel import RuntimeApiHost
from lambdatop.runtime.execution.sandbox import cpu_share
from lambdatop.runtime.execution.runtimes import external_extensions, runtime_program
from lambdatop.runtime.identifiers import log_stream_name
from lambdatop.runtime.execution.snapstart import SnapshotSpawner
from lambdatop.runtime.execution.spawner import Spawner
from lambdatop.runtime.execution.variables import lambda_environment

_env_numbers = itertools.count(1)


class FunctionPool:
    def __init__(
        self,
        function: FunctionConfig,
        fleet: FleetConfig,
        spawner: Spawner,
        work_dir: Path,
        code_version: str = "v1",
        shared_environment: dict[str, str] | None = None,
        runtime_api: RuntimeApiHost | None = None,
    ) -> None:
        self.function = function
        self.runtime_api = runtime_api  # serves the Runtime API to environments whose runtime is a program
        self.shared_environment = shared_environment if shared_environment is not None else {}
        self.fleet = fleet
        self.spawner = spawner
        self.work_dir = work_dir
        self.code_version = code_version
        self.version = "$LATEST"
        self.idle: list[ExecutionEnvironment] = []
        self.envs: dict[str, ExecutionEnvironment] = {}
        self.on_change: Callable[[ExecutionEnvironment], None] | None = None
        self._layers: tuple[tuple[str, tuple[LayerContent, ...]], LayerRoot] | None = None
        # Run before each cold start (the Fleet's: wait for the function's requirements install and set
        # `package_paths`); None runs nothing.
        self.prepare: Callable[[FunctionPool], Awaitable[None]] | None = None
        self.package_paths: tuple[str, ...] = ()  # its installed requirements and the runtime's bundled boto3

    @property
    def isolated(self) -> bool:
        """The function sees only its own folders, packages and the runtime's boto3 (`dependencies: isolated`)."""
        return self.function.dependencies == "isolated"

    async def ready(self) -> None:
        """What a cold start needs before its spec is built: the function's packages, installed."""
        if self.prepare is not None:
            await self.prepare(self)

    @property
    def name(self) -> str:
        return self.function.name

    def take_idle(self) -> ExecutionEnvironment | None:
        """The most recently used idle environment of the current version, if any."""
        while self.idle:
            env = self.idle.pop()
            if env.state is EnvState.IDLE and not env.stale:
                return env
        return None

    @property
    def snap_start(self) -> bool:
        """A published version of a SnapStart function: its cold starts restore from a snapshot (execution/snapstart.py)."""
        return self.function.snap_start and self.version != "$LATEST"

    def new_environment(self) -> ExecutionEnvironment:
        env_id = f"{self.name}-{next(_env_numbers)}"
        spec = self.worker_spec(env_id)
        env = ExecutionEnvironment(env_id, self.name, self.code_version, spec, memory_mb=self.function.memory_size,
                                   freeze=self.function.freeze, runtime_api=self.runtime_api)
        env.on_gone = self._on_gone
        self.envs[env_id] = env
        return env

    def worker_spec(self, env_id: str) -> WorkerSpec:
        """What a worker of this pool becomes (a SnapStart snapshot is made from one too, under its own id)."""
        # The environment's TMPDIR, made by the worker itself (worker/runtime.py), off this loop: one mkdir
        # (envs/ exists after the first), not two; mkdir costs 0.2-1 ms on a busy disk.
        tmpdir = self.work_dir / "envs" / env_id
        stream = log_stream_name(self.version)
        environ = lambda_environment(
            self.function, self.fleet, version=self.version, tmpdir=tmpdir, log_stream=stream, shared=self.shared_environment,
        )
        if self.snap_start:  # DG snapstart-monitoring: no log group or stream variables under SnapStart
            environ["AWS_LAMBDA_INITIALIZATION_TYPE"] = "snap-start"
            environ.pop("AWS_LAMBDA_LOG_GROUP_NAME", None)
            environ.pop("AWS_LAMBDA_LOG_STREAM_NAME", None)
        layers = self._layer_root()
        if layers is not None:
            environ[OPT_VARIABLE] = str(layers.folder)
            environ["PATH"] = f"{environ['PATH']}:{layers.folder / 'bin'}" if environ.get("PATH") else str(layers.folder / "bin")
        # A custom runtime's bootstrap may come from a layer, and extensions live in /opt/extensions:
        # both are looked for in the layers' merged /opt stand-in.
        opt = (str(layers.folder),) if layers is not None else ()
        bootstrap, arguments = runtime_program(self.function, opt)
        extensions = external_extensions(opt) if bootstrap else ()
        return WorkerSpec(
            env_id=env_id,
            function_name=self.function.function_name or self.name,
            function_version=self.version,
            handler=self.function.handler,
            task_root=str(self.function.code_dir),
            environ=environ,
            memory_size=self.function.memory_size,
            log_group_name="" if self.snap_start else (
                self.function.logging_config.log_group or f"/aws/lambda/{self.function.function_name or self.name}"),
            log_stream_name="" if self.snap_start else stream,
            extra_sys_path=layers.sys_path if layers is not None else (),
            bootstrap=bootstrap,
            arguments=arguments,
            extensions=extensions,
            package_paths=self.package_paths,
            isolated=self.isolated,
            cpu_share=cpu_share(self.function.memory_size) if self.function.cpu == "proportional" else 0.0,
        )

    def _layer_root(self) -> LayerRoot | None:
        """The function's /opt for the current code version, built on its first environment (a layer edit is a
        new code version, so its files are linked afresh)."""
        if not self.function.layer_dirs:
            return None
        key = (self.code_version, self.function.layer_dirs)
        if self._layers is None or self._layers[0] != key:
            # A published version's pool builds its own (runtime/versions/): a build starts by removing the folder,
            # which must not pull /opt from under $LATEST's environments of the same code version.
            label = self.code_version if self.version == "$LATEST" else f"{self.code_version}-{self.version}"
            folder = self.work_dir / "opt" / self.name / label
            self._layers = (key, build_layer_root(self.function.layer_dirs, folder, self.function.runtime))
        return self._layers[1]

    def release(self, env: ExecutionEnvironment) -> None:
        """An invocation finished without breaking the environment: keep it warm, or retire it if stale."""
        if env.stale or env.code_version != self.code_version or not env.alive or env.ended:
            self.retire(env)
            return
        env.idle()
        self.idle.append(env)
        self._changed(env)

    def retire(self, env: ExecutionEnvironment) -> None:
        """Shut the environment down and forget it."""
        if env in self.idle:
            self.idle.remove(env)
        env.kill()
        self._forget(env)

    async def prewarm(self, init_limit: float, still_running: Callable[[], bool]) -> InitOutcome:
        """Initialise one environment of the current version ahead of any request and keep it idle.

        An Init error retires it and comes back in the outcome; a worker that dies or times out
        in Init raises EnvironmentFailed."""
        await self.ready()
        env = self.new_environment()
        try:
            outcome = await env.start(self.spawner, init_limit)
        except BaseException:
            self.retire(env)
            raise
        if outcome.error is not None or not still_running():
            self.retire(env)
            return outcome
        env.early_init = outcome
        self.release(env)  # idle and warm, or retired at once if a newer version arrived meanwhile
        return outcome

    def kill_one(self, env_id: str | None = None) -> ExecutionEnvironment | None:
        """SIGKILL one worker (`env_id`, else busy first, else the most recently used), as a crash would.

        One not killed already: its exit report takes a moment, and asking again meanwhile (K pressed
        twice, `while kill_one(): ...`) must reach the next environment, not the same one again.
        """
        candidates = [e for e in self.envs.values() if e.alive and e.pid and not e.kill_sent and (env_id is None or e.id == env_id)]
        candidates.sort(key=lambda e: (e.state is not EnvState.BUSY, -e.last_used))
        for env in candidates:
            assert env.pid is not None
            try:
                os.kill(env.pid, signal.SIGKILL)
            except ProcessLookupError:
                continue  # it exited a moment ago: its exit report is on its way; the next one is still there to kill
            env.kill_sent = True
            return env
        return None

    def mark_stale(self, function: FunctionConfig | None = None, code_version: str | None = None) -> None:
        """A new version: idle environments go now, busy ones after their invocation."""
        if function is not None:
            self.function = function
        if code_version is not None:
            self.code_version = code_version
        for env in list(self.envs.values()):
            env.stale = True
            if env.state is EnvState.IDLE:
                self.retire(env)

    def reap_idle(self, now: float | None = None) -> int:
        """Shut down environments idle for longer than the function's idle timeout."""
        now = now if now is not None else time.time()
        expired = [env for env in self.idle if now - env.last_used >= self.function.idle_timeout]
        for env in expired:
            self.retire(env)
        return len(expired)

    def busy(self) -> list[ExecutionEnvironment]:
        return [env for env in self.envs.values() if env.state is EnvState.BUSY]

    def count(self, state: EnvState) -> int:
        return sum(1 for env in self.envs.values() if env.state is state)

    def shutdown_all(self) -> None:
        for env in list(self.envs.values()):
            self.retire(env)
        if isinstance(self.spawner, SnapshotSpawner):  # a SnapStart version's snapshot goes with its pool
            self.spawner.close()

    def _on_gone(self, env: ExecutionEnvironment) -> None:
        """The worker's socket closed: it exited, was killed, or crashed while idle."""
        if env in self.idle:
            self.idle.remove(env)
        if env.state is not EnvState.BUSY and env.state is not EnvState.INITIALIZING:
            self._forget(env)

    def _forget(self, env: ExecutionEnvironment) -> None:
        env.close()
        if self.envs.pop(env.id, None) is not None:
            _remove_tree(self.work_dir / "envs" / env.id)
            self._changed(env)

    def _changed(self, env: ExecutionEnvironment) -> None:
        if self.on_change is not None:
            self.on_change(env)


def _remove_tree(path: Path) -> None:
    """Delete an environment's TMPDIR in a thread: on a slow disk rmtree takes milliseconds,
    and a thousand environments retiring at once would stall the event loop for seconds."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        shutil.rmtree(path, ignore_errors=True)
        return
    loop.run_in_executor(None, shutil.rmtree, path, True)
