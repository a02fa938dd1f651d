"""One execution environment as the supervisor sees it: a worker process and its lifecycle.

The states, their legal moves and the idle sub-state `Freeze` are drawn in
`lifecycle.py`; the socket protocol with the worker is `channel.py`'s; the
limits (Init, the invocation's deadline, memory) are `housekeeping.py`'s.
This class holds them together: start, begin/finish one invocation, idle,
freeze, kill. A reload marks an environment stale: it finishes what it is
doing, then goes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

from lambdatop.runtime.execution import housekeeping
from lambdatop.runtime.execution.channel import Stage, WorkerChannel
from lambdatop.runtime.execution.lifecycle import (  # re-exported: the names callers know this module by
    TRANSITIONS,
    EnvironmentFailed,
    EnvState,
    Failure,
    Freeze,
    IllegalTransition,
    InitOutcome,
)
from lambdatop.runtime.execution.extensions import ExtensionRegistry
from lambdatop.runtime.execution.runtime_channel import RuntimeApiChannel, RuntimeApiHost
from lambdatop.runtime.execution.sandbox import EnvironmentGroup
from lambdatop.runtime.execution.spawner import Spawner
from lambdatop.runtime.worker.confinement import group_exists
from lambdatop.runtime.worker.snapstart import AFTER_RESTORE_ERROR
from lambdatop.runtime.worker.messages import InitDone, InvokeRequest, InvokeResult, WorkerSpec
from lambdatop.runtime.worker.wire import encode

__all__ = ["EnvState", "EnvironmentFailed", "ExecutionEnvironment", "Failure", "Freeze", "IllegalTransition", "InitOutcome"]

PIPELINE_LIMIT = 64 * 1024  # a first request this small rides along with the spawn
# An idle environment is stopped once it has stayed idle this long. A steady stream of calls (an HTTP
# client, a load test) takes its environment back within a few ms, and a stop and a continue per call were
# the largest single cost of the HTTP path (on cgroup v1 each freeze lists cgroup.procs through a fresh
# open); on Lambda too the caller has its response before the environment is frozen.
FREEZE_GRACE_S = 0.005


class ExecutionEnvironment:
    """A worker process serving one function, one invocation at a time."""

    def __init__(self, env_id: str, function: str, code_version: str, spec: WorkerSpec, *, memory_mb: int, freeze: bool,
                 runtime_api: RuntimeApiHost | None = None) -> None:
        self.id = env_id
        self.function = function
        self.code_version = code_version
        self.spec = spec
        self.memory_mb = memory_mb
        self.freeze_when_idle = freeze
        self.state = EnvState.INITIALIZING
        self.freeze_state = Freeze.THAWED
        self.stale = False  # a newer version exists: retire after the current invocation (orthogonal to `state`)
        self.pid: int | None = None
        self.created_at = time.time()
        self.last_used = self.created_at
        self.busy_since: float | None = None  # time.monotonic() when the current invocation began
        self.invocations = 0
        self.kill_sent = False  # a SIGKILL from outside (the dashboard's K, the bench) is on its way; the exit report is not in
        self.rss_kb = 0
        self.peak_kb = 0
        self.request_id: str | None = None
        # Set when Init ran ahead of any request (a pre-warm after a reload): the first invoke reports it as its cold start.
        self.early_init: InitOutcome | None = None
        # Seconds from the last request sent to its reply: whether polling for the next one can pay.
        self.reply_latency = 0.0
        self.on_gone: Any = None  # set by the pool: called once when the worker's socket closes
        self._channel: WorkerChannel | None = None
        # A runtime program of its own (spec.bootstrap), driven through the Runtime API served here; it leads its
        # own process group, so signals go to the group (whatever it started is frozen and killed with it).
        self.runtime_api = runtime_api
        self.api_address: str | None = None
        self._spawner: Spawner | None = None
        # Every process of the environment (its cgroup's, or its worker's group and descendants), once its pid is known.
        self.group: EnvironmentGroup | None = None
        self._spawned_at = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._freeze_timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0  # time.monotonic() when the current invocation times out

    def __repr__(self) -> str:
        return f"<Env {self.id} {self.function} pid={self.pid} {self.state}>"

    # -- lifecycle ------------------------------------------------------------------

    def transition(self, new: EnvState) -> None:
        if new not in TRANSITIONS[self.state]:
            raise IllegalTransition(f"{self.id}: {self.state} -> {new}")
        self.state = new

    @property
    def alive(self) -> bool:
        return self.state not in (EnvState.SHUTTING_DOWN, EnvState.GONE)

    @property
    def frozen(self) -> bool:
        return self.freeze_state is Freeze.FROZEN

    @property
    def speaks_runtime_api(self) -> bool:
        return bool(self.spec.bootstrap)

    async def start(self, spawner: Spawner, init_limit: float, first_request: InvokeRequest | None = None,
                    request_id: str | None = None) -> InitOutcome:
        """Fork the worker and run its Init phase; raises EnvironmentFailed on timeout, death or a bad message.

        A small `first_request` is queued on the socket right away: the worker
        reads it as soon as Init is done, which saves a round trip through the
        supervisor on every cold start. `begin()` then sends nothing and `finish()` waits for its reply.
        `request_id` is the invocation a platform error of Init names (Runtime.InvalidEntrypoint).
        """
        self._loop = asyncio.get_running_loop()
        await spawner.wait_ready()  # a SnapStart version's snapshot may still be running its Init
        spawner = spawner.current()
        self._spawned_at = time.monotonic()
        self._spawner = spawner
        if self.speaks_runtime_api:
            self._channel = self._start_runtime_program(spawner, first_request, request_id)
        else:
            self._channel = self._start_worker(spawner, first_request)
        timer = housekeeping.init_deadline(self, init_limit)
        try:
            done: InitDone = await self._channel.next_message()
        finally:
            timer.cancel()
        self.rss_kb, self.peak_kb = done.rss_kb, done.peak_kb
        if done.peak_kb > self.memory_mb * 1024:
            # Its own peak, as the worker measured it: an Init over the memory size is out of memory even where no
            # cgroup limit stopped it (the fallback) and the sampler looked away (Init ended within its 20 ms).
            self.kill("failure")
            raise EnvironmentFailed(Failure.OUT_OF_MEMORY, done.logs)
        api = self._channel if isinstance(self._channel, RuntimeApiChannel) else None
        posted = api.init_error_body if api is not None else None
        restored = done.restored and not self.speaks_runtime_api
        error_type = api.init_error_type if api is not None else (AFTER_RESTORE_ERROR if restored and done.error else None)
        return InitOutcome(
            (posted or done.error.as_dict()) if done.error else None, done.init_ms, done.logs, done.started_at, done.ended_at,
            done.problem.as_dict() if done.problem else None, error_type, restored,
            (time.monotonic() - self._spawned_at) * 1000 if restored else 0.0,
        )

    @property
    def ended(self) -> bool:
        """Its worker's socket has closed (the state may not say so yet: see `_on_end`)."""
        return self._channel is None or self._channel.stage is Stage.ENDED

    @property
    def spawner(self) -> Spawner | None:
        """What forked this environment (its function's zygote, or its version's SnapStart snapshot): its exit is reported there."""
        return self._spawner

    def _start_worker(self, spawner: Spawner, first_request: InvokeRequest | None) -> WorkerChannel:
        assert self._loop is not None
        ahead = encode(first_request) if first_request is not None else b""
        if len(ahead) > PIPELINE_LIMIT:  # only what fits the empty socket buffer, so the send cannot block
            ahead = b""
        sock = spawner.spawn(self.spec, ahead)
        return WorkerChannel(
            sock, self._loop, sent_ahead=first_request.request_id if ahead and first_request else None,
            on_pid=self._on_pid, on_end=self._on_end, on_bad=self._on_bad_message,
        )

    def _start_runtime_program(self, spawner: Spawner, first_request: InvokeRequest | None, request_id: str | None) -> WorkerChannel:
        """Fork + exec the runtime program with its own Runtime API endpoint in AWS_LAMBDA_RUNTIME_API."""
        assert self._loop is not None
        if self.runtime_api is None:
            raise RuntimeError(f"{self.function}: a runtime program needs the Runtime API server (runtime/api/runtime_api.py)")
        self.api_address = address = self.runtime_api.reserve()
        spec = self.spec._replace(environ={**self.spec.environ, "AWS_LAMBDA_RUNTIME_API": address})
        sock = spawner.spawn(spec)
        function = {"functionName": self.spec.function_name, "functionVersion": self.spec.function_version,
                    "handler": self.spec.handler}
        return RuntimeApiChannel(
            sock, self._loop, address=address, host=self.runtime_api, first_request=first_request, request_id=request_id,
            memory=self._memory_now, on_pid=self._on_pid, on_end=self._on_end, on_bad=self._on_bad_message,
            extensions=ExtensionRegistry(len(self.spec.extensions), function),
        )

    def begin(self, request: InvokeRequest, timeout: float, linger: float = 0.0) -> None:
        """Send one invocation; its reply is `finish()`'s. The deadline runs from now.

        Split from `finish` so the invoker can do its bookkeeping while the worker runs.
        With `linger` the worker polls for its next request for that long after
        replying (Worker.linger).
        """
        channel = self._channel
        assert channel is not None
        self.transition(EnvState.BUSY)
        self.request_id = request.request_id
        self.busy_since = time.monotonic()
        self._deadline = self.busy_since + timeout
        if channel.sent_ahead == request.request_id:
            channel.sent_ahead = None  # sent with the spawn; the worker is already on it
            return
        channel.submit(request, linger)
        # Thawed only once its request is queued: the worker wakes once, with work waiting,
        # instead of waking for SIGCONT, sleeping in recv and waking again for the data.
        self.thaw()

    async def finish(self, busy_poll: float = 0.0) -> InvokeResult:
        """The reply to `begin()`'s invocation; raises EnvironmentFailed on timeout, death or a bad message.

        With `busy_poll` > 0 the socket is polled for up to that many seconds before
        sleeping in the event loop: a reply that comes back within it costs no
        wakeup of this process and no turn of the loop (see `WorkerChannel.poll`).
        """
        channel = self._channel
        assert channel is not None and self.busy_since is not None
        timer = None
        if channel.has_unsent:
            timer = housekeeping.invoke_deadline(self, self._deadline)
            busy_poll = 0.0  # a large request: the worker is far from answering
            await channel.flush()
        reply = channel.take_queued()
        if reply is None and busy_poll > 0:
            reply = channel.poll(busy_poll)
        try:
            if reply is None:
                timer = timer or housekeeping.invoke_deadline(self, self._deadline)
                reply = await channel.next_message()
        finally:
            if timer is not None:
                timer.cancel()
        self.reply_latency = time.monotonic() - self.busy_since
        self.busy_since = None
        self.invocations += 1
        self.rss_kb, self.peak_kb = reply.rss_kb, max(self.peak_kb, reply.peak_kb)
        if self.oom_killed() or reply.peak_kb > self.memory_mb * 1024:
            # The kernel killed one of its processes at the cgroup's limit (a child, while the worker answered), or
            # the worker's own peak passed the memory size between two samples: Lambda ends the whole sandbox, and
            # the invocation with Runtime.OutOfMemory.
            self.kill("failure")
            raise EnvironmentFailed(Failure.OUT_OF_MEMORY, reply.logs)
        return reply

    def idle(self) -> None:
        """Back in the pool, to be frozen as Lambda freezes an environment between invocations.

        The SIGSTOP goes out once it has been idle for FREEZE_GRACE_S, not
        here: an environment taken again before then (a caller invoking back
        to back, a steady stream of HTTP calls) is never stopped and continued
        for nothing. A handler's background threads can run for those few ms,
        as they can on Lambda until the environment is frozen.
        """
        self.transition(EnvState.IDLE)
        self.request_id = None
        self.last_used = time.time()
        if self.freeze_when_idle and self._loop is not None and self.freeze_state is Freeze.THAWED:
            self.freeze_state = Freeze.FREEZING
            self._freeze_timer = self._loop.call_later(FREEZE_GRACE_S, self._freeze_if_still_idle)

    def _cancel_freeze(self) -> None:
        if self._freeze_timer is not None:
            self._freeze_timer.cancel()
            self._freeze_timer = None

    def _freeze_if_still_idle(self) -> None:
        self._freeze_timer = None
        if self.freeze_state is Freeze.FREEZING:
            self.freeze_state = Freeze.THAWED
            if self.state is EnvState.IDLE:
                self.freeze()

    def freeze(self) -> None:
        if self.pid and self.freeze_state is not Freeze.FROZEN:
            self._signal(signal.SIGSTOP)
            self.freeze_state = Freeze.FROZEN

    def thaw(self) -> None:
        self._cancel_freeze()  # taken again within the grace: it was never stopped
        if self.freeze_state is Freeze.FROZEN and self.pid:
            self._signal(signal.SIGCONT)
        self.freeze_state = Freeze.THAWED

    def sample_memory(self) -> int:
        """Current RSS in KB of the worker and what it started, read from /proc (0 if gone); updates the peak.

        A handler's children count against its memory size, as in Lambda's sandbox: a child
        holding 1 GB under a 128 MB function is an out-of-memory, not a success.
        """
        if self.group is None:
            return 0
        rss_kb = self.group.rss_kb()
        if not rss_kb:
            return 0
        self.rss_kb = rss_kb
        self.peak_kb = max(self.peak_kb, rss_kb)
        return rss_kb

    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer took a process of this environment (its memory cgroup's limit)."""
        return self.group is not None and self.group.oom_kills() > 0

    def fail(self, failure: Failure) -> None:
        """Stop the current invocation: the supervisor enforces a limit (Init, timeout, memory)."""
        channel = self._channel
        if channel is None:
            return
        if channel.waiting or self.state is EnvState.BUSY:
            # Waited on, or between begin() and the wait for the reply (a large request still being sent).
            logs = channel.take_logs()
            self.kill("timeout" if failure in (Failure.TIMEOUT, Failure.INIT_TIMEOUT) else "failure")
            channel.fail(EnvironmentFailed(failure, logs))

    def kill(self, reason: str = "spindown") -> None:
        """SIGKILL the worker: at once without extensions (Lambda's grace is 0 ms), else after their Shutdown phase.

        `reason` is the SHUTDOWN event's shutdownReason: spindown, timeout or failure.
        """
        if self.state is EnvState.GONE:
            return
        if self.state is not EnvState.SHUTTING_DOWN:
            self.transition(EnvState.SHUTTING_DOWN)
        channel = self._channel
        pid = self.pid
        if isinstance(channel, RuntimeApiChannel) and channel.shutting_down:
            return  # its extensions' Shutdown phase is under way; it kills the group when it ends
        if isinstance(channel, RuntimeApiChannel) and pid and channel.extensions.wants("SHUTDOWN"):
            try:
                os.kill(pid, signal.SIGKILL)  # the runtime now; its extensions get their Shutdown phase
            except ProcessLookupError:
                pass
            self._signal(signal.SIGCONT)  # a frozen environment's extensions must run to shut down
            if channel.shutdown(reason, lambda: self._signal(signal.SIGKILL), lambda: group_exists(pid)):
                return
        self._signal(signal.SIGKILL)

    def close(self) -> None:
        """Release our ends; the environment is gone."""
        self._cancel_freeze()
        channel = self._channel
        # Extensions in their Shutdown phase outlive the runtime: the channel kills the group when it ends.
        extensions_shutting_down = isinstance(channel, RuntimeApiChannel) and channel.shutting_down
        if channel is not None:
            channel.close()
            self._channel = None
        if self._spawner is not None and self.pid:
            self._spawner.forget_exit(self.pid)
        if self.group is not None and not extensions_shutting_down:
            self.group.kill()  # what the handler left running dies with its environment
            self.group.release()
        if self.state is not EnvState.GONE:
            if self.state is not EnvState.SHUTTING_DOWN:
                self.transition(EnvState.SHUTTING_DOWN)
            self.transition(EnvState.GONE)

    def take_logs(self) -> str:
        """What the worker wrote since its last invocation ended."""
        return self._channel.take_logs() if self._channel is not None else ""

    # -- what the channel reports -------------------------------------------------------

    def _signal(self, signum: int) -> None:
        """Signal every process of the environment (sandbox.EnvironmentGroup): the worker, or the runtime program
        it exec'd, and whatever its code started, so that is frozen, continued and killed with it."""
        if not self.pid:
            return
        if self.group is not None:
            if signum == signal.SIGKILL:
                self.group.kill()
            else:
                self.group.signal(signum)
            return
        try:
            os.killpg(self.pid, signum)
            return
        except (ProcessLookupError, PermissionError):
            pass  # not its own group yet (between the fork and the setpgid): the process alone
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    def _memory_now(self) -> tuple[int, int]:
        """(RSS, peak) in KB as a runtime program's reply reports them (the built-in worker measures its own)."""
        self.sample_memory()
        return self.rss_kb, self.peak_kb

    def _on_pid(self, pid: int) -> None:
        self.pid = pid
        sandbox = self._spawner.sandbox if self._spawner is not None else None
        # The worker joined its cgroup itself, before Init (worker/confinement.py): nothing it starts is outside.
        self.group = sandbox.environment(pid) if sandbox is not None else EnvironmentGroup(pid, [])
        if self._channel is not None and self._channel.oom_counter_fd is not None and self.group.adopt_oom_counter(
                self._channel.oom_counter_fd):
            self._channel.oom_counter_fd = None
        if self._spawner is not None:
            self._spawner.on_exit(pid, self._on_reaped, self._spawned_at)

    def _on_reaped(self) -> None:
        """The zygote reaped the worker: it is gone even if a child it forked still holds its socket open."""
        if self._channel is not None:
            self._channel.end_now()

    def _on_bad_message(self, reason: str) -> None:
        """The worker broke the protocol (the user's code can write on its socket): retire it, nothing else."""
        assert self._channel is not None
        logs = self._channel.take_logs()
        self.kill()
        note = f"[lambdatop] the runtime wrote a bad message on its socket ({reason}); its environment was stopped\n"
        self._channel.fail(EnvironmentFailed(Failure.BAD_MESSAGE, logs + note, reason))

    def _on_end(self) -> None:
        """The worker's socket closed: it exited, was killed, or crashed.

        Not while INITIALIZING: `start()` is at work on it, and either fails with the end, or has its InitDone
        and returns (a handler sent ahead can run and exit in the same turn), and then `finish()` fails with it.
        The environment goes through its caller then, with the invocation it took.
        """
        if self.state is EnvState.INITIALIZING:
            return
        if self.state is not EnvState.GONE:
            if self.state is not EnvState.SHUTTING_DOWN:
                self.transition(EnvState.SHUTTING_DOWN)
            if self.on_gone is not None:
                self.on_gone(self)
