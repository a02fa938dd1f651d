"""Every message that crosses the process boundary, in one place: who sends it, on which socket, what it holds.

    supervisor ──► worker    (the worker socket)   WorkerSpec, InvokeRequest
    worker ──► supervisor    (the worker socket)   Started (+ its output memfd), InitDone, InvokeResult
    supervisor ──► zygote    (the control socket)  SpawnRequest (+ the new worker socket), SpareTaken
    zygote ──► supervisor    (the control socket)  SpareReady (+ the spare's worker socket), ChildExited
    snapshot ──► supervisor  (its control socket)  Started, InitDone, then as the zygote

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
    # A runtime that speaks the Runtime API (provided*, nodejs*, `python_runtime: ric`): the programs that may
    # be it, first existing one wins (Lambda: /var/task/bootstrap, then /opt/bootstrap), exec'd with `arguments`
    # by `exec_runtime`. Empty: the built-in Python worker.
    bootstrap: tuple[str, ...] = ()
    arguments: tuple[str, ...] = ()
    extensions: tuple[str, ...] = ()  # external extensions (layers' extensions/ executables), started beside it
    # The function's installed requirements.txt and the runtime's bundled boto3 (worker/imports.py).
    package_paths: tuple[str, ...] = ()
    # True: the function sees only its own folders and the standard library, not lambdatop's packages.
    isolated: bool = False
    # `cpu: proportional`: the CPUs this environment may use (memory / 1,769 MB, as on Lambda); 0 = no quota.
    cpu_share: float = 0.0
    # SnapStart (worker/snapstart.py): this process runs Init once and becomes a published version's snapshot,
    # which forks its restored environments; it speaks on a SOCK_SEQPACKET socket, as the zygote does.
    snapshot: bool = False


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
    # A SnapStart environment restored from its version's snapshot: `init_ms` is then the restore's time inside
    # the environment (its runtime made ready, the after-restore hooks run), which Lambda bills.
    restored: bool = False


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
FROM_SNAPSHOT = frozenset({Started, InitDone, SpareReady, ChildExited})  # a SnapStart snapshot: its Init, then as a zygote

Check = Callable[[Any], Any]
_NONE = type(None)


def _type_names(allowed: frozenset[type]) -> str:
    return "/".join(sorted("None" if t is _NONE else t.__name__ for t in allowed))


def _sequence_of(allowed: frozenset[type]) -> Check:
    def check(value: Any) -> Any:
        if type(value) is not tuple:
            raise BadMessage(f"{type(value).__name__} where an array was expected")
        for item in value:
            if type(item) not in allowed:
                raise BadMessage(f"{type(item).__name__} where {_type_names(allowed)} was expected")
        return value

    return check


def _mapping_of(keys: frozenset[type], items: frozenset[type]) -> Check:
    def check(value: Any) -> Any:
        if type(value) is not dict:
            raise BadMessage(f"{type(value).__name__} where a map was expected")
        for key, item in value.items():
            if type(key) not in keys or type(item) not in items:
                raise BadMessage(f"a map entry {type(key).__name__}: {type(item).__name__}")
        return value

    return check


def _nested(cls: type, optional: bool) -> Check:
    def check(value: Any) -> Any:
        if value is None and optional:
            return None
        if type(value) is not tuple:
            raise BadMessage(f"{type(value).__name__} where a {cls.__name__} was expected")
        return build(cls, value)

    return check


def _simple_types(annotation: Any) -> frozenset[type]:
    """The exact types a plain field may hold (msgpack decodes to exact builtins; `True` is no int here)."""
    return frozenset({float, int}) if annotation is float else frozenset({annotation})


def _plan_field(annotation: Any) -> tuple[frozenset[type] | None, Check | None]:
    """From a field's annotation (the annotations above are the schema): the exact types it may
    hold, checked inline; or, for arrays, maps and nested messages, a checker that builds the value."""
    optional = False
    if typing.get_origin(annotation) in (types.UnionType, typing.Union):
        inner = [arg for arg in typing.get_args(annotation) if arg is not _NONE]
        assert len(inner) == 1, annotation
        annotation, optional = inner[0], True
    origin = typing.get_origin(annotation)
    if origin is tuple:
        return None, _sequence_of(_simple_types(typing.get_args(annotation)[0]))
    if origin is dict:
        key, item = typing.get_args(annotation)
        return None, _mapping_of(_simple_types(key), _simple_types(item))
    if isinstance(annotation, type) and issubclass(annotation, tuple):
        return None, _nested(annotation, optional)
    allowed = _simple_types(annotation)
    return (allowed | {_NONE} if optional else allowed), None


class _Plan(NamedTuple):
    required: int  # fields without a default
    simple: tuple[frozenset[type] | None, ...]
    checks: tuple[tuple[int, Check], ...]  # (field index, checker) for the fields not checked inline
    defaults: tuple[Any, ...]


def _plan(cls: Any) -> _Plan:
    fields = [_plan_field(hint) for hint in typing.get_type_hints(cls).values()]
    defaults = tuple(cls._field_defaults[name] for name in cls._fields if name in cls._field_defaults)
    return _Plan(len(fields) - len(defaults), tuple(simple for simple, _ in fields),
                 tuple((index, check) for index, (_, check) in enumerate(fields) if check is not None), defaults)


_PLANS: dict[type, _Plan] = {cls: _plan(cls) for cls in (*KINDS, ErrorObject, InitProblem)}
_BY_KIND: dict[int, type] = {kind: cls for cls, kind in KINDS.items()}


def build(cls: type, fields: tuple) -> Any:
    """`cls` from decoded fields, every one checked against its annotation; raises BadMessage.

    On the warm path: plain fields are checked inline, with no call per field.
    """
    required, simple, checks, defaults = _PLANS[cls]
    count = len(fields)
    if not required <= count <= len(simple):
        raise BadMessage(f"{cls.__name__} with {count} fields")
    for value, allowed in zip(fields, simple, strict=False):  # fields may stop early: the rest take defaults
        if allowed is not None and type(value) not in allowed:
            raise BadMessage(f"{type(value).__name__} where {_type_names(allowed)} was expected")
    if checks or count < len(simple):
        values = list(fields)
        for index, check in checks:
            if index < count:
                values[index] = check(values[index])
        values.extend(defaults[count - required:])
        fields = tuple(values)
    return tuple.__new__(cls, fields)


def message_from(items: Any, accepted: frozenset[type]) -> Any:
    """The message a decoded `[kind, field, ...]` array stands for, if this end accepts that kind."""
    if type(items) is not tuple or not items:
        raise BadMessage("a frame that is not a message array")
    cls = _BY_KIND.get(items[0]) if type(items[0]) is int else None
    if cls is None or cls not in accepted:
        raise BadMessage(f"a message of kind {items[0]!r}, which this end does not accept")
    return build(cls, items[1:])
