"""fd-level output capture: a worker's stdout and stderr go to one memfd, taken per invocation.

Captured at the file-descriptor level, output from C extensions and
subprocesses lands in the right request's log. The supervisor holds a dup of
the memfd (sent with the `Started` message), so it can read what a worker
wrote before it was killed.
"""

from __future__ import annotations

import fcntl  # imported once in the zygote, not in every cold start (~600 µs)
import os
import sys

from lambdatop.runtime.worker.wire import OUTPUT_LIMIT


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
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]

    def repair(self) -> None:
        """Point fd 1 and 2 back at the memfd if a handler closed or moved them: the runtime's own
        writes (the handler's error, the next request's logs) must land, not crash the worker."""
        target = os.fstat(self.fd)
        for fd in (1, 2):
            try:
                current = os.fstat(fd)
                if (current.st_dev, current.st_ino) == (target.st_dev, target.st_ino):
                    continue
            except OSError:
                pass
            os.dup2(self.fd, fd)
        # A handler that closed sys.stdout or sys.stderr themselves (not only their fds) gets fresh ones.
        if sys.stdout.closed:
            sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - lives as long as the worker
        if sys.stderr.closed:
            sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115

    def take(self) -> str:
        self.repair()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass  # a stream the handler closed: what it held is lost, as on Lambda
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
