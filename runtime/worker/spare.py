"""What a spare does before it has a request: everything that does not depend on the spec.

A spare is a child the zygote forked ahead of need. This runs in it, after
the fork and before any spec arrives: the copy-on-write faults of a worker's
first steps are taken here, off the cold start's critical path. A spec that
arrives on the spare's socket meanwhile cuts the preparation short: the rest
is not worth a wait.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

from lambdatop.runtime.worker import runtime
from lambdatop.runtime.worker.capture import OutputCapture
from lambdatop.runtime.worker.handler import diagnose_init
from lambdatop.runtime.worker.messages import FROM_SUPERVISOR, FROM_WORKER, InitDone, InvokeRequest, WorkerSpec
from lambdatop.runtime.worker.wire import FrameDecoder, decode, encode, readable, recv_message


def prepare_spare(sock: socket.socket) -> OutputCapture:
    """Set up output capture and rehearse a worker's path, until `sock` has the spec; returns the capture."""
    capture = OutputCapture()
    # Grow the environment's tables once (a worker sets some 30 variables), then empty them again.
    os.environ.update({f"LAMBDATOP_SPARE_{n}": "-" * 64 for n in range(40)})
    os.environ.clear()
    _rehearse(capture, lambda: readable(sock))
    return capture


def _rehearse(capture: OutputCapture, interrupted: Callable[[], bool]) -> None:
    """Walk a worker's whole path once with a no-op handler, leaving no trace.

    A forked child's first touch of each page of the interpreter's objects
    (reference counts are writes) is a copy-on-write fault: a first invoke
    paid ~1 ms of them across the steps below. Taken here, they are paid
    before any request; `interrupted()` is asked between steps.
    """
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        spec = decode(encode(WorkerSpec(
            env_id="spare", function_name="spare", function_version="$LATEST", handler="spare.handler",
            task_root=os.getcwd(), environ={}, memory_size=128, log_group_name="spare", log_stream_name="spare",
        ))[4:], FROM_SUPERVISOR)
        os.makedirs(os.getcwd(), exist_ok=True)
        time.tzset()
        os.chdir(os.getcwd())
        if interrupted():
            return
        worker = runtime.Worker(theirs, spec, capture)
        worker.handler = lambda event, context: None
        worker.marshaller = runtime.Marshaller()
        runtime.announce(theirs, capture)
        for fd in socket.recv_fds(ours, 65536, 1)[1]:
            os.close(fd)
        runtime.install_logging()
        if interrupted():
            return
        diagnose_init(None, worker.handler, spec.handler, (spec.task_root,))
        worker.send(InitDone(None, 0.0, capture.take(), time.time(), time.time(), *runtime.memory_kb(), None))
        if interrupted():
            return
        ours.send(encode(InvokeRequest("spare", b'{"spare": 1}', 1000, "spare", "Root=spare")))
        request = recv_message(theirs, FROM_SUPERVISOR)
        assert isinstance(request, InvokeRequest)
        worker.send(worker.invoke(request))
        FrameDecoder(FROM_WORKER).feed(ours.recv(65536))
    except Exception:  # noqa: BLE001 - a rehearsal that fails costs a slower cold start, nothing else
        pass
    finally:
        ours.close()
        theirs.close()
        os.environ.clear()
        runtime.RequestIdFilter.request_id = ""
