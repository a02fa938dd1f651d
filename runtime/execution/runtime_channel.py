"""The supervisor's end of an environment whose runtime is a program speaking the Runtime API.

A `bootstrap` (custom runtimes), the Node.js bootstrap and the Python runtime
interface client drive their environment over HTTP (`runtime/api/runtime_api.py`
serves it, one listening port per environment, as each Lambda sandbox has its
own 127.0.0.1:9001). This channel turns that conversation into the messages the
built-in worker sends on its socket: the first `GET /next` ends Init
(`InitDone`), `POST /response` and `/error` are an `InvokeResult`, and
`/init/error` a failed `InitDone`. So the environment, the invoker, the gate,
the timeouts, the memory limit, the logs and the records do not know which
kind of runtime they serve.

The runtime's state follows the emulator's state machine (RIE
`internal/lambda/core/states.go`), and every refusal is its answer, status and
body, to the byte:

    Started ──/next──► Ready ──(an invoke)──► Running ──/response, /error──► RuntimeResponseSentState ──/next──► Ready
       └──/init/error──► InitError

    a request id other than the current invoke's    400 InvalidRequestID   (checked first, the state is unchanged)
    a call the state does not allow                 403 InvalidStateTransition
    a response over 6 MB + 100 bytes                413 RequestEntityTooLarge; the caller gets Function.ResponseSizeTooLarge
    /next while Running                             200, the same invoke again (Running.Ready() is allowed)

The worker socket still carries `Started` (with the output memfd) and, if the
program cannot be started at all, an `InitDone` with Runtime.InvalidEntrypoint;
after the exec it is closed, so the process's end is watched through a pidfd.
"""

from __future__ import annotations

import asyncio
import enum
import json
import os
import re
import socket
import time
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from lambdatop.runtime.execution.channel import Stage, WorkerChannel
from lambdatop.runtime.execution.extensions import SHUTDOWN_GRACE_S, ExtensionRegistry
from lambdatop.runtime.worker.messages import BadMessage, ErrorObject, InitDone, InitProblem, InvokeRequest, InvokeResult
from lambdatop.runtime.worker.wire import RESPONSE_LIMIT

OVERSIZED = "Function.ResponseSizeTooLarge"
_PLATFORM_INIT_ERRORS = ("Runtime.InvalidEntrypoint",)
_VALID_ERROR_TYPE = re.compile(r"(Runtime|Function)\.[A-Z][a-zA-Z]+")  # raised by the platform itself: its message names the request


class RuntimeState(enum.Enum):
    """The emulator's runtime states, by the names its error messages print."""

    STARTED = "Started"
    INIT_ERROR = "InitError"
    READY = "Ready"
    RUNNING = "Running"
    RESPONSE_SENT = "RuntimeResponseSentState"


class Answer(NamedTuple):
    """What the Runtime API answers one call: a status and a JSON body, or (for /next) the invoke to render."""

    status: int
    body: dict[str, str] | None = None
    event: InvokeRequest | None = None
    deadline_ms: int = 0
    headers: dict[str, str] | None = None


