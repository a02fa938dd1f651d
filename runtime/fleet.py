"""`Fleet`: the one object the CLI, the HTTP endpoint and the dashboard talk to.

It owns the zygote, one pool per function, the concurrency gate, the invoker,
the telemetry bus and the live counters, and runs the housekeeping loops
(execution/housekeeping.py: the memory sampler and the idle reaper). `snapshot()` returns plain data
for the screen to render at its own pace.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import shutil
import time
from pathlib import Path
from typing import Any
from collections.abc import Callable

from lambdatop.runtime.api.runtime_api import RuntimeApiServer
from lambdatop.runtime.bus import EnvironmentEvent, FleetEvent, Subscription, TelemetryBus
from lambdatop.runtime.config import FleetConfig, FunctionConfig, load_config
from lambdatop.runtime.execution.environment import ExecutionEnvironment, InitOutcome
from lambdatop.runtime.errors import FleetStopped, FunctionCannotRun
from lambdatop.runtime.execution.gate import ConcurrencyGate
from lambdatop.runtime.execution.housekeeping import Housekeeping
from lambdatop.runtime.execution.invoker import INIT_LIMIT_S, Invoker
from lambdatop.runtime.execution.pool import FunctionPool
from lambdatop.runtime.records import InvocationRecord, InvocationResult, InvocationType, Trigger
from lambdatop.runtime.execution.zygotes import Zygotes
from lambdatop.runtime.packages.installs import Installs
from lambdatop.runtime.execution.provisioning import PoolProvisioner, python_of
from lambdatop.runtime.execution.workdir import create_work_dir
from lambdatop.runtime.fdlimit import raise_fd_limit
from lambdatop.runtime.execution.snapshots import function_snapshot
from lambdatop.runtime.execution.stats import FunctionStats
from lambdatop.runtime.observability.metrics import MetricsRegistry
from lambdatop.runtime.config.deployment import time_scale
from lambdatop.runtime.versions.model import PublishedVersion
from lambdatop.runtime.versions.shifting import Deployment, TrafficShifter
from lambdatop.runtime.versions.registry import VersionRegistry
from lambdatop.runtime.snapshot import EnvSnapshot, FleetSnapshot, FunctionSnapshot  # noqa: F401 - the façade's types
from lambdatop.runtime.service import Service, ServiceLookups


class Fleet(ServiceLookups):
    """The façade: functions, invocations, environments, telemetry and the snapshot, over one run.

    What the attached services offer (`store`, `async_queue`, `endpoint`, `fire_schedule`,
    `send_to_resource`, `alarm_state`, `trace_documents`) comes from `ServiceLookups` (runtime/service.py).
    """

    def __init__(self, config: FleetConfig | Path | str | None = None, *, work_dir: Path | None = None) -> None:
        self.config = config if isinstance(config, FleetConfig) else load_config(config)
        self._own_work_dir = work_dir is None
        self.work_dir = work_dir or create_work_dir()
        self.work_dir.mkdir(parents=True, exist_ok=True)  # a given one may not exist yet: the zygotes start in it
        # One zygote per Python the functions run on; `spawner` is lambdatop's own interpreter's.
        self.zygotes = Zygotes(self.work_dir)
        self.spawner = self.zygotes.local
        # requirements.txt installs (.lambdatop/packages/ beside the config) and the runtime's bundled boto3.
        self.installs = Installs(self.config.root, self._publish_install)
        # The Runtime API for environments whose runtime is a program (provided*, nodejs*, python_runtime: ric):
        # one loopback port each, opened at their cold start; nothing listens while none exists.
        self.runtime_api = RuntimeApiServer()
        self.gate = ConcurrencyGate(self.config.account_concurrency, {n: f.reserved_concurrency for n, f in self.config.functions.items()})
        self.pools: dict[str, FunctionPool] = {}
        self.stats: dict[str, FunctionStats] = {}
        # What happened per second, per function and fleet-wide: the table's rates and sparkline, the
        # metrics panel, the alarms. Filed here at every invocation, whichever services run.
        self.metrics = MetricsRegistry()
        self.bus = TelemetryBus()
        self.invoker = Invoker(self.config, self.pools, self.gate, self.spawner, self._on_result)
        self.invoker.on_acquire = self._on_acquire
        # Published versions and aliases, each version on a pool of its own (runtime/versions/).
        self.versions = VersionRegistry(self.work_dir / "versions", self._version_pool, self.function_arn)
        self.invoker.versions = self.versions
        self.housekeeping = Housekeeping(lambda: self.invoker.busy, self._all_pools)
        # Capabilities publish live data for the screen here: name -> callable returning plain data.
        self.snapshot_providers: dict[str, Callable[[], Any]] = {}
        # Variables every new worker gets beside Lambda's own (endpoint URL, X-Ray daemon address).
        self.worker_environment: dict[str, str] = {}
        # How a reload reads the config file again (blocking, called in a thread). The AWS services
        # replace it so a reloaded template's resources exist and `!Ref` of them resolves (runtime/aws/).
        self.config_loader: Callable[[Path], FleetConfig] = self.read_config
        self.services: list[Service] = []
        self._recent: list[InvocationRecord] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._stopping = False
        self._drained: asyncio.Event | None = None
        self.provisioner = PoolProvisioner(self.zygotes, self.installs, self.work_dir, self.worker_environment,
                                           self.runtime_api, self._on_env_change, self._notify)
        for name, function in self.config.functions.items():
            self._add_pool(name, function)
        self.snapshot_providers["packages"] = self.installs.snapshot

    def read_config(self, path: Path) -> FleetConfig:
        """The config file read again, with the command line's parameter overrides and env vars kept."""
        return load_config(path, inputs=self.config.inputs)

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        raise_fd_limit()
        self.zygotes.start()
        atexit.register(self.zygotes.kill_now)
        await self.runtime_api.start()
        for warning in self.zygotes.warnings:
            self.bus.publish(FleetEvent("warning", warning, time.time()))
        for pool in self.pools.values():
            if pool.isolated:  # installs start now, so the first invocation usually finds them done
                self.installs.start(pool.function, python_of(pool))
        self._drained = asyncio.Event()
        self._drained.set()
        self._tasks = self.housekeeping.start()
        self._started = True
        self.versions.start(TrafficShifter(self.alarm_state, self.alarm_fired_since, self._on_deployment,
                                           time_scale(self.config.sections, str(self.config.path))),
                            self.pools.values(), self._warn)
        try:
            for service in self.services:
                await service.start(self)
        except BaseException:
            await self.stop()
            raise

    def add_service(self, service: Service) -> None:
        """Run `service` beside the pool: started in order after the pool, stopped in reverse after the drain."""
        self.services.append(service)

    async def stop(self, drain_timeout: float | None = None) -> None:
        """Graceful: in-flight invocations finish (or time out), then every worker and the zygote go."""
        if not self._started or self._stopping:
            return
        self._stopping = True
        if self.invoker.in_flight and self._drained is not None:
            try:
                await asyncio.wait_for(self._drained.wait(), drain_timeout)
            except TimeoutError:
                pass
        for service in reversed(self.services):
            try:
                await service.stop()
            except Exception as exc:  # noqa: BLE001 - one failing service must not leave workers behind
                self.bus.publish(FleetEvent("error", f"stopping {type(service).__name__}: {exc}", time.time()))
        self.versions.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for pool in self._all_pools():
            pool.shutdown_all()
        await self.installs.stop()
        await self.runtime_api.drain()  # extensions' Shutdown phases (at most 2 s), before the zygotes kill all
        await self.zygotes.stop()
        await self.runtime_api.stop()
        atexit.unregister(self.zygotes.kill_now)
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)
        self._started = False

    async def __aenter__(self) -> Fleet:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def running(self) -> bool:
        return self._started and not self._stopping

    @property
    def cpu_follows_memory(self) -> bool:
        """`cpu: proportional` is applied here: a writable cpu controller gives each environment its share."""
        sandbox = self.zygotes.sandbox
        return sandbox is not None and sandbox.info.cpu_quota

    # -- invoking ---------------------------------------------------------------------

    async def invoke(
        self,
        function: str,
        event: Any = None,
        *,
        invocation_type: InvocationType | str = InvocationType.REQUEST_RESPONSE,
        trigger: Trigger | str = Trigger.LIBRARY,
        client_context: str | None = None,
        trace: str | None = None,
        request_id: str | None = None,
        qualifier: str | None = None,
        queued_at: float | None = None,
        route: str | None = None,
        source_arn: str | None = None,
    ) -> InvocationResult:
        """Run one invocation and return its result.

        `event` may be raw bytes (sent as they are, validated as JSON like the
        Invoke API does) or any JSON-serialisable value. `queued_at` is when an
        asynchronous event was accepted, for its dwell time in the trace; `route` is the API
        Gateway route that took the request (kept on the record); `source_arn` the queue
        or stream an event source mapping's batch came from. Raises the Lambda
        service errors (FunctionNotFound, Throttled, RequestTooLarge,
        InvalidRequestContent); function errors come back in the result.
        """
        if not self.running:
            raise FleetStopped("lambdatop is not running")
        payload = event if isinstance(event, (bytes, bytearray)) else json.dumps({} if event is None else event).encode()
        assert self._drained is not None
        self._drained.clear()
        try:
            return await self.invoker.invoke(
                function, bytes(payload), invocation_type=InvocationType(invocation_type), trigger=trigger,
                client_context=client_context, trace=trace, request_id=request_id, qualifier=qualifier,
                queued_at=queued_at, route=route, source_arn=source_arn,
            )
        finally:
            if not self.invoker.in_flight:
                self._drained.set()

    async def enqueue(
        self,
        function: str,
        payload: bytes,
        *,
        trigger: Trigger | str = Trigger.ASYNC,
        trace: str | None = None,
        request_id: str | None = None,
        source_arn: str | None = None,
    ) -> str:
        """Accept an asynchronous (Event) invocation: validated, committed to the durable queue, then its request id.

        With the async queue service (`runtime/async_invoke/queue.py`, attached with the
        store) the event is durable and retried; without it, it is delivered
        once in the background. Raises FunctionNotFound, RequestTooLarge (over
        1 MB), InvalidRequestContent, FleetStopped. `source_arn`: the bucket, topic or
        rule a push source's event came from (kept on the invocation's record).
        """
        if self.async_queue is None:
            from lambdatop.runtime.async_invoke.oneshot import deliver_once

            return await deliver_once(self, function, payload, trigger=trigger, trace=trace, request_id=request_id,
                                      source_arn=source_arn)
        return await self.async_queue.enqueue(function, payload, trigger=trigger, trace=trace, request_id=request_id,
                                              source_arn=source_arn)

    def resolve(self, name: str) -> FunctionConfig:
        """The function a name or ARN refers to; raises FunctionNotFound."""
        return self.invoker.resolve(name)[0].function

    @property
    def functions(self) -> dict[str, FunctionConfig]:
        return {name: pool.function for name, pool in self.pools.items()}

    def function_arn(self, name: str, qualifier: str | None = None) -> str:
        function = self.pools[name].function
        return self.config.function_arn(function.function_name or function.name, qualifier)

    # -- environments -----------------------------------------------------------------

    def environments(self, function: str) -> list[ExecutionEnvironment]:
        return list(self.pools[function].envs.values())

    def kill_environment(self, function: str, env_id: str | None = None) -> ExecutionEnvironment | None:
        """SIGKILL a worker (busy first, else the most recent idle one) to watch the fleet recover."""
        return self.pools[function].kill_one(env_id)

    def update_function(self, function: FunctionConfig, code_version: str | None = None, *, recycle: bool = True) -> None:
        """A new config or code version: environments are recycled, the new version serves from now on.

        `recycle=False` is for settings no running environment depends on
        (reserved concurrency, idle timeout, triggers): warm environments stay.
        """
        if function.name not in self.pools:
            self.add_function(function, code_version or "v1")
            return
        pool = self.pools[function.name]
        if recycle:
            pool.mark_stale(function, code_version)
            self.versions.publish_after_change(pool)  # AutoPublishAlias: a change is a new version
        else:
            pool.function = function
        self.gate.set_reserved(function.name, function.reserved_concurrency)

    def add_function(self, function: FunctionConfig, code_version: str = "v1") -> None:
        """A function that appeared in a reloaded config: a new pool, no environment until needed."""
        if function.name in self.pools:
            raise ValueError(f"function {function.name!r} already exists")
        self._add_pool(function.name, function)
        self.pools[function.name].code_version = code_version
        self.gate.set_reserved(function.name, function.reserved_concurrency)
        self.versions.publish_after_change(self.pools[function.name])

    def replace_config(self, config: FleetConfig) -> None:
        """Adopt a reloaded config's account-wide settings; functions change through update/add/remove_function."""
        self.config = config
        self.invoker.config = config
        self.gate.account_limit = config.account_concurrency
        for pool in self.pools.values():
            pool.fleet = config

    async def prewarm(self, name: str) -> InitOutcome:
        """Initialise one environment of the function's current version ahead of any request; keep it idle.

        Lambda may initialise on-demand environments early (LAMBDA.md §1); a
        reload does, to find broken code before anyone invokes. The first
        invocation it serves still reports the cold start. An Init error
        retires the environment and comes back in the outcome; a worker that
        dies or times out in Init raises EnvironmentFailed.
        """
        if not self.running:
            raise FleetStopped("lambdatop is not running")
        pool = self.pools[name]
        if pool.function.cannot_run is not None:
            raise FunctionCannotRun(name, pool.function.cannot_run.reason, pool.function.cannot_run.code)
        return await pool.prewarm(getattr(self.invoker, "init_limit", INIT_LIMIT_S), lambda: self.running)

    def remove_function(self, name: str) -> None:
        pool = self.pools.pop(name, None)
        if pool is not None:
            pool.mark_stale()
            self.versions.forget(name)
            self.gate.set_reserved(name, None)

    # -- telemetry --------------------------------------------------------------------

    def subscribe(self, name: str, maxlen: int = 10_000) -> Subscription:
        return self.bus.subscribe(name, maxlen)

    def snapshot(self, recent: int = 100) -> FleetSnapshot:
        now = time.time()
        sandbox = self.zygotes.sandbox.info if self.zygotes.sandbox is not None else None
        functions = [function_snapshot(name, pool, self.stats[name], self.metrics.function(name), self.gate, now, sandbox,
                                       self.versions.pools_of(name))
                     for name, pool in self.pools.items()]
        for function in functions:
            function.versions = self.versions.view(self.pools[function.name])
        totals_invocations = sum(self.stats[f.name].totals.invocations for f in functions)
        totals_cold = sum(self.stats[f.name].totals.cold_starts for f in functions)
        inv_rate = sum(f.invocations_per_s for f in functions)
        err_rate = sum(f.errors_per_s for f in functions)
        thr_rate = sum(f.throttles_per_s for f in functions)
        return FleetSnapshot(
            at=now, account_limit=self.gate.account_limit, in_use=self.gate.total_in_use, functions=functions,
            recent=list(reversed(self._recent[-recent:])), invocations_per_s=inv_rate, errors_per_s=err_rate,
            throttles_per_s=thr_rate, cold_share_pct=100.0 * totals_cold / totals_invocations if totals_invocations else 0.0,
            endpoint=self.endpoint, extras={name: provider() for name, provider in self.snapshot_providers.items()},
            isolation=sandbox.describe() if sandbox is not None else "",
        )

    # -- internals --------------------------------------------------------------------

    def _add_pool(self, name: str, function: FunctionConfig) -> None:
        self.pools[name] = self.provisioner.pool(function, self.config)
        self.stats.setdefault(name, FunctionStats())

    def _version_pool(self, version: PublishedVersion) -> FunctionPool:
        """The pool a published version runs on: its own code copy and configuration, the function's Python."""
        return self.provisioner.pool(version.function, self.config, code_version=version.code_version, version=version.name)

    def _notify(self, kind: str, message: str) -> None:
        self.bus.publish(FleetEvent(kind, message, time.time()))

    def _warn(self, function: str, message: str) -> None:
        self.bus.publish(FleetEvent("warning", message, time.time(), function))

    def _on_deployment(self, deployment: Deployment, message: str) -> None:
        self.bus.publish(FleetEvent("deployment", message, time.time(), deployment.function, deployment.detail()))

    def _all_pools(self) -> list[FunctionPool]:
        return [*self.pools.values(), *self.versions.all_pools()]

    def _publish_install(self, kind: str, message: str, function: str, detail: dict[str, Any]) -> None:
        self.bus.publish(FleetEvent(kind, message, time.time(), function, detail))

    def _on_result(self, result: InvocationResult) -> None:
        record = result.record
        stats = self.stats.get(record.function)
        if stats is not None:
            stats.add(record)
        pool = self.pools.get(record.function)
        self.metrics.add_record(record, pool.function.architecture if pool is not None else "x86_64")
        self.versions.traffic.add(record)
        self._recent.append(record)
        if len(self._recent) > 2000:
            del self._recent[:1000]
        self.bus.publish(result)

    def _on_acquire(self, function: str, in_use: int) -> None:
        self.metrics.saw_concurrency(function, in_use, self.gate.total_in_use, time.time())

    def _on_env_change(self, env: ExecutionEnvironment) -> None:
        self.bus.publish(EnvironmentEvent(env.function, env.id, str(env.state), env.pid, time.time()))

