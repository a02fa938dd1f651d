"""One execution environment as the supervisor sees it: a worker process and its lifecycle.

    INITIALIZING ──► BUSY ◄──► IDLE (frozen)
         │             │         │
         └─────────────┴─────────┴──► SHUTTING_DOWN ──► GONE

A reload marks an environment stale: it finishes what it is doing, then goes.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import os
import signal
import socket
import time
from dataclasses import dataclass
from typing import Any

from lambdatop.runtime.worker.bootstrap import WorkerSpec, drain_output
from lambdatop.runtime.execution.spawner import Spawner
from lambdatop.runtime.worker.wire import FrameDecoder, encode

_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
PIPELINE_LIMIT = 64 * 1024  # a first request this small rides along with the spawn

# One receive buffer for every environment (the loop is single-threaded and the decoder copies
# out what it keeps). `sock.recv(256 KB)` allocated and shrank a fresh 256 KB bytes per reply,
# through mmap/munmap: ~12 µs of every warm invoke.
_RECV_SIZE = 1 << 18
_RECV_BUFFER = bytearray(_RECV_SIZE)
_RECV_VIEW = memoryview(_RECV_BUFFER)


class EnvState(enum.StrEnum):
    INITIALIZING = "initializing"
    IDLE = "idle"
    BUSY = "busy"
    SHUTTING_DOWN = "shutting_down"
    GONE = "gone"


_TRANSITIONS: dict[EnvState, frozenset[EnvState]] = {
    EnvState.INITIALIZING: frozenset({EnvState.BUSY, EnvState.IDLE, EnvState.SHUTTING_DOWN, EnvState.GONE}),
    EnvState.IDLE: frozenset({EnvState.BUSY, EnvState.SHUTTING_DOWN, EnvState.GONE}),
    EnvState.BUSY: frozenset({EnvState.IDLE, EnvState.SHUTTING_DOWN, EnvState.GONE}),
    EnvState.SHUTTING_DOWN: frozenset({EnvState.GONE}),
    EnvState.GONE: frozenset(),
}


class IllegalTransition(RuntimeError):
    pass


class Failure(enum.StrEnum):
    """Why an environment stopped serving an invocation."""

    TIMEOUT = "timeout"
    OUT_OF_MEMORY = "out_of_memory"
    EXITED = "exited"
    INIT_TIMEOUT = "init_timeout"


class EnvironmentFailed(Exception):
    """The worker could not finish: it timed out, ran out of memory or died."""

    def __init__(self, failure: Failure, logs: str) -> None:
        super().__init__(failure.value)
        self.failure = failure
        self.logs = logs


@dataclass(slots=True)
class InitOutcome:
    error: dict[str, Any] | None
    init_ms: float
    logs: str
    started_at: float
    ended_at: float
    # What makes the code unusable, with the user's file and line (bootstrap.diagnose_init); None when it is fine.
    problem: dict[str, Any] | None = None


@dataclass(slots=True)
class InvokeReply:
    request_id: str
    ok: bool
    payload: bytes
    error_type: str | None
    duration_ms: float
    logs: str
    started_at: float
    ended_at: float
    rss_kb: int
    peak_kb: int


class ExecutionEnvironment:
    """A worker process serving one function, one invocation at a time."""

    def __init__(self, env_id: str, function: str, code_version: str, spec: WorkerSpec, *, memory_mb: int, freeze: bool) -> None:
        self.id = env_id
        self.function = function
        self.code_version = code_version
        self.spec = spec
        self.memory_mb = memory_mb
        self.freeze_when_idle = freeze
        self.state = EnvState.INITIALIZING
        self.stale = False
        self.frozen = False
        self.pid: int | None = None
        self.created_at = time.time()
        self.last_used = self.created_at
        self.busy_since: float | None = None
        self.invocations = 0
        self.rss_kb = 0
        self.peak_kb = 0
        self.request_id: str | None = None
        # Set when Init ran ahead of any request (a pre-warm after a reload): the first invoke reports it as its cold start.
        self.early_init: InitOutcome | None = None
        self._sock: socket.socket | None = None
        self._log_fd: int | None = None
        self._decoder = FrameDecoder()
        self._waiter: asyncio.Future[Any] | None = None
        # Messages that arrived while nobody waited (a reply read together with the Init message).
        self._inbox: collections.deque[tuple] = collections.deque()
        self._pipelined: str | None = None  # request id sent ahead with the spawn, awaiting its reply
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsent: memoryview | None = None  # what did not fit the socket buffer at begin()
        self._deadline = 0.0  # time.monotonic() when the current invocation times out
        self._freezing: asyncio.Handle | None = None
        self._ended = False  # the worker's end of the socket closed
        self._failed: EnvironmentFailed | None = None  # a limit hit while nobody waited for the reply
        # Seconds from the last request sent to its reply: whether polling for the next one can pay.
        self.reply_latency = 0.0
        self._spawner: Spawner | None = None
        self.exit_description: str | None = None

    def __repr__(self) -> str:
        return f"<Env {self.id} {self.function} pid={self.pid} {self.state}>"

    # -- lifecycle ------------------------------------------------------------------

    def transition(self, new: EnvState) -> None:
        if new not in _TRANSITIONS[self.state]:
            raise IllegalTransition(f"{self.id}: {self.state} -> {new}")
        self.state = new

    @property
    def alive(self) -> bool:
        return self.state not in (EnvState.SHUTTING_DOWN, EnvState.GONE)

    async def start(self, spawner: Spawner, init_limit: float, first_request: tuple | None = None) -> InitOutcome:
        """Fork the worker and run its Init phase; raises EnvironmentFailed on timeout or death.

        A small `first_request` is queued on the socket right away: the worker
        reads it as soon as Init is done, which saves a round trip through the
        supervisor on every cold start. `begin()` then sends nothing and `finish()` waits for its reply.
        """
        self._loop = asyncio.get_running_loop()
        self._spawner = spawner
        ahead = b""
        if first_request is not None:
            data = encode(first_request)
            if len(data) <= PIPELINE_LIMIT:  # fits the empty socket buffer: the send cannot block
                ahead = data
                self._pipelined = first_request[1]
        self._sock = spawner.spawn(self.spec, ahead)
        self._loop.add_reader(self._sock.fileno(), self._on_first_readable)
        timer = self._loop.call_later(init_limit, self._fail, Failure.INIT_TIMEOUT)
        try:
            message = await self._next_message()
        finally:
            timer.cancel()
        _, error, init_ms, logs, started, ended, rss_kb, peak_kb, *diagnosis = message
        self.rss_kb, self.peak_kb = rss_kb, peak_kb
        return InitOutcome(error, init_ms, logs, started, ended, diagnosis[0] if diagnosis else None)

    def begin(self, request: tuple, timeout: float, linger: float = 0.0) -> None:
        """Send one invocation; its reply is `finish()`'s. The deadline runs from now.

        Split from `finish` so the invoker can do its bookkeeping while the worker runs.
        With `linger` the worker polls for its next request for that long after
        replying (Worker.linger).
        """
        assert self._loop is not None and self._sock is not None
        self.transition(EnvState.BUSY)
        self.request_id = request[1]
        self.busy_since = time.monotonic()
        self._deadline = self.busy_since + timeout
        if self._pipelined == request[1]:
            self._pipelined = None  # sent with the spawn; the worker is already on it
            return
        data = encode((*request, linger) if linger else request)
        try:
            sent = self._sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            sent = len(data)  # the worker is gone; the reader sees EOF and fails the waiter
        if sent < len(data):
            self._unsent = memoryview(data)[sent:]
        # Thawed only once its request is queued: the worker wakes once, with work waiting,
        # instead of waking for SIGCONT, sleeping in recv and waking again for the data.
        self.thaw()

    async def finish(self, busy_poll: float = 0.0) -> InvokeReply:
        """The reply to `begin()`'s invocation; raises EnvironmentFailed on timeout or death.

        With `busy_poll` > 0 the socket is polled for up to that many seconds before
        sleeping in the event loop: a reply that comes back within it costs no
        wakeup of this process and no turn of the loop (see `_poll`).
        """
        assert self._loop is not None and self._sock is not None and self.busy_since is not None
        timer = None
        if self._unsent is not None:
            timer = self._arm_timeout()
            unsent, self._unsent = self._unsent, None
            busy_poll = 0.0  # a large request: the worker is far from answering
            try:
                await self._loop.sock_sendall(self._sock, unsent)
            except OSError:
                pass  # the worker is gone: its end of stream fails the invocation
        message = self._inbox.popleft() if self._inbox else None
        if message is None and busy_poll > 0:
            message = self._poll(busy_poll)
        try:
            if message is None:
                timer = timer or self._arm_timeout()
                message = await self._next_message()
        finally:
            if timer is not None:
                timer.cancel()
        self.reply_latency = time.monotonic() - self.busy_since
        self.busy_since = None
        reply = InvokeReply(*message[1:])
        self.invocations += 1
        self.rss_kb, self.peak_kb = reply.rss_kb, max(self.peak_kb, reply.peak_kb)
        return reply

    def _poll(self, budget: float) -> tuple | None:
        """Read the socket without blocking, again and again, for up to `budget` seconds: the reply, or None.

        Sleeping in epoll until the worker answers costs a wakeup of this process
        on top of the worker's own (together ~half a warm round trip across two
        cores), and a turn of the event loop to resume the waiting task. Polling
        for a fast worker's reply saves both and spends the time on one core.
        The end of stream or an error is left to the reader callback, which
        sees it at the loop's next poll.
        """
        sock = self._sock
        assert sock is not None
        perf = time.perf_counter
        give_up = perf() + budget
        while True:
            try:
                size = sock.recv_into(_RECV_BUFFER)
            except (BlockingIOError, InterruptedError):
                if perf() > give_up:
                    return None
                # A worker on this same core would otherwise wait for the scheduler to preempt us
                # (it lingers, runnable, so no wakeup puts it first); elsewhere this returns at once.
                os.sched_yield()
                continue
            except OSError:
                return None
            if not size:
                return None
            self._receive(_RECV_VIEW[:size])
            if self._inbox:
                return self._inbox.popleft()
            if perf() > give_up:
                return None

    def _arm_timeout(self) -> asyncio.TimerHandle:
        """Fail the invocation at its deadline (set by `begin`)."""
        assert self._loop is not None
        delay = max(self._deadline - time.monotonic(), 0.0)
        return self._loop.call_at(self._loop.time() + delay, self._fail, Failure.TIMEOUT)

    def _next_message(self) -> asyncio.Future[Any]:
        """The next message from the worker: one already received, or a future for the next one.

        After the end of the stream (the worker died while nobody waited, say
        mid-way through a large request) the future fails at once.
        """
        assert self._loop is not None
        self._waiter = self._loop.create_future()
        if self._failed is not None:
            self._waiter.set_exception(self._failed)
        elif self._inbox:
            self._waiter.set_result(self._inbox.popleft())
        elif self._ended:
            self._waiter.set_exception(EnvironmentFailed(Failure.EXITED, self.take_logs()))
        return self._waiter

    def idle(self) -> None:
        """Back in the pool, to be frozen as Lambda freezes an environment between invocations.

        The SIGSTOP goes out at the end of this turn of the event loop, not
        here: an environment taken again in the same turn (a caller invoking
        back to back) is never stopped and continued for nothing. A handler's
        background threads can run for that turn, as they can on Lambda until
        the runtime asks for its next event.
        """
        self.transition(EnvState.IDLE)
        self.request_id = None
        self.last_used = time.time()
        if self.freeze_when_idle and self._loop is not None:
            self._freezing = self._loop.call_soon(self._freeze_if_idle)

    def _freeze_if_idle(self) -> None:
        self._freezing = None
        if self.state is EnvState.IDLE:
            self.freeze()

    def freeze(self) -> None:
        if self.pid and not self.frozen:
            self._signal(signal.SIGSTOP)
            self.frozen = True

    def thaw(self) -> None:
        if self._freezing is not None:
            self._freezing.cancel()
            self._freezing = None
        if self.pid and self.frozen:
            self._signal(signal.SIGCONT)
            self.frozen = False

    def sample_memory(self) -> int:
        """Current RSS in KB read from /proc (0 if the process is gone); updates the peak."""
        if not self.pid:
            return 0
        try:
            with open(f"/proc/{self.pid}/statm", "rb") as statm:
                rss_kb = int(statm.read().split()[1]) * _PAGE_KB
        except (OSError, IndexError, ValueError):
            return 0
        self.rss_kb = rss_kb
        self.peak_kb = max(self.peak_kb, rss_kb)
        return rss_kb

    def fail(self, failure: Failure) -> None:
        """Stop the current invocation: the supervisor enforces a limit (timeout, memory)."""
        self._fail(failure)

    def kill(self) -> None:
        """SIGKILL the worker (no extensions, so Lambda's shutdown grace is 0 ms)."""
        if self.state is EnvState.GONE:
            return
        if self.state is not EnvState.SHUTTING_DOWN:
            self.transition(EnvState.SHUTTING_DOWN)
        self._signal(signal.SIGKILL)

    def close(self) -> None:
        """Release our ends; the environment is gone."""
        if self._sock is not None and self._loop is not None:
            try:
                self._loop.remove_reader(self._sock.fileno())
            except (ValueError, OSError):
                pass
            self._sock.close()
            self._sock = None
        if self._log_fd is not None:
            os.close(self._log_fd)
            self._log_fd = None
        if self.state is not EnvState.GONE:
            if self.state is not EnvState.SHUTTING_DOWN:
                self.transition(EnvState.SHUTTING_DOWN)
            self.transition(EnvState.GONE)

    def take_logs(self) -> str:
        """What the worker wrote since its last invocation ended: read from our dup of its memfd."""
        if self._log_fd is None:
            return ""
        try:
            return drain_output(self._log_fd)
        except OSError:
            return ""

    # -- internals --------------------------------------------------------------------

    def _signal(self, signum: int) -> None:
        if self.pid:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def _fail(self, failure: Failure) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            logs = self.take_logs()
            self.kill()
            waiter.set_exception(EnvironmentFailed(failure, logs))
        elif self.state is EnvState.BUSY and self._failed is None:
            # Between begin() and the wait for the reply (a large request still being sent).
            self._failed = EnvironmentFailed(failure, self.take_logs())
            self.kill()

    def _on_first_readable(self) -> None:
        """The first message carries the worker's memfd (SCM_RIGHTS), so it needs recv_fds."""
        assert self._sock is not None and self._loop is not None
        try:
            data, fds, _flags, _addr = socket.recv_fds(self._sock, 65536, 1)
        except BlockingIOError:
            return
        except OSError:
            data, fds = b"", []
        if fds:
            self._log_fd = fds[0]
        self._loop.remove_reader(self._sock.fileno())
        self._loop.add_reader(self._sock.fileno(), self._on_readable)
        self._receive(data)

    def _on_readable(self) -> None:
        assert self._sock is not None
        while True:
            try:
                size = self._sock.recv_into(_RECV_BUFFER)
            except BlockingIOError:
                return
            except OSError:
                size = 0
            if not self._receive(_RECV_VIEW[:size]) or size < _RECV_SIZE:
                return

    def _receive(self, data: bytes | memoryview) -> bool:
        if not data:
            self._on_eof()
            return False
        for message in self._decoder.feed(data):
            kind = message[0]
            if kind == "started":
                self.pid = message[1]
            elif self._waiter is not None and not self._waiter.done():
                self._waiter.set_result(message)
            else:
                self._inbox.append(message)
        return True

    def _on_eof(self) -> None:
        assert self._sock is not None and self._loop is not None
        self._ended = True
        self._loop.remove_reader(self._sock.fileno())
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(EnvironmentFailed(Failure.EXITED, self.take_logs()))
        if self.state is not EnvState.GONE:
            if self.state is not EnvState.SHUTTING_DOWN:
                self.transition(EnvState.SHUTTING_DOWN)
            if self.on_gone is not None:
                self.on_gone(self)

    on_gone: Any = None  # set by the pool: called once when the worker's socket closes
