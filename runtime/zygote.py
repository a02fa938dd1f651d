"""The zygote: a small single-threaded process that forks execution environments.

Forking the supervisor is not allowed (it has threads, an event loop and the
UI), and starting a fresh interpreter per cold start costs tens of
milliseconds. So the supervisor starts this process once; it pre-imports the
worker bootstrap (never user code) and forks a worker per request. It is the
workers' parent, so it reaps them and reports each exit status back.

It keeps one *spare* forked ahead of need: a blank child, already past the
fork and its copy-on-write faults, that waits for a request. A cold start hands
the request to the spare and forks the next spare while the new worker runs
its Init, so the fork is off the cold start's critical path.

Run as `python -m lambdatop.runtime.zygote FD` where FD is a SOCK_SEQPACKET
socket to the supervisor. When that socket closes, the zygote kills its
workers and exits; PR_SET_PDEATHSIG covers a supervisor killed with SIGKILL.
"""

from __future__ import annotations

import ctypes
import gc
import os
import pickle
import select
import signal
import socket
import sys
import time

from lambdatop.runtime import bootstrap

PR_SET_PDEATHSIG = 1
MAX_CONTROL_MESSAGE = 1 << 20
SPAWN = b"S"  # a spawn request: this byte, then the pickled WorkerSpec (the zygote never unpickles it)
SPARE_DELAY_S = 0.005  # fork the next spare once the new worker has had the cores to itself


_libc: ctypes.CDLL | None = None


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies."""
    global _libc
    try:
        # Loaded once in the zygote, before any fork: CDLL(None) in each new worker cost ~350 µs of its cold start.
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def describe_status(status: int) -> str:
    """An exit status in the words Go's os/exec uses, which Lambda's messages quote."""
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        names = {
            signal.SIGKILL: "killed", signal.SIGSEGV: "segmentation fault", signal.SIGABRT: "aborted",
            signal.SIGTERM: "terminated", signal.SIGBUS: "bus error", signal.SIGFPE: "floating point exception",
            signal.SIGILL: "illegal instruction", signal.SIGINT: "interrupt",
        }
        return f"signal: {names.get(signum, signal.Signals(signum).name)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


class Zygote:
    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.children: set[int] = set()
        self.spare: tuple[int, socket.socket] | None = None  # (pid, channel to it)
        self.spare_due: float | None = None  # when to fork the next spare (monotonic)
        self.parent_pid = os.getppid()
        self.wakeup_read, wakeup_write = os.pipe()
        os.set_blocking(wakeup_write, False)
        signal.set_wakeup_fd(wakeup_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    def run(self) -> None:
        self.fork_spare()
        while True:
            timeout = None if self.spare_due is None else max(0.0, self.spare_due - time.monotonic())
            try:
                readable, _, _ = select.select([self.control, self.wakeup_read], [], [], timeout)
            except InterruptedError:
                continue
            if not readable and self.spare_due is not None:
                self.fork_spare()
                continue
            if self.wakeup_read in readable:
                os.read(self.wakeup_read, 4096)
                self.reap()
            if self.control in readable and not self.handle_request():
                self.shutdown()
                return

    def handle_request(self) -> bool:
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.control, MAX_CONTROL_MESSAGE, 1)
        except ConnectionResetError:
            return False
        if not data:
            return False
        if data.startswith(SPAWN) and fds:
            self.spawn(data[len(SPAWN):], fds[0])
        else:
            for fd in fds:
                os.close(fd)
        return True

    def spawn(self, request: bytes, worker_fd: int) -> None:
        """Give the request to the spare (forking one now only if there is none), then fork the next spare."""
        spare, self.spare = self.spare, None
        handed = False
        if spare is not None:
            _pid, channel = spare
            try:
                socket.send_fds(channel, [request], [worker_fd])
                handed = True
            except OSError:
                pass  # the spare died; its exit is reaped quietly
            channel.close()
        if not handed:
            pid = os.fork()
            if pid == 0:
                self.leave_zygote()
                self.become_worker(request, worker_fd)
            self.children.add(pid)
        os.close(worker_fd)
        # Forking now would take a core from the worker that is starting; fork when idle instead.
        self.spare_due = time.monotonic() + SPARE_DELAY_S

    def fork_spare(self) -> None:
        self.spare_due = None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            ours.close()
            self.leave_zygote()
            self.wait_as_spare(theirs)
        theirs.close()
        self.children.add(pid)
        self.spare = (pid, ours)

    def leave_zygote(self) -> None:
        """In a new child: drop the zygote's signal handling and sockets, and die with the zygote."""
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            self.control.close()
            os.close(self.wakeup_read)
            die_with_parent()
        except BaseException:  # noqa: BLE001 - never return into the zygote's loop
            os._exit(70)

    def wait_as_spare(self, channel: socket.socket) -> None:
        """Block until the zygote hands over a request; the zygote closing the channel means exit."""
        try:
            capture = bootstrap.prepare_spare()
            data, fds, _flags, _addr = socket.recv_fds(channel, MAX_CONTROL_MESSAGE, 1)
            channel.close()
        except BaseException:  # noqa: BLE001
            os._exit(70)
        if not data or not fds:
            os._exit(0)
        self.become_worker(data, fds[0], capture)

    def become_worker(self, request: bytes, worker_fd: int, capture: bootstrap.OutputCapture | None = None) -> None:
        try:
            spec = pickle.loads(request)
            sock = socket.socket(fileno=worker_fd)
            sock.setblocking(True)
        except BaseException:  # noqa: BLE001 - never return into the zygote's loop
            os._exit(70)
        bootstrap.serve(sock, spec, capture)

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.children.discard(pid)
            if self.spare is not None and self.spare[0] == pid:
                self.spare[1].close()  # no supervisor knows of the spare: replaced at the next spawn
                self.spare = None
                continue
            self.report(("exit", (pid, describe_status(status))))

    def report(self, message: tuple) -> None:
        try:
            self.control.send(pickle.dumps(message))
        except OSError:
            pass

    def shutdown(self) -> None:
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in list(self.children):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def main() -> None:
    die_with_parent()
    # `-m` put the launch directory on sys.path; workers must see only their own code folder.
    sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]
    control = socket.socket(fileno=int(sys.argv[1]))
    control.setblocking(True)
    if os.getppid() == 1:  # the supervisor died before we could arm PDEATHSIG
        return
    # Workers replace the environment wholesale; emptied here once, each worker's clear() has
    # nothing to unset (it cost ~250 µs of every cold start).
    os.environ.clear()
    # Everything imported so far is shared with every worker, copy-on-write. Frozen out of the
    # collector's sight, a worker's garbage collections do not walk (and so copy) those pages.
    gc.freeze()
    Zygote(control).run()


if __name__ == "__main__":
    main()
