"""One invocation, start to finish: validate, pass the gate, get an environment, run, record.

Whatever happens (success, function error, throttle, timeout, out of memory,
a worker that dies) the caller gets an `InvocationResult` or a typed service
error, and exactly one `InvocationRecord` is published.

    _run ── take_idle() ── warm ──────────────────────────────────────────┐
                │ pre-warmed (env.early_init) ── _first_of_prewarmed ─────┤
                └ none ── _cold_start ── Init ok ─────────────────────────┼──► _invoke ──► _finish
                             │ Init error or timeout ── _suppressed_init ─┘      (START .. REPORT)
                             └ the worker died in Init ──────────────────────────► _finish

A suppressed init (Lambda's name for Init retried inside the invoke phase)
sets `record.init_suppressed`: no Init Duration, and its time is Duration.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from lambdatop.runtime import logformat
from lambdatop.runtime.config import FleetConfig
from lambdatop.runtime.execution.environment import EnvironmentFailed, ExecutionEnvironment, Failure, InitOutcome
from lambdatop.runtime.execution.invocation_log import InitStatus, InvocationLog, Phase
from lambdatop.runtime.errors import FunctionCannotRun, FunctionNotFound, Throttled
from lambdatop.runtime.execution.gate import ConcurrencyGate
from lambdatop.runtime.execution.requests import check_payload, new_record
from lambdatop.runtime.identifiers import parse_trace_header, trace_header
from lambdatop.runtime.execution.pool import FunctionPool
from lambdatop.runtime.records import InvocationRecord, InvocationResult, InvocationStatus, InvocationType, Trigger
from lambdatop.runtime.execution.spawner import Spawner
from lambdatop.runtime.worker.messages import InvokeRequest

class VersionLookup(Protocol):
    """Where qualified invocations find their version (runtime/versions/registry.py's VersionRegistry)."""

    def exists(self, name: str, qualifier: str) -> bool: ...

    def pool_for(self, base: FunctionPool, qualifier: str | None) -> FunctionPool: ...


# Invocations by the template's own wiring (its Events and its function URL): SAM attaches them to the
# function's AutoPublishAlias when it has one. Direct calls (CLI, keys, the Invoke API) name what they run.
ALIAS_TRIGGERS = frozenset({Trigger.API, Trigger.URL, Trigger.SCHEDULE, Trigger.SQS, Trigger.STREAM, Trigger.S3,
                            Trigger.SNS, Trigger.EVENTBRIDGE})
INIT_LIMIT_S = 10.0  # Lambda's Init phase limit for on-demand functions
# Polling for a reply: at most this long, and for at most this many invocations in a row without
# letting the event loop turn (the dashboard, the endpoint and timers share it).
BUSY_POLL_S = 0.0002
POLLS_PER_TURN = 32


class Invoker:
    def __init__(
        self,
        config: FleetConfig,
        pools: Mapping[str, FunctionPool],
        gate: ConcurrencyGate,
        spawner: Spawner,
        on_result: Callable[[InvocationResult], None],
    ) -> None:
        self.config = config
        self.pools = pools
        self.gate = gate
        self.spawner = spawner
        self.on_result = on_result
        self.busy: set[ExecutionEnvironment] = set()  # for the memory sampler
        self.in_flight = 0
        self.on_acquire: Callable[[str, int], None] | None = None
        self.init_limit = INIT_LIMIT_S
        # Published versions and aliases (runtime/versions/, set by the Fleet): None answers only $LATEST.
        self.versions: VersionLookup | None = None
        self._polled_in_a_row = 0

    def resolve(self, name: str) -> tuple[FunctionPool, str | None]:
        """A function by name, `name:qualifier`, or full or partial ARN; returns (pool, qualifier)."""
        qualifier = None
        target = name
        if target.startswith("arn:"):
            parts = target.split(":")
            target = parts[6] if len(parts) > 6 else ""
            qualifier = parts[7] if len(parts) > 7 else None
        elif ":function:" in target:  # partial ARN: 123456789012:function:name[:qualifier]
            parts = target.split(":")
            target = parts[2]
            qualifier = parts[3] if len(parts) > 3 else None
        elif ":" in target:
            target, qualifier = target.split(":", 1)
        pool = self.pools.get(target)
        if pool is None:
            for candidate in self.pools.values():
                if target in candidate.function.names:
                    pool = candidate
                    break
        if pool is None or not self._qualifier_exists(pool, qualifier):
            raise FunctionNotFound(name, self.config.function_arn(target, qualifier))
        return pool, qualifier

    def _event_alias(self, pool: FunctionPool) -> str | None:
        """The alias a template's events invoke: SAM points a function's event sources and URL at its
        AutoPublishAlias, so a traffic shift covers them too; None for a function without one."""
        alias = pool.function.auto_publish_alias
        return alias if alias is not None and self._qualifier_exists(pool, alias) else None

    def _qualifier_exists(self, pool: FunctionPool, qualifier: str | None) -> bool:
        if qualifier in (None, "$LATEST"):
            return True
        return self.versions is not None and self.versions.exists(pool.name, str(qualifier))

    async def invoke(
        self,
        name: str,
        payload: bytes,
        *,
        invocation_type: InvocationType = InvocationType.REQUEST_RESPONSE,
        trigger: Trigger | str = Trigger.LIBRARY,
        client_context: str | None = None,
        trace: str | None = None,
        request_id: str | None = None,
        qualifier: str | None = None,
        queued_at: float | None = None,
        route: str | None = None,
        source_arn: str | None = None,
    ) -> InvocationResult:
        pool, name_qualifier = self.resolve(name if qualifier is None else f"{name}:{qualifier}")
        check_payload(payload, invocation_type)
        if name_qualifier is None and str(trigger) in ALIAS_TRIGGERS:
            name_qualifier = self._event_alias(pool)
        if self.versions is not None:  # FN:2 or an alias's pick among its versions: that version's own pool
            pool = self.versions.pool_for(pool, name_qualifier)
        function = pool.function
        if function.cannot_run is not None:
            raise FunctionCannotRun(function.function_name or function.name, function.cannot_run.reason, function.cannot_run.code)
        incoming = parse_trace_header(trace)
        record = new_record(pool, request_id, trigger, invocation_type, incoming, queued_at, route, source_arn)
        if invocation_type is InvocationType.DRY_RUN:
            record.ended_at = record.started_at
            return InvocationResult(record, payload, b"")
        self._pass_gate(record, payload)
        self.in_flight += 1
        if self.on_acquire is not None:
            self.on_acquire(function.name, self.gate.in_use[function.name])
        try:
            sampled = function.tracing == "Active" or incoming.get("Sampled") == "1"
            request = InvokeRequest(
                request_id=record.request_id, payload=payload, timeout_ms=int(function.timeout * 1000),
                invoked_function_arn=self.config.function_arn(function.function_name or function.name, name_qualifier),
                trace_header=trace_header(record.trace_id or "", record.segment_id or "", sampled),
                client_context=client_context,
            )
            result = await self._run(pool, record, request)
        finally:
            self.in_flight -= 1
            self.gate.release(function.name)
        self.on_result(result)
        return result

    def _pass_gate(self, record: InvocationRecord, payload: bytes) -> None:
        """Take a unit of the function's concurrency, or record and publish the throttle and raise it."""
        try:
            self.gate.acquire(record.function)
        except Throttled as throttle:
            record.status = InvocationStatus.THROTTLED
            record.error_type = throttle.code
            record.error_message = f"Rate Exceeded. ({throttle.reason})"
            record.ended_at = time.time()
            throttle.record = record
            self.on_result(InvocationResult(record, payload, json.dumps(throttle.body()).encode()))
            raise

    # -- the three ways to an environment --------------------------------------------

    async def _run(self, pool: FunctionPool, record: InvocationRecord, request: InvokeRequest) -> InvocationResult:
        """Warm, pre-warmed or cold: get an environment, then invoke it."""
        log = InvocationLog.for_function(pool.function, self.config.region, pool.spawner.interpreter.version)
        begin = time.perf_counter()
        env = pool.take_idle()
        if env is None:
            start = await self._cold_start(pool, record, log, begin, request)
            if start.env is None:
                assert start.error is not None
                return self._finish(record, log, request.payload, start.error)
            return await self._invoke(pool, start.env, record, log, request, start.suppressed_since)
        if env.early_init is not None:
            self._first_of_prewarmed(env, record, log)
        return await self._invoke(pool, env, record, log, request)

    def _first_of_prewarmed(self, env: ExecutionEnvironment, record: InvocationRecord, log: InvocationLog) -> None:
        """Initialised ahead of any request (pre-warmed after a reload, as Lambda may initialise early):
        its first invocation is still the cold start, with the Init it ran and that Init's output."""
        assert env.early_init is not None
        outcome, env.early_init = env.early_init, None
        record.cold_start = True
        record.init_duration_ms = outcome.init_ms
        record.init_started_at = outcome.started_at
        record.init_ended_at = outcome.started_at + outcome.init_ms / 1000  # not the idle wait since
        log.init_start()
        log.worker_output(outcome.logs)

    async def _cold_start(
        self, pool: FunctionPool, record: InvocationRecord, log: InvocationLog, begin: float, request: InvokeRequest
    ) -> ColdStart:
        """Create an environment and run Init, with `request` sent ahead for the worker to take up after it."""
        record.cold_start = True
        await pool.ready()
        await pool.spawner.wait_ready()  # a SnapStart version whose snapshot is still being taken
        spawner = pool.spawner.current()  # the one env.start forks from, so the log's first line says what it does
        log.restore_start() if spawner.RESTORES else log.init_start()
        env = pool.new_environment()
        record.init_started_at = time.time()
        try:
            outcome = await env.start(spawner, self.init_limit, first_request=request)
        except EnvironmentFailed as failure:
            log.worker_output(failure.logs)
            pool.retire(env)
            ended = "Runtime.OutOfMemory" if failure.failure is Failure.OUT_OF_MEMORY or env.oom_killed() else "Runtime.ExitError"
            if spawner.RESTORES:  # died or ran out of time restoring: no Init to retry
                record.duration_ms = (time.perf_counter() - begin) * 1000
                log.restore_report(record.duration_ms, ended)
                return ColdStart(None, await self._platform_error(env, record, failure, pool.function.timeout))
            if failure.failure is not Failure.INIT_TIMEOUT:
                record.init_suppressed = True  # no Init Duration: the time went into Duration
                record.duration_ms = (time.perf_counter() - begin) * 1000
                log.init_report(record.duration_ms, Phase.INIT, InitStatus.ERROR, ended)
                return ColdStart(None, await self._platform_error(env, record, failure, pool.function.timeout))
            # Lambda retries a timed-out Init inside the invoke phase, bounded by the function timeout.
            log.init_report(self.init_limit * 1000, Phase.INIT, InitStatus.TIMEOUT)
            return await self._suppressed_init(pool, record, log)
        log.worker_output(outcome.logs)
        record.pid = env.pid
        if outcome.restored:
            return self._restored(pool, env, record, log, outcome)
        if outcome.error is not None:
            # As on Lambda, a failed Init is retried once inside the invoke phase (a second INIT_REPORT,
            # Phase: invoke); code that fails both times reports the retry's error.
            log.init_report(outcome.init_ms, Phase.INIT, InitStatus.ERROR, outcome.platform_error_type)
            pool.retire(env)
            return await self._suppressed_init(pool, record, log)
        record.init_duration_ms = outcome.init_ms
        record.init_started_at = outcome.started_at
        record.init_ended_at = outcome.started_at + outcome.init_ms / 1000
        return ColdStart(env)

    def _restored(self, pool: FunctionPool, env: ExecutionEnvironment, record: InvocationRecord, log: InvocationLog,
                  outcome: InitOutcome) -> ColdStart:
        """A SnapStart cold start: Restore Duration and its billed part instead of Init Duration (Init ran at publish).
        Failed after-restore hooks fail the invocation: there is no Init to retry."""
        record.restore_duration_ms = outcome.restore_ms
        record.billed_restore_duration_ms = max(1, math.ceil(outcome.init_ms))
        assert record.init_started_at is not None  # set when the restore was asked for, as Restore Duration runs
        record.init_ended_at = record.init_started_at + outcome.restore_ms / 1000
        log.restore_report(outcome.restore_ms, outcome.platform_error_type if outcome.error else None)
        if outcome.error is None:
            return ColdStart(env)
        pool.retire(env)
        record.status = InvocationStatus.ERROR
        record.error_type = outcome.platform_error_type
        record.error_message = outcome.error["errorMessage"]
        record.max_memory_used_mb = _mb(env.peak_kb)
        return ColdStart(None, json.dumps(outcome.error).encode())

    async def _suppressed_init(self, pool: FunctionPool, record: InvocationRecord, log: InvocationLog) -> ColdStart:
        """The Init retry inside the invoke phase: no Init Duration, its time counts as Duration."""
        record.init_suppressed = True
        begin = time.perf_counter()
        env = pool.new_environment()
        try:
            outcome = await env.start(pool.spawner, float(pool.function.timeout), request_id=record.request_id)
        except EnvironmentFailed as failure:
            log.worker_output(failure.logs)
            pool.retire(env)
            record.duration_ms = (time.perf_counter() - begin) * 1000
            return ColdStart(None, await self._platform_error(env, record, failure, pool.function.timeout), begin)
        log.worker_output(outcome.logs)
        if outcome.error is not None:
            pool.retire(env)
            record.duration_ms = (time.perf_counter() - begin) * 1000
            record.max_memory_used_mb = _mb(env.peak_kb)
            record.status = InvocationStatus.ERROR
            record.error_type = outcome.platform_error_type
            record.error_message = outcome.error["errorMessage"]
            log.init_report(outcome.init_ms, Phase.INVOKE, InitStatus.ERROR, record.error_type)
            return ColdStart(None, json.dumps(outcome.error).encode(), begin)
        return ColdStart(env, None, begin)

    # -- the invoke phase -------------------------------------------------------------

    async def _invoke(
        self, pool: FunctionPool, env: ExecutionEnvironment, record: InvocationRecord, log: InvocationLog,
        request: InvokeRequest, suppressed_since: float | None = None,
    ) -> InvocationResult:
        """Run the request on `env` and record the reply; `suppressed_since` is when an Init retried in this phase began."""
        timeout = float(pool.function.timeout)
        if suppressed_since is not None:  # the retried Init spent part of the invoke's budget
            timeout -= time.perf_counter() - suppressed_since
            request = request._replace(timeout_ms=max(1, int(timeout * 1000)))
        invoke_begin = time.perf_counter()
        init_in_invoke_ms = (invoke_begin - suppressed_since) * 1000 if suppressed_since is not None else 0.0
        poll = self._busy_poll_budget(env)
        env.begin(request, max(timeout, 0.001), linger=poll)
        # What follows runs while the worker does.
        record.env_id, record.pid = env.id, env.pid
        log.start(record)
        self.busy.add(env)
        try:
            reply = await env.finish(poll)
        except EnvironmentFailed as failure:
            log.worker_output(failure.logs)
            record.duration_ms = (time.perf_counter() - invoke_begin) * 1000 + init_in_invoke_ms
            record.max_memory_used_mb = _mb(env.peak_kb)
            error = await self._platform_error(env, record, failure, pool.function.timeout)
            pool.retire(env)
            return self._finish(record, log, request.payload, error)
        finally:
            self.busy.discard(env)
        log.worker_output(reply.logs)
        record.duration_ms = reply.duration_ms + init_in_invoke_ms
        record.invoke_started_at, record.invoke_ended_at = reply.started_at, reply.ended_at
        record.max_memory_used_mb = _mb(reply.peak_kb)
        if not reply.ok:
            record.status = InvocationStatus.ERROR
            record.error_type = reply.error_type
            record.error_message = _error_message(reply.payload)
        pool.release(env)
        return self._finish(record, log, request.payload, reply.payload)

    def _busy_poll_budget(self, env: ExecutionEnvironment) -> float:
        """How long to poll for `env`'s reply before sleeping in the event loop (see WorkerChannel.poll).

        Only for the one invocation in flight (with others, the loop has their
        replies to read) and only if this environment answered within the
        budget last time; polling blocks the loop, so a caller that is answered
        every time gives the loop a turn every POLLS_PER_TURN invocations.
        """
        if self.in_flight != 1 or not 0.0 < env.reply_latency <= BUSY_POLL_S:
            self._polled_in_a_row = 0
            return 0.0
        self._polled_in_a_row += 1
        if self._polled_in_a_row > POLLS_PER_TURN:
            self._polled_in_a_row = 0
            return 0.0
        return BUSY_POLL_S

    async def _platform_error(self, env: ExecutionEnvironment, record: InvocationRecord, failure: EnvironmentFailed, timeout: int) -> bytes:
        """Record a failure the platform detected and return Lambda's error payload for it."""
        rid = record.request_id
        kind = failure.failure
        if kind is Failure.EXITED and env.oom_killed():
            kind = Failure.OUT_OF_MEMORY  # its memory cgroup's limit: the kernel killed the worker itself
        if kind in (Failure.TIMEOUT, Failure.INIT_TIMEOUT):
            record.status = InvocationStatus.TIMEOUT
            record.error_type = "Sandbox.Timedout"
            record.error_message = f"RequestId: {rid} Error: Task timed out after {timeout:.2f} seconds"
        elif kind is Failure.OUT_OF_MEMORY:
            record.status = InvocationStatus.OUT_OF_MEMORY
            record.error_type = "Runtime.OutOfMemory"
            record.error_message = f"RequestId: {rid} Error: Runtime exited with error: signal: killed"
            record.max_memory_used_mb = max(record.max_memory_used_mb, record.memory_size_mb)
        elif kind is Failure.BAD_MESSAGE:
            record.status = InvocationStatus.CRASHED
            record.error_type = "Runtime.ExitError"
            record.error_message = f"RequestId: {rid} Error: Runtime sent a malformed message and was stopped: {failure.detail}"
        else:
            spawner = env.spawner or self.spawner  # what forked it: its function's zygote, or its version's snapshot
            description = await spawner.exit_status(env.pid) if env.pid else None
            record.status = InvocationStatus.CRASHED
            record.error_type = "Runtime.ExitError"
            if description is None or description == "exit status 0":
                record.error_message = f"RequestId: {rid} Error: Runtime exited without providing a reason"
            else:
                record.error_message = f"RequestId: {rid} Error: Runtime exited with error: {description}"
        return json.dumps({"errorMessage": record.error_message, "errorType": record.error_type}).encode()

    def _finish(self, record: InvocationRecord, log: InvocationLog, request: bytes, response: bytes) -> InvocationResult:
        record.billed_duration_ms = logformat.billed_duration_ms(record.duration_ms, record.init_duration_ms,
                                                                 record.billed_restore_duration_ms)
        record.ended_at = time.time()
        return InvocationResult(record, request, response, log.end_and_report(record))


@dataclass(slots=True)
class ColdStart:
    """How getting a new environment ended: one ready for the request, or the error payload to answer with."""

    env: ExecutionEnvironment | None
    error: bytes | None = None
    suppressed_since: float | None = None  # time.perf_counter() when an Init retried inside the invoke phase began


def _error_message(payload: bytes) -> str | None:
    try:
        error: Any = json.loads(payload)
    except ValueError:
        return None
    return error.get("errorMessage") if isinstance(error, dict) else None


def _mb(kb: int) -> int:
    return math.ceil(kb / 1024)
