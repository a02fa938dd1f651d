"""A runtime that is a program of its own: fork (done by the zygote), then exec it, with the reserved environment.

Lambda starts `bootstrap` (a custom runtime, the Node.js runtime, the Python
runtime interface client) as a process that speaks the Runtime API over HTTP.
Here the zygote's child does what every worker does first (the environment,
its TMPDIR, output capture at the file-descriptor level, `Started` with the
memfd), then replaces itself with that program: it stays in the zygote's
process tree, so it is reaped and its exit status reported like any worker's,
and its output lands in the same memfd. It leads its own process group, so a
kill or a freeze (SIGSTOP) reaches whatever it started too.

If no program can be run, the child says so with an `InitDone` carrying
Lambda's `Runtime.InvalidEntrypoint` (the platform prefixes the request id)
and exits, as Lambda's Init fails before any runtime code runs.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from typing import NoReturn

from lambdatop.runtime.worker import confinement
from lambdatop.runtime.worker.capture import OutputCapture
from lambdatop.runtime.worker.messages import EXIT_INIT_ERROR, ErrorObject, InitDone, InitProblem, Started, WorkerSpec
from lambdatop.runtime.worker.wire import encode

INVALID_ENTRYPOINT = "Runtime.InvalidEntrypoint"
# Signals the zygote or Python changed that an exec'd program must get back at their defaults
# (a bash `bootstrap` under an ignored SIGPIPE would loop forever writing to a closed pipe).
_RESET_SIGNALS = (signal.SIGPIPE, signal.SIGINT, signal.SIGCHLD, signal.SIGTERM, signal.SIGXFSZ)


def choose_program(candidates: tuple[str, ...]) -> str | None:
    """The first candidate that exists and is not a folder, as Lambda picks its bootstrap."""
    for path in candidates:
        if os.path.exists(path) and not os.path.isdir(path):
            return path
    return None


def exec_failure(spec: WorkerSpec, program: str | None, error: OSError | None) -> ErrorObject:
    """Lambda's words for a runtime that cannot start (Go's os/exec error text, as observed on Lambda)."""
    if program is None:
        return ErrorObject(INVALID_ENTRYPOINT, f"Couldn't find valid bootstrap(s): [{' '.join(spec.bootstrap)}]")
    reason = (error.strerror or str(error)).lower() if error is not None else "unknown error"
    return ErrorObject(INVALID_ENTRYPOINT, f"fork/exec {program}: {reason}")


def exec_runtime(sock: socket.socket, spec: WorkerSpec, capture: OutputCapture | None) -> NoReturn:
    """In the zygote's child: become `spec`'s environment and exec its runtime program; never returns."""
    started = time.time()
    if spec.environ.get("TMPDIR"):
        os.makedirs(spec.environ["TMPDIR"], exist_ok=True)
    os.chdir(spec.task_root)
    if capture is None:  # else a spare's, announced while it waited
        capture = OutputCapture()
        socket.send_fds(sock, [encode(Started(os.getpid()))], [capture.fd, *confinement.oom_counter()])
    os.set_inheritable(capture.fd, False)  # fds 1 and 2 stay: they are the capture
    program = choose_program(spec.bootstrap)
    error: OSError | None = None
    if program is not None:
        os.setpgid(0, 0)
        for signum in _RESET_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, ())
        for extension in spec.extensions:
            start_extension(extension, spec.environ)
        try:
            os.execve(program, [program, *spec.arguments], spec.environ)
        except OSError as exc:
            error = exc
    if program is None and any("/" not in path for path in spec.bootstrap):
        print(f"[lambdatop] {', '.join(p for p in spec.bootstrap if '/' not in p)} was not found on PATH: "
              "install it to run this function's runtime", file=sys.stderr)
    failure = exec_failure(spec, program, error)
    problem = InitProblem(failure.error_type, failure.error_message, program or (spec.bootstrap[0] if spec.bootstrap else None))
    now = time.time()
    try:
        sock.sendall(encode(InitDone(failure, (now - started) * 1000, capture.take(), started, now, 0, 0, problem)))
    finally:
        os._exit(EXIT_INIT_ERROR)



def start_extension(path: str, environ: dict[str, str]) -> None:
    """Fork + exec one external extension in this (the runtime's) process group; it registers over HTTP."""
    if os.fork() == 0:
        try:
            os.execve(path, [path], environ)
        finally:
            os._exit(127)
