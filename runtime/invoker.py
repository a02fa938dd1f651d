"""One invocation, start to finish: validate, pass the gate, get an environment, run, record.

Whatever happens (success, function error, throttle, timeout, out of memory,
a worker that dies) the caller gets an `InvocationResult` or a typed service
error, and exactly one `InvocationRecord` is published.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from lambdatop.runtime import logformat
from lambdatop.runtime.config import FleetConfig
from lambdatop.runtime.environment import EnvironmentFailed, ExecutionEnvironment, Failure
from lambdatop.runtime.errors import (
    ASYNC_PAYLOAD_LIMIT,
    SYNC_PAYLOAD_LIMIT,
    FunctionNotFound,
    InvalidRequestContent,
    RequestTooLarge,
    Throttled,
)
from lambdatop.runtime.gate import ConcurrencyGate
from lambdatop.runtime.identifiers import parse_trace_header, request_id as new_request_id, segment_id, trace_header, trace_id
from lambdatop.runtime.pool import FunctionPool
from lambdatop.runtime.records import InvocationRecord, InvocationResult, InvocationStatus, InvocationType, Trigger
from lambdatop.runtime.spawner import Spawner

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
        if pool is None or (qualifier not in (None, "$LATEST")):
            raise FunctionNotFound(name, self.config.function_arn(target, qualifier))
        return pool, qualifier

    async def invoke(
        self,
        name: str,
        payload: bytes,
        *,
        invocation_type: InvocationType = InvocationType.REQUEST_RESPONSE,
        trigger: Trigger | str = Trigger.API,
        client_context: str | None = None,
        trace: str | None = None,
        request_id: str | None = None,
        qualifier: str | None = None,
        queued_at: float | None = None,
        source_arn: str | None = None,
    ) -> InvocationResult:
        pool, name_qualifier = self.resolve(name if qualifier is None else f"{name}:{qualifier}")
        check_payload(payload, invocation_type)

        function = pool.function
        now = time.time()
        incoming = parse_trace_header(trace)
        record = InvocationRecord(
            request_id=request_id or new_request_id(),
            function=function.name,
            version=pool.version,
            code_version=pool.code_version,
            trigger=str(trigger),
            invocation_type=str(invocation_type),
            started_at=now,
            memory_size_mb=function.memory_size,
            trace_id=incoming.get("Root") or trace_id(now),
            segment_id=segment_id(),
            parent_id=incoming.get("Parent"),
            queued_at=queued_at,
            source_arn=source_arn,
        )
        if invocation_type is InvocationType.DRY_RUN:
            record.ended_at = now
            return InvocationResult(record, payload, b"")
        try:
            self.gate.acquire(function.name)
        except Throttled as throttle:
            record.status = InvocationStatus.THROTTLED
            record.error_type = throttle.code
            record.error_message = f"Rate Exceeded. ({throttle.reason})"
            record.ended_at = time.time()
            throttle.record = record
            self.on_result(InvocationResult(record, payload, json.dumps(throttle.body()).encode()))
            raise
        self.in_flight += 1
        if self.on_acquire is not None:
            self.on_acquire(function.name, self.gate.in_use[function.name])
        try:
            sampled = function.tracing == "Active" or incoming.get("Sampled") == "1"
            header = trace_header(record.trace_id or "", record.segment_id or "", sampled)
            arn = self.config.function_arn(function.function_name or function.name, name_qualifier)
            result = await self._run(pool, record, payload, arn, header, client_context)
        finally:
            self.in_flight -= 1
            self.gate.release(function.name)
        self.on_result(result)
        return result

    async def _run(
        self, pool: FunctionPool, record: InvocationRecord, payload: bytes, arn: str, header: str, client_context: str | None
    ) -> InvocationResult:
        function = pool.function
        lines: list[str] = []
        timeout = float(function.timeout)
        # What the worker gets; it starts its deadline (`timeout` from now) when the invoke starts.
        request = ("invoke", record.request_id, payload, int(timeout * 1000), arn, header, client_context, None)
        begin = time.perf_counter()
        env = pool.take_idle()
        if env is None:
            record.cold_start = True
            env, failed, begin = await self._cold_start(pool, record, lines, begin, request)
            if failed is not None:
                return self._finish(record, lines, payload, failed, init_failed=True)
            assert env is not None
            if record.init_duration_ms is None:  # a suppressed init spent part of the invoke's budget
                timeout -= time.perf_counter() - begin
                request = (*request[:3], max(1, int(timeout * 1000)), *request[4:])
        elif env.early_init is not None:
            # Initialised ahead of any request (pre-warmed after a reload, as Lambda may initialise early):
            # its first invocation is still the cold start, with the Init it ran and that Init's output.
            outcome, env.early_init = env.early_init, None
            record.cold_start = True
            record.init_duration_ms = outcome.init_ms
            record.init_started_at = outcome.started_at
            lines.append(logformat.init_start_line(pool.function.runtime, self.config.region))
            lines.extend(logformat.split_output(outcome.logs))
        invoke_begin = time.perf_counter()
        poll = self._busy_poll_budget(env)
        env.begin(request, max(timeout, 0.001), linger=poll)
        # What follows runs while the worker does.
        record.env_id, record.pid = env.id, env.pid
        lines.append(logformat.start_line(record.request_id, record.version))
        self.busy.add(env)
        try:
            reply = await env.finish(poll)
        except EnvironmentFailed as failure:
            lines.extend(logformat.split_output(failure.logs))
            record.duration_ms = (time.perf_counter() - invoke_begin) * 1000 + _suppressed_init_ms(record, begin, invoke_begin)
            record.max_memory_used_mb = _mb(env.peak_kb)
            error = await self._platform_error(env, record, failure.failure, function.timeout)
            pool.retire(env)
            return self._finish(record, lines, payload, error)
        finally:
            self.busy.discard(env)
        lines.extend(logformat.split_output(reply.logs))
        record.duration_ms = reply.duration_ms + _suppressed_init_ms(record, begin, invoke_begin)
        record.invoke_started_at, record.invoke_ended_at = reply.started_at, reply.ended_at
        record.max_memory_used_mb = _mb(reply.peak_kb)
        if not reply.ok:
            record.status = InvocationStatus.ERROR
            record.error_type = reply.error_type
            record.error_message = _error_message(reply.payload)
        pool.release(env)
        return self._finish(record, lines, payload, reply.payload)

    def _busy_poll_budget(self, env: ExecutionEnvironment) -> float:
        """How long to poll for `env`'s reply before sleeping in the event loop (see ExecutionEnvironment._poll).

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

    async def _cold_start(
        self, pool: FunctionPool, record: InvocationRecord, lines: list[str], begin: float, request: tuple
    ) -> tuple[ExecutionEnvironment | None, bytes | None, float]:
        """Create an environment and run Init, with `request` sent ahead for the worker to take up after it.

        Returns (env, None, invoke phase start) or (None, error payload, invoke phase start).
        """
        lines.append(logformat.init_start_line(pool.function.runtime, self.config.region))
        env = pool.new_environment()
        record.init_started_at = time.time()
        try:
            outcome = await env.start(self.spawner, self.init_limit, first_request=request)
        except EnvironmentFailed as failure:
            lines.extend(logformat.split_output(failure.logs))
            pool.retire(env)
            if failure.failure is not Failure.INIT_TIMEOUT:
                record.duration_ms = (time.perf_counter() - begin) * 1000
                lines.append(logformat.init_report_line(record.duration_ms, "init", "error", "Runtime.ExitError"))
                return None, await self._platform_error(env, record, failure.failure, pool.function.timeout), begin
            # Lambda retries a timed-out Init inside the invoke phase, bounded by the function timeout.
            lines.append(logformat.init_report_line(self.init_limit * 1000, "init", "timeout"))
            return await self._suppressed_init(pool, record, lines)
        lines.extend(logformat.split_output(outcome.logs))
        record.pid = env.pid
        if outcome.error is not None:
            # As on Lambda, a failed Init is retried once inside the invoke phase (a second INIT_REPORT,
            # Phase: invoke); code that fails both times reports the retry's error.
            lines.append(logformat.init_report_line(outcome.init_ms, "init", "error", outcome.error["errorType"]))
            pool.retire(env)
            return await self._suppressed_init(pool, record, lines)
        record.init_duration_ms = outcome.init_ms
        record.init_started_at = outcome.started_at
        return env, None, begin

    async def _suppressed_init(
        self, pool: FunctionPool, record: InvocationRecord, lines: list[str]
    ) -> tuple[ExecutionEnvironment | None, bytes | None, float]:
        """The Init retry inside the invoke phase: no Init Duration, its time counts as Duration."""
        begin = time.perf_counter()
        env = pool.new_environment()
        try:
            outcome = await env.start(self.spawner, float(pool.function.timeout))
        except EnvironmentFailed as failure:
            lines.extend(logformat.split_output(failure.logs))
            pool.retire(env)
            record.duration_ms = (time.perf_counter() - begin) * 1000
            return None, await self._platform_error(env, record, failure.failure, pool.function.timeout), begin
        lines.extend(logformat.split_output(outcome.logs))
        if outcome.error is not None:
            pool.retire(env)
            record.duration_ms = (time.perf_counter() - begin) * 1000
            record.max_memory_used_mb = _mb(env.peak_kb)
            record.status = InvocationStatus.ERROR
            record.error_type = outcome.error["errorType"]
            record.error_message = outcome.error["errorMessage"]
            lines.append(logformat.init_report_line(outcome.init_ms, "invoke", "error", record.error_type))
            return None, json.dumps(outcome.error).encode(), begin
        return env, None, begin

    async def _platform_error(self, env: ExecutionEnvironment, record: InvocationRecord, failure: Failure, timeout: int) -> bytes:
        """Record a failure the platform detected and return Lambda's error payload for it."""
        rid = record.request_id
        if failure in (Failure.TIMEOUT, Failure.INIT_TIMEOUT):
            record.status = InvocationStatus.TIMEOUT
            record.error_type = "Sandbox.Timedout"
            record.error_message = f"RequestId: {rid} Error: Task timed out after {timeout:.2f} seconds"
        elif failure is Failure.OUT_OF_MEMORY:
            record.status = InvocationStatus.OUT_OF_MEMORY
            record.error_type = "Runtime.OutOfMemory"
            record.error_message = f"RequestId: {rid} Error: Runtime exited with error: signal: killed"
            record.max_memory_used_mb = max(record.max_memory_used_mb, record.memory_size_mb)
        else:
            description = await self.spawner.exit_status(env.pid) if env.pid else None
            record.status = InvocationStatus.CRASHED
            record.error_type = "Runtime.ExitError"
            if description is None or description == "exit status 0":
                record.error_message = f"RequestId: {rid} Error: Runtime exited without providing a reason"
            else:
                record.error_message = f"RequestId: {rid} Error: Runtime exited with error: {description}"
        return json.dumps({"errorMessage": record.error_message, "errorType": record.error_type}).encode()

    def _finish(self, record: InvocationRecord, lines: list[str], request: bytes, response: bytes, init_failed: bool = False) -> InvocationResult:
        if init_failed:
            lines.append(logformat.start_line(record.request_id, record.version))
        record.billed_duration_ms = logformat.billed_duration_ms(record.duration_ms, record.init_duration_ms)
        record.ended_at = time.time()
        lines.append(logformat.end_line(record.request_id))
        lines.append(logformat.report_line(record, init_failed=init_failed and record.status is InvocationStatus.ERROR))
        return InvocationResult(record, request, response, lines)


def check_payload(payload: bytes, invocation_type: InvocationType) -> None:
    """What Lambda refuses before any code runs: a payload over the invocation type's limit, or not JSON."""
    limit = ASYNC_PAYLOAD_LIMIT if invocation_type is InvocationType.EVENT else SYNC_PAYLOAD_LIMIT
    if len(payload) > limit:
        raise RequestTooLarge(len(payload), limit)
    if not payload.strip():
        return
    try:
        json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequestContent(f"Could not parse request body into json: Could not parse payload into json: {exc}") from exc


def _error_message(payload: bytes) -> str | None:
    try:
        error: Any = json.loads(payload)
    except ValueError:
        return None
    return error.get("errorMessage") if isinstance(error, dict) else None


def _suppressed_init_ms(record: InvocationRecord, begin: float, invoke_begin: float) -> float:
    """A cold start whose Init was retried inside the invoke bills that time as Duration."""
    if record.cold_start and record.init_duration_ms is None:
        return (invoke_begin - begin) * 1000
    return 0.0


def _mb(kb: int) -> int:
    return math.ceil(kb / 1024)
