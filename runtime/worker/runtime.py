"""The worker's runtime: one execution environment, living in a process forked from the zygote.

This process runs the user's code. It does what Lambda's Python runtime
interface client does, over a socket instead of the Runtime API: set up the
environment, run the Init phase (import the handler), then serve one
invocation at a time until the socket closes.

    serve(sock, spec) ── Worker.run ── become the environment ── init() ──► InitDone
                                       loop: recv InvokeRequest ── invoke() ──► InvokeResult

Imported by the zygote before any fork, so it imports only what every worker
needs and never the user's code or the supervisor's modules.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import socket
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

from lambdatop.runtime.worker import confinement
from lambdatop.runtime.worker.capture import OutputCapture
from lambdatop.runtime.worker.context import LambdaContext
from lambdatop.runtime.worker.handler import FaultError, Handler, diagnose_init, exception_object, load_handler
from lambdatop.runtime.worker.logs import INIT_WARNING, RequestIdFilter, install_logging, log_error
from lambdatop.runtime.worker.marshal import Marshaller, unmarshal_request
from lambdatop.runtime.worker.imports import function_sys_path, isolate_imports, missing_module_hint
from lambdatop.runtime.worker.messages import (
    EXIT_INIT_ERROR,
    EXIT_WORKER_BROKEN,
    FROM_SUPERVISOR,
    InitDone,
    InvokeRequest,
    InvokeResult,
    Started,
    WorkerSpec,
)
from lambdatop.runtime.worker.wire import RESPONSE_LIMIT, encode, readable, recv_message

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


# -- the environment -----------------------------------------------------------------


_statm: tuple[int, int] | None = None  # (pid, fd): this process's /proc/self/statm, kept open


def memory_kb() -> tuple[int, int]:
    """(current RSS, peak RSS) in KB.

    Runs after every invocation, so /proc/self/statm stays open and is re-read
    with pread: opening it each time cost ~10 µs, a third of the worker's
    share of a warm invoke. The pid check reopens it in a forked child.
    """
    global _statm
    pid = os.getpid()
    rss_kb = 0
    for _attempt in range(2):
        try:
            if _statm is None or _statm[0] != pid:
                _statm = (pid, os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC))
            fields = os.pread(_statm[1], 256, 0).split()
            if len(fields) == 7:  # statm's shape; anything else means user code closed our fd and reused its number
                rss_kb = int(fields[1]) * _PAGE_SIZE // 1024
                break
        except (OSError, ValueError):
            pass
        _statm = None  # reopen (the old number is no longer ours to close)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss_kb, max(rss_kb, peak_kb)


def become_environment(spec: WorkerSpec) -> None:
    os.environ.clear()
    os.environ.update(spec.environ)
    # The environment's own /tmp. Made here rather than by the supervisor: mkdir costs 0.2-1 ms on a
    # busy disk, which would block the supervisor's event loop once per cold start.
    if spec.environ.get("TMPDIR"):
        os.makedirs(spec.environ["TMPDIR"], exist_ok=True)
    time.tzset()
    try:
        os.chdir(spec.task_root)
    except OSError:
        os.chdir("/")  # the code folder is gone: Init says so (Worker.init), instead of the worker crashing here
    sys.path[:] = function_sys_path(spec)
    if spec.isolated:
        isolate_imports()
    sys.argv = [spec.handler]
    install_logging()


def announce(sock: socket.socket, capture: OutputCapture) -> None:
    """The first message on a worker socket: this process's pid, its output memfd and its OOM counter for the supervisor."""
    socket.send_fds(sock, [encode(Started(os.getpid()))], [capture.fd, *confinement.oom_counter()])


