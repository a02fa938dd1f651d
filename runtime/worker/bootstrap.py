"""The worker: one execution environment's runtime, living in a process forked from the zygote.

It does what Lambda's Python runtime interface client does, over a socket
instead of the Runtime API: set up the environment, run the Init phase (import
the handler module), then serve one invocation at a time until told to stop.
stdout and stderr are captured at the file-descriptor level into a memfd, so
output from C extensions and subprocesses lands in the right request's log.

This module is imported by the zygote before any fork, so it imports only what
every worker needs and never the user's code or the supervisor's modules.
"""

from __future__ import annotations

import decimal
import fcntl  # here, not in OutputCapture: imported once in the zygote, not in every cold start (~600 µs)
import importlib
import json
import logging
import os
import pickle
import resource
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, NoReturn

from lambdatop.runtime.worker.context import LambdaContext
from lambdatop.runtime.worker.wire import FrameDecoder, encode, recv_message

RESPONSE_LIMIT = 6 * 1024 * 1024 + 100  # what the Runtime API accepts (RIE MaxPayloadSize)
OUTPUT_LIMIT = 1024 * 1024  # captured output kept per invocation (CloudWatch keeps 256 KB per event)
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class WorkerSpec:
    """Everything a worker needs to become one function's execution environment."""

    env_id: str
    function_name: str
    function_version: str
    handler: str
    task_root: str
    environ: dict[str, str]
    memory_size: int
    log_group_name: str
    log_stream_name: str
    extra_sys_path: list[str] = field(default_factory=list)


# -- output capture ----------------------------------------------------------------


class OutputCapture:
    """fd 1 and fd 2 point at one append-only memfd; each invocation takes what was written."""

    def __init__(self) -> None:
        self.fd = os.memfd_create("lambdatop-log", 0)
        fcntl.fcntl(self.fd, fcntl.F_SETFL, fcntl.fcntl(self.fd, fcntl.F_GETFL) | os.O_APPEND)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self.fd, 1)
        os.dup2(self.fd, 2)
        # Line buffering: a print before a timeout or crash is not lost in a buffer.
        sys.stdout.reconfigure(line_buffering=True)
        sys.stderr.reconfigure(line_buffering=True)

    def take(self) -> str:
        sys.stdout.flush()
        sys.stderr.flush()
        return drain_output(self.fd)


def drain_output(fd: int) -> str:
    """Everything written to a capture memfd since the last drain, which empties it.

    Output past OUTPUT_LIMIT keeps its tail (where errors are) behind a marker line,
    so a handler that prints without end cannot flood the supervisor.
    """
    size = os.fstat(fd).st_size
    if not size:
        return ""
    if size > OUTPUT_LIMIT:
        data = os.pread(fd, OUTPUT_LIMIT, size - OUTPUT_LIMIT)
        data = b"[lambdatop: %d bytes of earlier output dropped]\n" % (size - OUTPUT_LIMIT) + data.partition(b"\n")[2]
    else:
        data = os.pread(fd, size, 0)
    os.ftruncate(fd, 0)
    return data.decode("utf-8", "replace")


# -- Lambda's log format for the logging module ------------------------------------


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _RequestIdFilter.request_id
        return True


class _LambdaFormatter(logging.Formatter):
    converter = time.gmtime

    def __init__(self) -> None:
        super().__init__("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S")


# Built when the zygote imports this module, so a cold start only installs it: building it in the new
# worker cost ~200 µs (copy-on-write faults). logging re-creates handler locks after a fork.
_LOG_HANDLER = logging.StreamHandler(sys.stdout)
_LOG_HANDLER.setFormatter(_LambdaFormatter())
_LOG_HANDLER.addFilter(_RequestIdFilter())


def _install_logging() -> None:
    root = logging.getLogger()
    root.handlers[:] = [_LOG_HANDLER]
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    if level:
        root.setLevel(level.upper())


# -- errors in Lambda's shape ------------------------------------------------------


class FaultError(Exception):
    """A runtime fault with a Lambda error type (Runtime.ImportModuleError and friends)."""

    def __init__(self, error_type: str, message: str, stack: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack = stack or []


def error_object(error_type: str, message: str, stack: list[str], request_id: str) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack}


