"""SnapStart on the worker side: a published version's snapshot, and the environments restored from it.

On Lambda, publishing a SnapStart version runs Init once, then the
before-snapshot runtime hooks, and takes a Firecracker snapshot of the whole
microVM; each new environment of that version resumes from the snapshot, runs
the after-restore hooks, and serves. Here the snapshot is a process:

    zygote ── fork ──► serve_snapshot: become the environment, Init, before-snapshot hooks ──► InitDone
                         └─ then a Zygote of its own on the same SOCK_SEQPACKET socket (its spare: forked, in its cgroup)
                              ── fork (copy-on-write: Init's modules, objects, seeded randomness) ──►
                                 restore: the new spec's variables, after-restore hooks ──► InitDone(restored)
                                 ── the ordinary invoke loop (runtime.Worker.serve_requests)

So what a snapshot shares on Lambda is shared here too: a random seed, a
uuid made at Init, a connection opened at Init (one socket, now in every
environment). Threads started at Init are not: fork keeps only the thread
that forks (a Firecracker snapshot keeps them all). That is said in the
snapshot's Init output.

The hooks are `snapshot_restore_py`'s, the package Lambda's Python runtime
bundles: lambdatop bundles it the same way (runtime/packages/bundled.py);
where it is not installed, `fallback_hooks_module` stands in for it, with the
same names and order (before-snapshot hooks last registered first, as
awslambdaric's lambda_runtime_hooks_runner runs them; after-restore hooks in
registration order).
"""

from __future__ import annotations

import gc
import os
import shutil
import socket
import sys
import threading
import time
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from lambdatop.runtime.worker.capture import OutputCapture
from lambdatop.runtime.worker.handler import exception_object
from lambdatop.runtime.worker.logs import log_error
from lambdatop.runtime.worker.messages import EXIT_INIT_ERROR, EXIT_WORKER_BROKEN, InitDone, InitProblem, Started, WorkerSpec
from lambdatop.runtime.worker.wire import encode

if TYPE_CHECKING:
    from lambdatop.runtime.worker.runtime import Worker

HOOKS_MODULE = "snapshot_restore_py"
BEFORE_SNAPSHOT_ERROR = "Runtime.BeforeSnapshotError"  # awslambdaric's FaultException names
AFTER_RESTORE_ERROR = "Runtime.AfterRestoreError"
EXIT_BEFORE_SNAPSHOT_ERROR = 64  # what awslambdaric exits with after posting each
EXIT_AFTER_RESTORE_ERROR = 65
INIT_LOGS_KEPT = 60_000  # Init's output rides in one SOCK_SEQPACKET message: the tail is what is kept
Registry = list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]