class Worker:
    """One execution environment's runtime loop."""

    def __init__(self, sock: socket.socket, spec: WorkerSpec, capture: OutputCapture | None = None) -> None:
        self.sock = sock
        self.spec = spec
        self.capture = capture
        self.handler: Handler | None = None
        self.marshaller: Marshaller | None = None  # built once the environment's variables are set

    def send(self, message: Any) -> None:
        self.sock.sendall(encode(message))

    def run(self) -> NoReturn:
        become_environment(self.spec)
        self.marshaller = Marshaller()
        if self.capture is None:  # else a spare's, announced while it waited
            self.capture = OutputCapture()
            announce(self.sock, self.capture)
        self.init()
        self.serve_requests()

    def serve_requests(self) -> NoReturn:
        """Invoke, one request at a time, until the supervisor closes the socket."""
        linger = 0.0
        while True:
            if linger:
                self.linger(linger)
            request = recv_message(self.sock, FROM_SUPERVISOR)
            if not isinstance(request, InvokeRequest):
                os._exit(0)  # the end of the stream: the supervisor is done with this environment
            self.send(self.invoke(request))
            linger = request.linger_s

    def linger(self, seconds: float) -> None:
        """Poll for the next request for up to `seconds` before sleeping in recv.

        The supervisor asks for this while it is invoked one call at a time:
        a worker asleep in recv must be woken for each request, which costs as
        much as the rest of a warm invoke (an idle virtual CPU halts). Yielding
        between polls leaves the core to anything else that wants it.
        """
        give_up = time.perf_counter() + seconds
        while time.perf_counter() < give_up and not readable(self.sock):
            os.sched_yield()

    def init(self) -> None:
        done = self.run_init()
        self.send(done)
        if done.error is not None:
            os._exit(EXIT_INIT_ERROR)

    def run_init(self, then: Callable[[], None] | None = None) -> InitDone:
        """The Init phase: import the handler (and run `then`, SnapStart's before-snapshot hooks, in its time)."""
        started = time.time()
        begin = time.perf_counter()
        error = None
        failure: BaseException | None = None
        try:
            if not os.path.isdir(self.spec.task_root):
                raise FaultError("Runtime.ImportModuleError", f"Unable to import module '{self.spec.handler.rsplit('.', 1)[0]}': "
                                 f"the code folder {self.spec.task_root} does not exist (deleted or moved since lambdatop read the config)")
            self.handler = load_handler(self.spec.handler)
            if then is not None:
                then()
        except Exception as exc:  # noqa: BLE001 - any failure of the user's top-level code is an init error
            failure = exc
            error = exception_object(exc, "")
            logging.warning(INIT_WARNING)  # bootstrap.run: through the logging handler, so the level applies
            log_error(error, self._to_json)
            hint = missing_module_hint(exc, self.spec)
            if hint:
                sys.stdout.write(hint)
        init_ms = (time.perf_counter() - begin) * 1000
        assert self.capture is not None
        problem = diagnose_init(failure, self.handler, self.spec.handler, (self.spec.task_root, *self.spec.extra_sys_path))
        return InitDone(error, init_ms, self.capture.take(), started, time.time(), *memory_kb(), problem)

    def invoke(self, request: InvokeRequest) -> InvokeResult:
        assert self.capture is not None and self.handler is not None
        request_id = request.request_id
        # The deadline starts now, not when the supervisor sent the request: a cold start's first
        # request is sent before Init, and Init's time is not the handler's.
        deadline_ms = int(time.time() * 1000) + request.timeout_ms
        if request.trace_header:
            os.environ["_X_AMZN_TRACE_ID"] = request.trace_header
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        RequestIdFilter.request_id = request_id
        spec = self.spec
        context = LambdaContext(
            aws_request_id=request_id, deadline_ms=deadline_ms, invoked_function_arn=request.invoked_function_arn,
            function_name=spec.function_name, function_version=spec.function_version,
            # Empty under SnapStart, where the RIC finds no AWS_LAMBDA_LOG_GROUP_NAME / _STREAM_NAME and says None.
            memory_limit_in_mb=str(spec.memory_size), log_group_name=spec.log_group_name or None,
            log_stream_name=spec.log_stream_name or None, client_context=request.client_context,
            cognito_identity=request.cognito_identity,
        )
        started = time.time()
        begin = time.perf_counter()
        body, error_type = self._call_handler(request, context)
        duration_ms = (time.perf_counter() - begin) * 1000
        ended = time.time()
        if error_type is None and len(body) > RESPONSE_LIMIT:
            error_type = "Function.ResponseSizeTooLarge"
            body = json.dumps({
                "errorMessage": f"Response payload size exceeded maximum allowed payload size ({RESPONSE_LIMIT} bytes).",
                "errorType": error_type,
            }).encode()
        logs = self.capture.take()
        return InvokeResult(request_id, error_type is None, body, error_type, duration_ms, logs, started, ended, *memory_kb())

    def _to_json(self, value: Any) -> bytes:
        assert self.marshaller is not None
        return self.marshaller.to_json(value)

    def _call_handler(self, request: InvokeRequest, context: LambdaContext) -> tuple[bytes, str | None]:
        """Run the handler on the request's event: (response body, None) or (error object as JSON, its type)."""
        assert self.handler is not None and self.marshaller is not None
        try:
            try:
                # An empty Invoke body is `{}`: the Lambda service hands the runtime `{}` for it (see README,
                # Lambda mapping); the emulator passes it on empty and awslambdaric fails to parse it.
                event = unmarshal_request(request.payload) if request.payload else {}
            except Exception as exc:  # noqa: BLE001 - LambdaMarshaller.unmarshal_request catches every failure
                raise FaultError("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}") from exc
            result = self.handler(event, context)
            try:
                return self.marshaller.marshal_response(result), None
            except Exception as exc:  # noqa: BLE001 - as LambdaMarshaller.marshal_response: any failure is a MarshalError
                raise FaultError("Runtime.MarshalError", f"Unable to marshal response: {exc}") from exc
        except SystemExit as exc:
            # The runtime process exits, as it would under the RIC: the supervisor sees Runtime.ExitError.
            # Its output stays in the memfd, where the supervisor reads it.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1))
        except BaseException as exc:  # noqa: BLE001 - every handler failure is reported, even KeyboardInterrupt
            error = exception_object(exc, request.request_id)
            if self.capture is not None:
                self.capture.repair()  # the handler may have closed fd 1/2: its error must still be logged
            log_error(error, self._to_json)
            return self._to_json(error.as_dict()), error.error_type


def serve(sock: socket.socket, spec: WorkerSpec, capture: OutputCapture | None = None) -> NoReturn:
    """Entry point in the forked child; never returns."""
    try:
        Worker(sock, spec, capture).run()
    except BaseException:  # noqa: BLE001 - a broken worker must exit, never fall back into the zygote's loop
        try:
            traceback.print_exc()
            sys.stderr.flush()
        finally:
            os._exit(EXIT_WORKER_BROKEN)
