"""Every message that crosses the process boundary, in one place: who sends it, on which socket, what it holds.

    supervisor ──► worker    (the worker socket)   WorkerSpec, InvokeRequest
    worker ──► supervisor    (the worker socket)   Started (+ its output memfd), InitDone, InvokeResult
    supervisor ──► zygote    (the control socket)  SpawnRequest (+ the new worker socket), SpareTaken
    zygote ──► supervisor    (the control socket)  SpareReady (+ the spare's worker socket), ChildExited

Each kind is a NamedTuple; on the wire it is a msgpack array `[kind, field, ...]`
(see `wire.py` for the framing). msgpack is data only: decoding never runs
code, unlike the pickle frames this replaced, which let a function's process
run code in the supervisor by writing one crafted frame on its own socket.

A receiver accepts only the kinds its peer may send (`FROM_WORKER`,
`FROM_ZYGOTE`, ...) and checks every field's type against the annotations
below before anything reads it: a message from a worker is untrusted, since
the user's code runs in that process and can write on its socket.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any, NamedTuple

# What a worker's exit status means (the zygote reports it as Go's os/exec words; see zygote.describe_status).
EXIT_INIT_ERROR = 1  # the RIC exits after posting an init error
EXIT_WORKER_BROKEN = 70  # the worker's own machinery failed (EX_SOFTWARE); never the user's code


class BadMessage(ValueError):
    """A frame that is not a well-formed message of a kind this end accepts (the peer is broken or hostile)."""


# -- supervisor ──► worker -----------------------------------------------------------


class WorkerSpec(NamedTuple):
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
    extra_sys_path: tuple[str, ...] = ()


class InvokeRequest(NamedTuple):
    """One invocation, as the invoker builds it and the worker's runtime takes it (RIE's `interop.Invoke`)."""

    request_id: str
    payload: bytes
    timeout_ms: int  # the worker starts its deadline when the invoke starts, not when this was sent
    invoked_function_arn: str
    trace_header: str | None = None
    client_context: str | None = None
    cognito_identity: str | None = None
    linger_s: float = 0.0  # poll for the next request this long after replying (Worker.linger)


# -- worker ──► supervisor -----------------------------------------------------------


class ErrorObject(NamedTuple):
    """Lambda's error object (`errorMessage`, `errorType`, `requestId`, `stackTrace`), as the runtime posts it."""

    error_type: str
    error_message: str
    stack_trace: tuple[str, ...] = ()
    request_id: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"errorMessage": self.error_message, "errorType": self.error_type, "requestId": self.request_id,
                "stackTrace": list(self.stack_trace)}


class InitProblem(NamedTuple):
    """Why an environment cannot serve, with the user's file and line (for hot reload's broken-code notice)."""

    error_type: str
    error_message: str
    file: str | None = None
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"errorType": self.error_type, "errorMessage": self.error_message, "file": self.file, "line": self.line}


class Started(NamedTuple):
    """The first message on a worker socket, with the worker's output memfd attached (SCM_RIGHTS)."""

    pid: int


class InitDone(NamedTuple):
    """The Init phase is over; with an error, the worker exits (EXIT_INIT_ERROR) after sending this."""

    error: ErrorObject | None
    init_ms: float
    logs: str
    started_at: float
    ended_at: float
    rss_kb: int
    peak_kb: int
    problem: InitProblem | None = None


class InvokeResult(NamedTuple):
    """The reply to one InvokeRequest: the response body, or the error object as JSON when `ok` is false."""

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


# -- supervisor ◄──► zygote ----------------------------------------------------------


class SpawnRequest(NamedTuple):
    """Fork a worker on the attached socket; `spec` is an encoded WorkerSpec frame the zygote passes on unread."""

    spec: bytes


class SpareTaken(NamedTuple):
    """The supervisor has given the spare its spec: fork the next one."""


class SpareReady(NamedTuple):
    """A spare is forked and waiting; the supervisor's end of its worker socket is attached."""

    pid: int


class ChildExited(NamedTuple):
    """The zygote reaped worker `pid`; `description` is in Go's words ("exit status 1", "signal: killed")."""

    pid: int
    description: str