def fallback_hooks_module() -> types.ModuleType:
    """A stand-in for `snapshot_restore_py` 1.0.0 when it is not installed: the same four functions."""
    module = types.ModuleType(HOOKS_MODULE, "Runtime hooks for Lambda SnapStart (lambdatop's stand-in for snapshot-restore-py).")
    before: Registry = []
    after: Registry = []

    def register_before_snapshot(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
        before.append((func, args, kwargs))
        return func

    def register_after_restore(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
        after.append((func, args, kwargs))
        return func

    module.register_before_snapshot = register_before_snapshot  # type: ignore[attr-defined]
    module.register_after_restore = register_after_restore  # type: ignore[attr-defined]
    module.get_before_snapshot = lambda: before  # type: ignore[attr-defined]
    module.get_after_restore = lambda: after  # type: ignore[attr-defined]
    module.__all__ = ["register_before_snapshot", "register_after_restore"]  # type: ignore[attr-defined]
    return module


def provide_hooks_module() -> None:
    """Make `import snapshot_restore_py` work for the handler: the installed package, else the stand-in."""
    try:
        __import__(HOOKS_MODULE)
    except ImportError:
        sys.modules[HOOKS_MODULE] = fallback_hooks_module()


def run_before_snapshot() -> None:
    """The before-snapshot hooks, last registered first; what one raises is the caller's to report."""
    hooks = _registry("get_before_snapshot")
    while hooks:
        func, args, kwargs = hooks.pop()
        func(*args, **kwargs)


def run_after_restore() -> None:
    """The after-restore hooks, in registration order; what one raises is the caller's to report."""
    for func, args, kwargs in _registry("get_after_restore"):
        func(*args, **kwargs)


def _registry(getter: str) -> Registry:
    module = sys.modules.get(HOOKS_MODULE)
    found = getattr(module, getter, None) if module is not None else None
    hooks = found() if callable(found) else None
    return hooks if isinstance(hooks, list) else []


# -- the snapshot ------------------------------------------------------------------------


def serve_snapshot(sock: socket.socket, spec: WorkerSpec, cgroups: tuple[str, ...], subreapers: bool) -> NoReturn:
    """In a child of the zygote: run the version's Init once, then fork its restored environments until the socket closes."""
    from lambdatop.runtime.worker import runtime, zygote  # the zygote imports this module: not at the top

    try:
        runtime.become_environment(spec)
        provide_hooks_module()
        worker = runtime.Worker(sock, spec, OutputCapture())
        worker.marshaller = runtime.Marshaller()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)  # Init's output rides in one message
        sock.send(encode(Started(os.getpid())))
        hook_failed = False

        def before_snapshot() -> None:  # run in Init's time; what a hook raises fails Init with it, as the RIC reports
            nonlocal hook_failed
            hook_failed = True
            run_before_snapshot()
            hook_failed = False

        done = worker.run_init(then=before_snapshot)
        if hook_failed and done.error is not None:
            done = done._replace(problem=InitProblem(BEFORE_SNAPSHOT_ERROR, done.error.error_message))
        threads = threading.active_count() - 1
        if done.error is None and threads:
            note = (f"lambdatop: Init left {threads} thread(s) running; a restored environment has none of them "
                    "(fork keeps only the calling thread; a Lambda snapshot keeps them all)\n")
            done = done._replace(logs=done.logs + note)
        sock.send(encode(done._replace(logs=done.logs[-INIT_LOGS_KEPT:])))
        if done.error is not None:
            os._exit(EXIT_BEFORE_SNAPSHOT_ERROR if hook_failed else EXIT_INIT_ERROR)
        snapshot = Snapshot(worker, spec.environ.get("TMPDIR", ""))
    except BaseException as exc:  # noqa: BLE001 - never return into the zygote's loop
        zygote.last_words(f"[lambdatop] the SnapStart snapshot could not be taken: {exc!r}")
        os._exit(EXIT_WORKER_BROKEN)
    # What Init made is shared copy-on-write with every restored environment: kept out of the collector's
    # sight, their garbage collections do not walk (and so copy) it, as the zygote does with its own.
    gc.freeze()
    zygote.Zygote(sock, cgroups, subreapers, snapshot=snapshot).run()
    os._exit(0)


class Snapshot:
    """What a restored environment resumes from: the Worker that ran Init (its handler, marshaller and logging),
    and Init's /tmp (part of a Lambda snapshot, so copied into each restored environment's own)."""

    def __init__(self, worker: Worker, tmpdir: str) -> None:
        self.worker = worker
        self.tmpdir = tmpdir

    def restore(self, sock: socket.socket, spec: WorkerSpec) -> NoReturn:
        """In a fresh fork of the snapshot: become `spec`'s environment, run the after-restore hooks, serve."""
        from lambdatop.runtime.worker import runtime

        begin = time.perf_counter()
        started = time.time()
        worker = self.worker
        worker.sock, worker.spec = sock, spec
        os.environ.update(spec.environ)  # Init's own changes to the environment were in the snapshot: kept
        for gone in ("AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME"):
            if gone not in spec.environ:
                os.environ.pop(gone, None)
        self._carry_tmp(spec.environ.get("TMPDIR", ""))
        inherited, worker.capture = worker.capture, OutputCapture()
        if inherited is not None:
            os.close(inherited.fd)  # the snapshot's Init output: not this environment's
        runtime.announce(sock, worker.capture)
        error = None
        try:
            run_after_restore()
        except Exception as exc:  # noqa: BLE001 - only the user's hooks run here: any failure is theirs
            error = exception_object(exc, "")
            log_error(error, worker._to_json)
        restore_ms = (time.perf_counter() - begin) * 1000
        worker.send(InitDone(error, restore_ms, worker.capture.take(), started, time.time(), *runtime.memory_kb(),
                             restored=True))
        if error is not None:
            os._exit(EXIT_AFTER_RESTORE_ERROR)
        worker.serve_requests()

    def _carry_tmp(self, tmpdir: str) -> None:
        if not tmpdir:
            return
        os.makedirs(tmpdir, exist_ok=True)
        if self.tmpdir and self.tmpdir != tmpdir and os.path.isdir(self.tmpdir) and os.listdir(self.tmpdir):
            shutil.copytree(self.tmpdir, tmpdir, symlinks=True, dirs_exist_ok=True)