ACCEPTED = Answer(202, {"status": "OK"})
INVALID_REQUEST_ID = Answer(400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"})
TOO_LARGE = Answer(413, {"errorMessage": f"Exceeded maximum allowed payload size ({RESPONSE_LIMIT} bytes).",
                         "errorType": "RequestEntityTooLarge"})
GONE = Answer(500, {"errorMessage": "Internal Server Error", "errorType": "InternalServerError"})


def forbidden(state: RuntimeState, target: str) -> Answer:
    return Answer(403, {
        "errorMessage": f"State transition from {state.value} to {target} failed for runtime. Error: State transition is not allowed",
        "errorType": "InvalidStateTransition",
    })


def valid_error_type(error_type: str) -> str:
    """The emulator keeps a runtime's error type only in the `(Runtime|Function).Reason` form (fatalerror.go)."""
    if _VALID_ERROR_TYPE.search(error_type):  # unanchored, as the emulator's regexp.MatchString
        return error_type
    return "Function.Unknown" if error_type.startswith("Function.") else "Runtime.Unknown"


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def error_object(body: bytes, header_type: str | None) -> ErrorObject:
    """Lambda's error object from a runtime's error body (its own JSON kept where it is one)."""
    posted = _json_object(body) or {}
    error_type, message, trace = posted.get("errorType"), posted.get("errorMessage"), posted.get("stackTrace")
    return ErrorObject(
        error_type if isinstance(error_type, str) and error_type else valid_error_type(header_type or ""),
        message if isinstance(message, str) else "",
        tuple(str(line) for line in trace) if isinstance(trace, list) else (),
    )


class RuntimeApiHost(Protocol):
    """Where environments' Runtime API endpoints are served (runtime/api/runtime_api.py)."""

    def reserve(self) -> str:
        """A new endpoint's address, `127.0.0.1:PORT`, listening already."""
        ...

    def attach(self, address: str, channel: RuntimeApiChannel) -> None: ...

    def release(self, address: str) -> None: ...

    def track(self, task: asyncio.Task[None]) -> None:
        """Keep `task` (an extensions' shutdown) until it ends; the fleet's stop waits for it."""
        ...


class RuntimeApiChannel(WorkerChannel):
    """One environment's Runtime API state, fed by the HTTP server and awaited by the environment."""

    def __init__(self, sock: socket.socket, loop: asyncio.AbstractEventLoop, *, address: str, host: RuntimeApiHost,
                 first_request: InvokeRequest | None, request_id: str | None, memory: Callable[[], tuple[int, int]],
                 on_pid: Callable[[int], None], on_end: Callable[[], None], on_bad: Callable[[str], None],
                 extensions: ExtensionRegistry | None = None) -> None:
        super().__init__(sock, loop, sent_ahead=first_request.request_id if first_request else None,
                         on_pid=on_pid, on_end=on_end, on_bad=on_bad)
        self._awaiting.clear()  # replies come over HTTP, not on the socket
        self.address = address
        self._host = host
        self._memory = memory
        self._platform_request_id = request_id or (first_request.request_id if first_request else None)
        self.state = RuntimeState.STARTED
        self._pending: InvokeRequest | None = first_request  # taken by the next /next
        self._current: InvokeRequest | None = None  # delivered; its id is the current invoke id
        self._deadline_ms = 0
        self._delivered = (0.0, 0.0)  # (time.time(), time.perf_counter()) when the current invoke went out
        self._parked: list[asyncio.Future[Answer]] = []  # /next calls waiting for an invoke
        self._spawned = (time.time(), time.perf_counter())
        self._pidfd: int | None = None
        self._socket_open = True
        self.init_error_body: dict[str, Any] | None = None  # what the runtime posted to /init/error: the caller's payload
        self.init_error_type: str | None = None  # its Lambda-Runtime-Function-Error-Type, validated: what the platform logs
        self.extensions = extensions or ExtensionRegistry(0, {})
        self._answered: InvokeRequestOutcome | None = None  # the runtime's answer, held until the extensions are done
        self._shutdown: asyncio.Task[None] | None = None
        host.attach(address, self)

    # -- what the environment calls ------------------------------------------------------

    def submit(self, request: InvokeRequest, linger: float = 0.0) -> None:
        if self._parked and self.stage is Stage.SERVING:
            self._deliver_invoke(request)
        else:
            self._pending = request

    def poll(self, budget: float) -> Any | None:
        return None  # replies arrive on the event loop, through the HTTP server

    def close(self) -> None:
        self._unpark()
        self._unwatch()
        if self._shutdown is None or self._shutdown.done():  # else the shutdown releases the port when it ends
            self._release()
        super().close()

    def _release(self) -> None:
        self._unpark()
        self.extensions.release_all()
        self._host.release(self.address)

    def _unpark(self) -> None:
        """Answer the runtime's waiting /next calls: its port is closing, and aiohttp waits for open requests."""
        for waiter in self._parked:
            if not waiter.done():
                waiter.set_result(GONE)
        self._parked.clear()

    @property
    def shutting_down(self) -> bool:
        return self._shutdown is not None and not self._shutdown.done()

    def shutdown(self, reason: str, kill_group: Callable[[], None], group_alive: Callable[[], bool]) -> bool:
        """Send SHUTDOWN to the extensions that asked for it and give them the grace period; False if none did.

        The phase ends when each has called next again or exited (the group is empty), or after the grace.
        """
        if self._shutdown is not None or self.stage is Stage.ENDED or not self.extensions.shutdown(reason):
            return False
        self._unpark()  # the runtime was killed; its /next outlives it only as an open request
        self._shutdown = self._loop.create_task(self._grace(kill_group, group_alive))
        self._host.track(self._shutdown)
        return True

    async def _grace(self, kill_group: Callable[[], None], group_alive: Callable[[], bool]) -> None:
        deadline = self._loop.time() + SHUTDOWN_GRACE_S
        try:
            while not self.extensions.all_ready and group_alive() and self._loop.time() < deadline:
                await asyncio.sleep(0.01)
        finally:
            kill_group()
            self._release()

    # -- what the HTTP server calls -------------------------------------------------------

    def next_invocation(self) -> Answer | asyncio.Future[Answer]:
        """GET /runtime/invocation/next: an answer now, or a future for the next invoke."""
        if self.state is RuntimeState.RUNNING:
            return self._event_answer()
        if self.state is RuntimeState.STARTED:
            self.state = RuntimeState.READY  # Init ends once the extensions are ready too
        elif self.state is RuntimeState.RESPONSE_SENT:
            self.state = RuntimeState.READY
        elif self.state is not RuntimeState.READY:
            return forbidden(self.state, "Ready")
        waiter: asyncio.Future[Answer] = self._loop.create_future()
        self._parked.append(waiter)
        self._maybe_init_done()
        if self._pending is not None and self.stage is Stage.SERVING:
            self._deliver_invoke(self._pending)
        return waiter

    def register_extension(self, name: str | None, body: bytes) -> Answer:
        """POST /2020-01-01/extension/register."""
        status, answer, identifier = self.extensions.register(name, body)
        return Answer(status, answer, headers={"Lambda-Extension-Identifier": identifier} if identifier else None)

    def extension_next(self, identifier: str | None) -> Answer | asyncio.Future[dict[str, Any]]:
        """GET /2020-01-01/extension/event/next: an event (its future), or a refusal."""
        event = self.extensions.next_event(identifier, self._loop)
        if isinstance(event, tuple):
            return Answer(*event)
        self._maybe_init_done()
        self._maybe_complete_invoke()
        return event

    def post_response(self, request_id: str, body: bytes, size: int) -> Answer:
        """POST /runtime/invocation/{id}/response; `size` is the whole body's (only the first bytes may be kept)."""
        refusal = self._check(request_id, "InvocationResponse")
        if refusal is not None:
            return refusal
        if size > RESPONSE_LIMIT:
            message = f"Response payload size exceeded maximum allowed payload size ({RESPONSE_LIMIT} bytes)."
            payload = json.dumps({"errorMessage": message, "errorType": OVERSIZED}).encode()
            self._finish(InvokeRequestOutcome(False, payload, OVERSIZED))
            return TOO_LARGE
        self._finish(InvokeRequestOutcome(True, body, None))
        return ACCEPTED

    def post_error(self, request_id: str, error_type: str | None, body: bytes) -> Answer:
        """POST /runtime/invocation/{id}/error."""
        refusal = self._check(request_id, "InvocationErrorResponse")
        if refusal is not None:
            return refusal
        error = error_object(body, error_type)
        payload = body if body else json.dumps({"errorMessage": error.error_message, "errorType": error.error_type}).encode()
        self._finish(InvokeRequestOutcome(False, payload, error.error_type))
        return ACCEPTED

    def post_init_error(self, error_type: str | None, body: bytes) -> Answer:
        """POST /runtime/init/error: Init failed; the runtime is expected to exit, and is stopped."""
        if self.state is not RuntimeState.STARTED:
            return forbidden(self.state, "InitError")
        self.state = RuntimeState.INIT_ERROR
        error = error_object(body, error_type)
        self.init_error_type = valid_error_type(error_type) if error_type else None
        posted = _json_object(body)
        if posted and isinstance(posted.get("errorType"), str) and isinstance(posted.get("errorMessage"), str):
            self.init_error_body = posted
        started, begin = self._spawned
        rss, peak = self._memory()
        problem = InitProblem(error.error_type, error.error_message)
        self._deliver(InitDone(error, (time.perf_counter() - begin) * 1000, self.take_logs(), started, time.time(), rss, peak, problem))
        return ACCEPTED

    # -- the state machine ---------------------------------------------------------------

    def _check(self, request_id: str, target: str) -> Answer | None:
        if not request_id or self._current is None or request_id != self._current.request_id:
            return INVALID_REQUEST_ID
        if self.state is not RuntimeState.RUNNING:
            return forbidden(self.state, target)
        return None

    def _maybe_init_done(self) -> None:
        """Init ends when the runtime and every extension started have called next."""
        runtime_ready = self.state in (RuntimeState.READY, RuntimeState.RUNNING)
        if self.stage is Stage.INITIALIZING and runtime_ready and self.extensions.all_ready:
            self._init_done()
            if self._pending is not None and self._parked:
                self._deliver_invoke(self._pending)

    def _init_done(self) -> None:
        self.stage = Stage.SERVING
        started, begin = self._spawned
        rss, peak = self._memory()
        self._deliver(InitDone(None, (time.perf_counter() - begin) * 1000, self.take_logs(), started, time.time(), rss, peak))

    def _deliver_invoke(self, request: InvokeRequest) -> None:
        self._pending = None
        self._current = request
        self.state = RuntimeState.RUNNING
        self._delivered = (time.time(), time.perf_counter())
        self._deadline_ms = int(self._delivered[0] * 1000) + request.timeout_ms
        self.extensions.invoke(request, self._deadline_ms)
        answer = self._event_answer()
        parked, self._parked = self._parked, []
        for waiter in parked:
            if not waiter.done():
                waiter.set_result(answer)

    def _event_answer(self) -> Answer:
        return Answer(200, None, self._current, self._deadline_ms)

    def _finish(self, outcome: InvokeRequestOutcome) -> None:
        """The runtime answered; the invocation ends when the extensions it went to have called next too."""
        self.state = RuntimeState.RESPONSE_SENT
        self._answered = outcome
        self._maybe_complete_invoke()

    def _maybe_complete_invoke(self) -> None:
        if self._answered is None or not self.extensions.all_ready or self.extensions.shutting_down:
            return
        outcome, self._answered = self._answered, None
        assert self._current is not None
        started, begin = self._delivered
        duration_ms = (time.perf_counter() - begin) * 1000
        rss, peak = self._memory()
        self._deliver(InvokeResult(self._current.request_id, outcome.ok, outcome.payload, outcome.error_type, duration_ms,
                                   self.take_logs(), started, time.time(), rss, peak))

    def _deliver(self, message: Any) -> None:
        if self.waiting:
            assert self._waiter is not None
            self._waiter.set_result(message)
        else:
            self._inbox.append(message)

    # -- the worker socket and the process ------------------------------------------------

    def _accept(self, message: Any) -> None:
        kind = type(message)
        if self.stage is Stage.STARTING:
            self._accept_started(message)
            self._watch(message.pid)
            return
        if self.stage is Stage.INITIALIZING and kind is InitDone and message.error is not None and self.state is RuntimeState.STARTED:
            self.state = RuntimeState.INIT_ERROR
            error = message.error
            if error.error_type in _PLATFORM_INIT_ERRORS and self._platform_request_id:
                error = error._replace(error_message=f"RequestId: {self._platform_request_id} Error: {error.error_message}")
            self._deliver(message._replace(error=error))
            return
        raise BadMessage(f"{kind.__name__} on the socket of a Runtime API environment")

    def _watch(self, pid: int) -> None:
        """Watch the process through a pidfd: its socket closes at exec, long before the process ends."""
        try:
            self._pidfd = os.pidfd_open(pid)
        except OSError:  # already gone (and reaped)
            self._loop.call_soon(self._on_exit)
            return
        self._loop.add_reader(self._pidfd, self._on_exit)

    def _unwatch(self) -> None:
        if self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None

    def _on_eof(self) -> None:
        self._socket_open = False
        if self.stage is Stage.STARTING:
            super()._on_eof()  # died before it could even announce itself
            return
        self._loop.remove_reader(self.sock.fileno())  # the exec closed it; the pidfd says when the process ends

    def _on_exit(self) -> None:
        if self.stage is Stage.ENDED:
            return
        if self._socket_open:  # what it wrote before exiting (an InvalidEntrypoint) comes first
            self._on_readable()
        self._unwatch()
        for waiter in self._parked:
            if not waiter.done():
                waiter.set_result(GONE)
        self._parked.clear()
        super()._on_eof()


class InvokeRequestOutcome(NamedTuple):
    ok: bool
    payload: bytes
    error_type: str | None