# -- the schema ----------------------------------------------------------------------

# Kind numbers are the wire's; never reuse one.
KINDS: dict[type, int] = {
    WorkerSpec: 1, InvokeRequest: 2,
    Started: 10, InitDone: 11, InvokeResult: 12,
    SpawnRequest: 20, SpareTaken: 21,
    SpareReady: 30, ChildExited: 31,
}
FROM_SUPERVISOR = frozenset({WorkerSpec, InvokeRequest})  # what a worker accepts on its socket
FROM_WORKER = frozenset({Started, InitDone, InvokeResult})  # what the supervisor accepts on a worker socket
TO_ZYGOTE = frozenset({SpawnRequest, SpareTaken})
FROM_ZYGOTE = frozenset({SpareReady, ChildExited})

Check = Callable[[Any], Any]


def _exact(*allowed: type) -> Check:
    """Exactly these types (msgpack decodes to exact builtins; `True` is no int here)."""
    accepted = frozenset(allowed)

    def check(value: Any) -> Any:
        if type(value) not in accepted:
            raise BadMessage(f"{type(value).__name__} where {'/'.join(t.__name__ for t in allowed)} was expected")
        return value

    return check


def _optional(inner: Check) -> Check:
    def check(value: Any) -> Any:
        return None if value is None else inner(value)

    return check


def _sequence_of(inner: Check) -> Check:
    def check(value: Any) -> Any:
        if type(value) is not tuple:
            raise BadMessage(f"{type(value).__name__} where an array was expected")
        return tuple(inner(item) for item in value)

    return check


def _mapping_of(key: Check, item: Check) -> Check:
    def check(value: Any) -> Any:
        if type(value) is not dict:
            raise BadMessage(f"{type(value).__name__} where a map was expected")
        return {key(k): item(v) for k, v in value.items()}

    return check


def _nested(cls: type) -> Check:
    def check(value: Any) -> Any:
        if type(value) is not tuple:
            raise BadMessage(f"{type(value).__name__} where a {cls.__name__} was expected")
        return build(cls, value)

    return check


def _check_for(annotation: Any) -> Check:
    """A checker for one field, from its annotation (the annotations above are the schema)."""
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        inner = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        assert len(inner) == 1, annotation
        return _optional(_check_for(inner[0]))
    if origin is tuple:
        return _sequence_of(_check_for(typing.get_args(annotation)[0]))
    if origin is dict:
        key, item = typing.get_args(annotation)
        return _mapping_of(_check_for(key), _check_for(item))
    if isinstance(annotation, type) and issubclass(annotation, tuple):
        return _nested(annotation)
    if annotation is float:
        return _exact(float, int)
    return _exact(annotation)


_SCHEMA: dict[type, tuple[Check, ...]] = {
    cls: tuple(_check_for(hint) for hint in typing.get_type_hints(cls).values())
    for cls in (*KINDS, ErrorObject, InitProblem)
}
_BY_KIND: dict[int, type] = {kind: cls for cls, kind in KINDS.items()}


def build(cls: type, fields: tuple) -> Any:
    """`cls` from decoded fields, every one checked against its annotation; raises BadMessage."""
    checks = _SCHEMA[cls]
    defaults = cls._field_defaults  # type: ignore[attr-defined]
    if not len(checks) - len(defaults) <= len(fields) <= len(checks):
        raise BadMessage(f"{cls.__name__} with {len(fields)} fields")
    return cls._make([check(value) for check, value in zip(checks, fields)] + [  # type: ignore[attr-defined]
        defaults[name] for name in cls._fields[len(fields):]  # type: ignore[attr-defined]
    ])


def message_from(items: Any, accepted: frozenset[type]) -> Any:
    """The message a decoded `[kind, field, ...]` array stands for, if this end accepts that kind."""
    if type(items) is not tuple or not items:
        raise BadMessage("a frame that is not a message array")
    cls = _BY_KIND.get(items[0]) if type(items[0]) is int else None
    if cls is None or cls not in accepted:
        raise BadMessage(f"a message of kind {items[0]!r}, which this end does not accept")
    return build(cls, items[1:])