def _user_stack(tb: Any) -> list[str]:
    """The traceback as the RIC gives it: this module's own frames cut from the top."""
    frames = traceback.extract_tb(tb)
    for index, frame in enumerate(frames):
        if frame.filename != __file__:
            frames = frames[index:]
            break
    else:
        frames = traceback.StackSummary.from_list([])
    return traceback.format_list(frames)


def _exception_object(exc: BaseException, request_id: str) -> dict[str, Any]:
    if isinstance(exc, FaultError):
        return error_object(exc.error_type, exc.message, exc.stack, request_id)
    return error_object(type(exc).__name__, str(exc), _user_stack(exc.__traceback__), request_id)


def _log_error(error: dict[str, Any]) -> None:
    """`[ERROR] Type: message` and the traceback, as the runtime prints an unhandled error."""
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}" if error["errorMessage"] else f"[ERROR] {error['errorType']}"]
    if error["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        for element in error["stackTrace"]:
            lines.extend(element.splitlines())
    sys.stdout.write("\n".join(lines) + "\n")


# -- Init ------------------------------------------------------------------------------


def load_handler(handler: str) -> Callable[[Any, Any], Any]:
    """Import the handler's module and find the function, raising Lambda's fault types."""
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as exc:
        raise FaultError("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {exc}") from exc
    module_path = module_name.replace("/", ".")
    if module_path.split(".")[0] in sys.builtin_module_names:
        raise FaultError("Runtime.BuiltInModuleConflict", f"Cannot use built-in module {module_name} as a handler module")
    try:
        module = importlib.import_module(module_path)
    except SyntaxError as exc:
        stack = [f'  File "{exc.filename}" Line {exc.lineno}\n    {(exc.text or "").strip()}\n']
        raise FaultError("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", stack) from exc
    except ImportError as exc:
        raise FaultError("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}") from exc
    function = getattr(module, function_name, None)
    if function is None:
        fault = FaultError("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")

        # As in the RIC, a missing handler is not an Init failure: every invoke reports it.
        def missing_handler(event: Any, context: Any) -> Any:
            raise fault

        missing_handler.fault = fault  # type: ignore[attr-defined]  # Init's diagnosis reports it early
        return missing_handler
    return function


def diagnose_init(exc: BaseException | None, handler: Any, spec: WorkerSpec) -> dict[str, Any] | None:
    """Why this environment cannot serve, and where in the user's code: for hot reload's broken-code notice.

    Lambda's error objects keep their shape (an ImportModuleError carries no
    stack), so the file and line travel beside them, read from the real
    traceback: a SyntaxError's own location, else the deepest frame in the
    function's code folder or layers. A missing handler does not fail Init,
    but is reported here so a reload can flag it before anyone invokes.
    """
    if exc is None:
        fault = getattr(handler, "fault", None)
        if not isinstance(fault, FaultError):
            return None
        module = sys.modules.get(spec.handler.rsplit(".", 1)[0].replace("/", "."))
        return {"errorType": fault.error_type, "errorMessage": fault.message, "file": getattr(module, "__file__", None), "line": None}
    error_type = exc.error_type if isinstance(exc, FaultError) else type(exc).__name__
    message = exc.message if isinstance(exc, FaultError) else str(exc)
    cause = exc.__cause__ if isinstance(exc, FaultError) and exc.__cause__ is not None else exc
    if isinstance(cause, SyntaxError):
        return {"errorType": error_type, "errorMessage": message, "file": cause.filename, "line": cause.lineno}
    roots = tuple(os.path.join(root, "") for root in (spec.task_root, *spec.extra_sys_path))
    file = line = None
    for frame in traceback.extract_tb(cause.__traceback__):
        if frame.filename.startswith(roots):
            file, line = frame.filename, frame.lineno
    return {"errorType": error_type, "errorMessage": message, "file": file, "line": line}


# -- the worker ----------------------------------------------------------------------


_statm: tuple[int, int] | None = None  # (pid, fd): this process's /proc/self/statm, kept open


def _memory_kb() -> tuple[int, int]:
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


def _become_environment(spec: WorkerSpec) -> None:
    os.environ.clear()
    os.environ.update(spec.environ)
    # The environment's own /tmp. Made here rather than by the supervisor: mkdir costs 0.2-1 ms on a
    # busy disk, which would block the supervisor's event loop once per cold start.
    if spec.environ.get("TMPDIR"):
        os.makedirs(spec.environ["TMPDIR"], exist_ok=True)
    time.tzset()
    os.chdir(spec.task_root)
    sys.path[:] = [spec.task_root, *spec.extra_sys_path, *sys.path]
    sys.argv = [spec.handler]
    _install_logging()


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# json.dumps(default=...) builds a new encoder per call; this one is json.dumps' defaults plus ours.
_ENCODER = json.JSONEncoder(default=_json_default)


class Worker:
    """One execution environment's runtime loop."""

    def __init__(self, sock: socket.socket, spec: WorkerSpec, capture: OutputCapture | None = None) -> None:
        self.sock = sock
        self.spec = spec
        self.capture = capture
        self.handler: Callable[[Any, Any], Any] | None = None

    def send(self, message: tuple) -> None:
        self.sock.sendall(encode(message))

    def run(self) -> NoReturn:
        _become_environment(self.spec)
        if self.capture is None:  # else a spare's, announced while it waited
            self.capture = OutputCapture()
            announce(self.sock, self.capture)
        self.init()
        linger = 0.0
        while True:
            if linger:
                self.linger(linger)
            message = recv_message(self.sock)
            if message is None or message[0] == "shutdown":
                os._exit(0)
            self.send(self.invoke(*message[1:8]))
            linger = message[8] if len(message) > 8 else 0.0

    def linger(self, seconds: float) -> None:
        """Poll for the next request for up to `seconds` before sleeping in recv.

        The supervisor asks for this while it is invoked one call at a time:
        a worker asleep in recv must be woken for each request, which costs as
        much as the rest of a warm invoke (an idle virtual CPU halts). Yielding
        between polls leaves the core to anything else that wants it.
        """
        give_up = time.perf_counter() + seconds
        while time.perf_counter() < give_up and not _readable(self.sock):
            os.sched_yield()

    def init(self) -> None:
        started = time.time()
        begin = time.perf_counter()
        error = None
        failure: BaseException | None = None
        try:
            self.handler = load_handler(self.spec.handler)
        except Exception as exc:  # noqa: BLE001 - any failure of the user's top-level code is an init error
            failure = exc
            error = _exception_object(exc, "")
            sys.stdout.write("LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. However, in rare cases, a Lambda runtime update can cause unexpected function behavior. For functions using managed runtimes, runtime updates can be triggered by a function change, or can be applied automatically. To determine if the runtime has been updated, check the runtime version in the INIT_START log entry. If this error correlates with a change in the runtime version, you may be able to mitigate this error by temporarily rolling back to the previous runtime version. For more information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\n")
            _log_error(error)
        init_ms = (time.perf_counter() - begin) * 1000
        assert self.capture is not None
        problem = diagnose_init(failure, self.handler, self.spec)
        self.send(("init", error, init_ms, self.capture.take(), started, time.time(), *_memory_kb(), problem))
        if error is not None:
            os._exit(1)  # the RIC exits after posting an init error

    def invoke(
        self,
        request_id: str,
        payload: bytes,
        timeout_ms: int,
        invoked_arn: str,
        trace_header: str | None,
        client_context: str | None,
        cognito_identity: str | None,
    ) -> tuple:
        assert self.capture is not None and self.handler is not None
        # The deadline starts now, not when the supervisor sent the request: a cold start's first
        # request is sent before Init, and Init's time is not the handler's.
        deadline_ms = int(time.time() * 1000) + timeout_ms
        if trace_header:
            os.environ["_X_AMZN_TRACE_ID"] = trace_header
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        _RequestIdFilter.request_id = request_id
        context = LambdaContext(
            aws_request_id=request_id, deadline_ms=deadline_ms, invoked_function_arn=invoked_arn,
            function_name=self.spec.function_name, function_version=self.spec.function_version,
            memory_limit_in_mb=str(self.spec.memory_size), log_group_name=self.spec.log_group_name,
            log_stream_name=self.spec.log_stream_name, client_context=client_context, cognito_identity=cognito_identity,
        )
        error: dict[str, Any] | None = None
        body = b""
        started = time.time()
        begin = time.perf_counter()
        try:
            try:
                event = json.loads(payload) if payload else {}
            except ValueError as exc:
                raise FaultError("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}") from exc
            result = self.handler(event, context)
            try:
                body = _ENCODER.encode(result).encode()
            except (TypeError, ValueError, OverflowError) as exc:
                raise FaultError("Runtime.MarshalError", f"Unable to marshal response: {exc}") from exc
        except SystemExit as exc:
            # The runtime process exits, as it would under the RIC: the supervisor sees Runtime.ExitError.
            # Its output stays in the memfd, where the supervisor reads it.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1))
        except BaseException as exc:  # noqa: BLE001 - every handler failure is reported, even KeyboardInterrupt
            error = _exception_object(exc, request_id)
            _log_error(error)
        duration_ms = (time.perf_counter() - begin) * 1000
        ended = time.time()
        if error is None and len(body) > RESPONSE_LIMIT:
            error = {
                "errorMessage": f"Response payload size exceeded maximum allowed payload size ({RESPONSE_LIMIT} bytes).",
                "errorType": "Function.ResponseSizeTooLarge",
            }
        if error is not None:
            body = json.dumps(error).encode()
        logs = self.capture.take()
        return ("result", request_id, error is None, body, error and error["errorType"], duration_ms, logs, started, ended, *_memory_kb())


def prepare_spare(sock: socket.socket) -> OutputCapture:
    """What a spare child does before it has a request: everything that does not depend on the spec.

    Run while the spare waits, the copy-on-write faults of these first steps
    after the fork are off the cold start's critical path. A spec that arrives
    on `sock` meanwhile cuts the preparation short: the rest is not worth a wait.
    """
    capture = OutputCapture()
    # Grow the environment's tables once (a worker sets some 30 variables), then empty them again.
    os.environ.update({f"LAMBDATOP_SPARE_{n}": "-" * 64 for n in range(40)})
    os.environ.clear()
    _rehearse(capture, lambda: _readable(sock))
    return capture


def _readable(sock: socket.socket) -> bool:
    """Whether a blocking read of `sock` would return now: data, the end of the stream, or an error."""
    try:
        sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return False
    except OSError:
        return True
    return True


def _rehearse(capture: OutputCapture, interrupted: Callable[[], bool]) -> None:
    """Walk a worker's whole path once with a no-op handler, leaving no trace.

    A forked child's first touch of each page of the interpreter's objects
    (reference counts are writes) is a copy-on-write fault: a first invoke
    paid ~1 ms of them across the steps below. Taken here, they are paid
    before any request; `interrupted()` is asked between steps.
    """
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        spec = pickle.loads(pickle.dumps(WorkerSpec(
            env_id="spare", function_name="spare", function_version="$LATEST", handler="spare.handler",
            task_root=os.getcwd(), environ={}, memory_size=128, log_group_name="spare", log_stream_name="spare",
        )))
        os.makedirs(os.getcwd(), exist_ok=True)
        time.tzset()
        os.chdir(os.getcwd())
        if interrupted():
            return
        worker = Worker(theirs, spec, capture)
        worker.handler = lambda event, context: None
        announce(theirs, capture)
        for fd in socket.recv_fds(ours, 65536, 1)[1]:
            os.close(fd)
        _install_logging()
        if interrupted():
            return
        diagnose_init(None, worker.handler, spec)
        worker.send(("init", None, 0.0, capture.take(), time.time(), time.time(), *_memory_kb(), None))
        if interrupted():
            return
        ours.send(encode(("invoke", "spare", b'{"spare": 1}', 1000, "spare", "Root=spare", None, None)))
        message = recv_message(theirs)
        assert message is not None
        worker.send(worker.invoke(*message[1:8]))
        FrameDecoder().feed(ours.recv(65536))
    except Exception:  # noqa: BLE001 - a rehearsal that fails costs a slower cold start, nothing else
        pass
    finally:
        ours.close()
        theirs.close()
        os.environ.clear()
        _RequestIdFilter.request_id = ""


def announce(sock: socket.socket, capture: OutputCapture) -> None:
    """The first message on a worker socket: this process's pid, and its output memfd for the supervisor."""
    socket.send_fds(sock, [encode(("started", os.getpid()))], [capture.fd])


def serve(sock: socket.socket, spec: WorkerSpec, capture: OutputCapture | None = None) -> NoReturn:
    """Entry point in the forked child; never returns."""
    try:
        Worker(sock, spec, capture).run()
    except BaseException:  # noqa: BLE001 - a broken worker must exit, never fall back into the zygote's loop
        try:
            traceback.print_exc()
            sys.stderr.flush()
        finally:
            os._exit(70)
