"""The supervisor's end of one worker socket: send requests, read and check replies, and hand them to one waiter.

Everything read here comes from a process that runs the user's code, so it
is untrusted: frames are bounded and type-checked (`worker.wire`), and the
order is checked too. `Started` comes first, with the output memfd; then one
`InitDone`; then one `InvokeResult` per request sent, with that request's id.
Anything else is a bad message: the channel stops reading it (the stream's
framing can no longer be trusted) and reports it once through `on_bad`, and
the environment retires the worker. Nothing a worker sends can reach further.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from lambdatop.runtime.execution.lifecycle import EnvironmentFailed, Failure
from lambdatop.runtime.worker.capture import drain_output
from lambdatop.runtime.worker.messages import FROM_WORKER, BadMessage, InitDone, InvokeRequest, InvokeResult, Started
from lambdatop.runtime.worker.wire import RESPONSE_LIMIT, FrameDecoder, encode

# One receive buffer for every channel (the loop is single-threaded and the decoder copies
# out what it keeps). `sock.recv(256 KB)` allocated and shrank a fresh 256 KB bytes per reply,
# through mmap/munmap: ~12 µs of every warm invoke.
_RECV_SIZE = 1 << 18
_RECV_BUFFER = bytearray(_RECV_SIZE)
_RECV_VIEW = memoryview(_RECV_BUFFER)
_FIRST_READ = 65536  # the first read takes the memfd with it (recv_fds), and the messages that came with it


class Stage(enum.Enum):
    """Where the worker is in the protocol, which decides what it may send next."""

    STARTING = "starting"  # Started comes first, with the output memfd
    INITIALIZING = "initializing"  # then one InitDone
    SERVING = "serving"  # then one InvokeResult per request sent, in order
    BROKEN = "broken"  # a bad message came: the rest is read and dropped until the end of stream
    ENDED = "ended"  # the worker's end of the socket closed


class WorkerChannel:
    """One worker socket, read from the event loop; `next_message()` is what the environment awaits."""

    def __init__(self, sock: socket.socket, loop: asyncio.AbstractEventLoop, *, sent_ahead: str | None,
                 on_pid: Callable[[int], None], on_end: Callable[[], None], on_bad: Callable[[str], None]) -> None:
        self.sock = sock
        self.log_fd: int | None = None  # our dup of the worker's output memfd, from `Started`
        self.oom_counter_fd: int | None = None  # its memory cgroup's OOM counter, opened by the worker, from `Started`
        self.sent_ahead = sent_ahead  # the request id queued with the spawn, until begin() claims it
        self._loop = loop
        self._on_pid, self._on_end, self._on_bad = on_pid, on_end, on_bad
        self._decoder = FrameDecoder(FROM_WORKER)
        self._inbox: collections.deque[Any] = collections.deque()  # replies that came while nobody waited
        self._waiter: asyncio.Future[Any] | None = None
        self.stage = Stage.STARTING
        self._awaiting: collections.deque[str] = collections.deque([sent_ahead] if sent_ahead else [])  # request ids sent
        self._failure: EnvironmentFailed | None = None  # what the next wait raises (a limit hit while nobody waited)
        self._unsent: memoryview | None = None  # what did not fit the socket buffer at send()
        loop.add_reader(sock.fileno(), self._on_first_readable)

    # -- sending ------------------------------------------------------------------------

    def submit(self, request: InvokeRequest, linger: float = 0.0) -> None:
        """Send one invocation (RuntimeApiChannel hands it to the runtime's next `GET /next` instead)."""
        self.send(request.request_id, encode(request._replace(linger_s=linger) if linger else request))

    def send(self, request_id: str, frame: bytes) -> None:
        """Queue one request without blocking; what does not fit the socket buffer waits for `flush()`."""
        self._awaiting.append(request_id)
        try:
            sent = self.sock.send(frame)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            sent = len(frame)  # the worker is gone; the reader sees EOF and fails the waiter
        if sent < len(frame):
            self._unsent = memoryview(frame)[sent:]

    @property
    def has_unsent(self) -> bool:
        return self._unsent is not None

    async def flush(self) -> None:
        unsent, self._unsent = self._unsent, None
        if unsent is not None:
            try:
                await self._loop.sock_sendall(self.sock, unsent)
            except OSError:
                pass  # the worker is gone: its end of stream fails the invocation

    # -- waiting --------------------------------------------------------------------------

    @property
    def waiting(self) -> bool:
        return self._waiter is not None and not self._waiter.done()

    def take_queued(self) -> Any | None:
        return self._inbox.popleft() if self._inbox else None

    def next_message(self) -> asyncio.Future[Any]:
        """The next message: one already received, or a future for the next one (failed at once after the end)."""
        self._waiter = self._loop.create_future()
        if self._failure is not None:
            self._waiter.set_exception(self._failure)
        elif self._inbox:
            self._waiter.set_result(self._inbox.popleft())
        elif self.stage is Stage.ENDED:
            self._waiter.set_exception(EnvironmentFailed(Failure.EXITED, self.take_logs()))
        return self._waiter

    def fail(self, failure: EnvironmentFailed) -> None:
        """Fail the current wait, or the next one if nobody waits (the first failure wins)."""
        if self.waiting:
            assert self._waiter is not None
            self._waiter.set_exception(failure)
        elif self._failure is None:
            self._failure = failure

    def poll(self, budget: float) -> Any | None:
        """Read the socket without blocking, again and again, for up to `budget` seconds: the reply, or None.

        Sleeping in epoll until the worker answers costs a wakeup of this process
        on top of the worker's own (together ~half a warm round trip across two
        cores), and a turn of the event loop to resume the waiting task. Polling
        for a fast worker's reply saves both and spends the time on one core.
        The end of stream or an error is left to the reader callback, which
        sees it at the loop's next poll.
        """
        sock = self.sock
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
            if perf() > give_up or self.stage is Stage.BROKEN:
                return None

    def take_logs(self) -> str:
        """What the worker wrote since its last invocation ended: read from our dup of its memfd."""
        if self.log_fd is None:
            return ""
        try:
            return drain_output(self.log_fd)
        except OSError:
            return ""

    def close(self) -> None:
        try:
            self._loop.remove_reader(self.sock.fileno())
        except (ValueError, OSError):
            pass
        self.sock.close()
        for fd in (self.log_fd, self.oom_counter_fd):
            if fd is not None:
                os.close(fd)
        self.log_fd = self.oom_counter_fd = None

    def end_now(self) -> None:
        """The worker is known dead: take what it wrote before dying, then end as at EOF."""
        if self.stage is Stage.ENDED:
            return
        self._on_readable()
        if self.stage is not Stage.ENDED:
            self._on_eof()

    # -- reading --------------------------------------------------------------------------

    def _on_first_readable(self) -> None:
        """The first message carries the worker's memfd (SCM_RIGHTS), so it needs recv_fds."""
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.sock, _FIRST_READ, 2)
        except BlockingIOError:
            return
        except OSError:
            data, fds = b"", []
        for fd in fds:
            if self.log_fd is None and self.stage is Stage.STARTING:
                self.log_fd = fd
            elif self.oom_counter_fd is None and self.stage is Stage.STARTING:
                self.oom_counter_fd = fd  # the environment's group takes it (EnvironmentGroup.adopt_oom_counter)
            else:
                os.close(fd)
        self._loop.remove_reader(self.sock.fileno())
        self._loop.add_reader(self.sock.fileno(), self._on_readable)
        self._receive(data)

    def _on_readable(self) -> None:
        while True:
            try:
                size = self.sock.recv_into(_RECV_BUFFER)
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
        if self.stage is Stage.BROKEN:
            return True  # read and dropped until the worker, killed, closes its end
        try:
            for message in self._decoder.feed(data):
                self._accept(message)
        except BadMessage as bad:
            self.stage = Stage.BROKEN
            self._on_bad(str(bad))
        return True

    def _accept(self, message: Any) -> None:
        """Check where `message` stands in the protocol, then deliver it."""
        kind = type(message)
        if self.stage is Stage.STARTING:
            self._accept_started(message)
            return
        if self.stage is Stage.INITIALIZING and kind is InitDone:
            self.stage = Stage.SERVING
        elif self.stage is not Stage.SERVING or kind is not InvokeResult:
            raise BadMessage(f"{kind.__name__} while {self.stage.value}")
        elif not self._awaiting or message.request_id != self._awaiting[0]:
            raise BadMessage("a reply to no request in flight")
        elif len(message.payload) > RESPONSE_LIMIT:  # the runtime turns such a response into an error itself
            raise BadMessage(f"a response of {len(message.payload)} bytes, over the {RESPONSE_LIMIT}-byte limit")
        else:
            self._awaiting.popleft()
        if self.waiting:
            assert self._waiter is not None
            self._waiter.set_result(message)
        else:
            self._inbox.append(message)

    def _accept_started(self, message: Any) -> None:
        """The first message of every worker: `Started` with its pid, or the worker is broken."""
        if type(message) is not Started or message.pid <= 0:
            raise BadMessage(f"{type(message).__name__} where Started was expected")
        self.stage = Stage.INITIALIZING
        self._on_pid(message.pid)

    def _on_eof(self) -> None:
        self.stage = Stage.ENDED
        self._loop.remove_reader(self.sock.fileno())
        if self.waiting:
            assert self._waiter is not None
            self._waiter.set_exception(EnvironmentFailed(Failure.EXITED, self.take_logs()))
        self._on_end()
