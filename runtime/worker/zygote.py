"""The zygote: a small single-threaded process that forks execution environments.

Forking the supervisor is not allowed (it has threads, an event loop and the
UI), and starting a fresh interpreter per cold start costs tens of
milliseconds. So the supervisor starts this process once; it pre-imports the
worker runtime (never user code) and forks a worker per request. It is the
workers' parent, so it reaps them and reports each exit status back.

It keeps one *spare* forked ahead of need: a child already past the fork that
takes its copy-on-write faults ahead of time by rehearsing a worker's path,
then waits on its own worker socket. The supervisor holds the other end (sent
to it with the `SpareReady` message), so a cold start writes the spec straight to
the spare, with no hop through this process. The supervisor says `SpareTaken`, and
the next spare is forked once this process has been idle for SPARE_DELAY_S.

Run as `python -m lambdatop.runtime.worker.zygote FD` where FD is a SOCK_SEQPACKET
socket to the supervisor. When that socket closes, the zygote kills its
workers and exits; PR_SET_PDEATHSIG covers a supervisor killed with SIGKILL.
"""

from __future__ import annotations

import ctypes
import gc
import os
import select
import signal
import socket
import sys
import time

from lambdatop.runtime.worker import child_stops, confinement, exec_runtime, imports, runtime, snapstart, spare
from lambdatop.runtime.worker.capture import OutputCapture
from lambdatop.runtime.worker.messages import (
    EXIT_WORKER_BROKEN,
    FROM_SUPERVISOR,
    TO_ZYGOTE,
    BadMessage,
    ChildExited,
    SpareReady,
    SpareTaken,
    SpawnRequest,
    WorkerSpec,
)
from lambdatop.runtime.worker.wire import decode_packet, encode, recv_message

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
MAX_CONTROL_MESSAGE = 1 << 20
SPARE_DELAY_S = 0.001  # fork the next spare once the zygote has been idle this long (a burst of spawns comes first)


_libc: ctypes.CDLL | None = None


def die_with_parent(signum: int = signal.SIGKILL) -> None:
    """Ask the kernel to send `signum` (SIGKILL unless said) to this process when its parent dies."""
    global _libc
    try:
        # Loaded once in the zygote, before any fork: CDLL(None) in each new worker cost ~350 µs of its cold start.
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def become_subreaper() -> None:
    """Orphans of what this process started (a runtime program's extensions, a handler's double-forked daemon)
    come to it, not to init: they stay in reach of its supervisor."""
    try:
        if _libc is not None:
            _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def describe_status(status: int) -> str:
    """An exit status in the words Go's os/exec uses, which Lambda's messages quote."""
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        names: dict[int, str] = {
            signal.SIGKILL: "killed", signal.SIGSEGV: "segmentation fault", signal.SIGABRT: "aborted",
            signal.SIGTERM: "terminated", signal.SIGBUS: "bus error", signal.SIGFPE: "floating point exception",
            signal.SIGILL: "illegal instruction", signal.SIGINT: "interrupt",
        }
        return f"signal: {names.get(signum) or _signal_name(signum)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:  # most real-time signals have no name in Python; Go says "signal 40" for them too
        return f"signal {signum}"


class Zygote:
    def __init__(self, control: socket.socket, cgroups: tuple[str, ...] = (), subreapers: bool = False,
                 snapshot: snapstart.Snapshot | None = None) -> None:
        self.control = control
        # Set in a SnapStart version's snapshot (worker/snapstart.py): every child is restored from it (its spare
        # only joins its cgroup ahead: rehearsing would undo Init's state), and its end takes down its own children only.
        self.snapshot = snapshot
        # This run's cgroup folders (one per hierarchy): each child joins its own below them before any
        # function code runs. Without cgroups, each worker is a subreaper instead (`subreapers`).
        self.cgroups = cgroups
        self.subreapers = subreapers
        self.children: set[int] = set()
        # Without cgroups: the process group of every worker forked here (its pid), while the group has members.
        # An orphan that comes to this subreaper in none of them left its environment's group (a setsid daemon
        # whose worker died): nothing else would ever kill it before lambdatop stops.
        self.worker_groups: set[int] = set()
        self.spare: int | None = None  # the spare's pid, until the supervisor takes it
        self.spare_due: float | None = None  # when to fork the next spare (monotonic)
        self.broken_spares = 0  # spares in a row that died before they were ready
        self.wakeup_read, wakeup_write = os.pipe()
        os.set_blocking(wakeup_write, False)
        signal.set_wakeup_fd(wakeup_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        child_stops.only_exits_signal_the_parent()  # a freeze or a thaw of a worker is not news to the zygote
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # The supervisor's death (PDEATHSIG) or its last-resort stop: take every worker's process
        # group down first, so what handlers started does not outlive lambdatop.
        signal.signal(signal.SIGTERM, self._terminate)

    def _terminate(self, *_: object) -> None:
        self.shutdown()
        os._exit(0)

    def run(self) -> None:
        if self._stop_asked():
            # Started so late that the supervisor is already stopping (a one-shot command's second Python):
            # a spare forked now would try to join cgroup folders another zygote's shutdown is removing.
            self.shutdown()
            return
        self.fork_spare()
        while True:
            timeout = None if self.spare_due is None else max(0.0, self.spare_due - time.monotonic())
            try:
                readable, _, _ = select.select([self.control.fileno(), self.wakeup_read], [], [], timeout)
            except InterruptedError:
                continue
            if not readable and self.spare_due is not None:
                self.fork_spare()
                continue
            if self.wakeup_read in readable:
                os.read(self.wakeup_read, 4096)
                self.reap()
            if self.control.fileno() in readable and not self.handle_request():
                self.shutdown()
                return

    def _stop_asked(self) -> bool:
        """The supervisor has closed its end of the control socket (a peek: what is queued stays queued)."""
        try:
            return self.control.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def handle_request(self) -> bool:
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.control, MAX_CONTROL_MESSAGE, 1)
        except ConnectionResetError:
            return False
        if not data:
            return False
        try:
            message = decode_packet(data, TO_ZYGOTE)
        except BadMessage:
            message = None  # the supervisor is ours; a message we cannot read is dropped, not obeyed
        if isinstance(message, SpawnRequest) and fds:
            self.spawn(message.spec, fds.pop(0))
        elif isinstance(message, SpareTaken):
            self.spare = None
            self.spare_due = time.monotonic() + SPARE_DELAY_S
        for fd in fds:
            os.close(fd)
        return True

    def spawn(self, spec_frame: bytes, worker_fd: int) -> None:
        """Fork a worker for a request that came without a spare (there was none, or several came at once)."""
        pid = os.fork()
        if pid == 0:
            self.leave_zygote()
            self.become_worker(spec_frame, worker_fd)
        self.forked(pid)
        os.close(worker_fd)

    def fork_spare(self) -> None:
        """Fork a spare on a new worker socket and give the supervisor the other end."""
        self.spare_due = None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            ours.close()
            self.leave_zygote()
            self.wait_as_spare(theirs)
        theirs.close()
        self.forked(pid)
        self.spare = pid
        try:
            socket.send_fds(self.control, [encode(SpareReady(pid))], [ours.fileno()])
        except OSError:
            pass  # the supervisor is gone; the control socket's end stops the loop
        ours.close()

    def leave_zygote(self) -> None:
        """In a new child: drop the zygote's signal handling and sockets, and die with the zygote."""
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            self.control.close()
            os.close(self.wakeup_read)
            die_with_parent()
            # Its own process group: the supervisor's freeze and kill then reach what a handler
            # forks or spawns too, as Lambda's sandbox freezes and destroys everything in it.
            os.setpgid(0, 0)
            if self.cgroups:
                confinement.join(self.cgroups)
            elif self.subreapers:  # a double-forked daemon then stays the worker's descendant, in reach of its kill
                become_subreaper()
        except BaseException as exc:  # noqa: BLE001 - never return into the zygote's loop
            if not confinement.run_ended(self.cgroups):  # a run that is ending took its folders: nothing to say
                last_words(f"[lambdatop] the environment could not be set up: {exc!r}")
            os._exit(EXIT_WORKER_BROKEN)

    def wait_as_spare(self, sock: socket.socket) -> None:
        """Prepare, then block until the supervisor writes a spec on the worker socket; its end of stream means exit."""
        try:
            capture = None
            if self.snapshot is None:
                capture = spare.prepare_spare(sock)
                # Announced now, off the cold start's path: the supervisor reads it with Init's message.
                runtime.announce(sock, capture)
            spec = recv_message(sock, FROM_SUPERVISOR)
        except BaseException:  # noqa: BLE001
            os._exit(EXIT_WORKER_BROKEN)
        if not isinstance(spec, WorkerSpec):
            os._exit(0)
        self.become_worker(spec, sock.detach(), capture)

    def become_worker(self, spec: WorkerSpec | bytes, worker_fd: int, capture: OutputCapture | None = None) -> None:
        """Turn this child into the environment `spec` describes (an encoded frame, when it came through here)."""
        try:
            worker_spec: WorkerSpec = decode_packet(spec, frozenset({WorkerSpec})) if isinstance(spec, bytes) else spec
            sock = socket.socket(fileno=worker_fd)
            sock.setblocking(True)
            if self.cgroups:  # before Init: the function's first line already runs under its limits
                confinement.apply_limits(self.cgroups, worker_spec.memory_size, worker_spec.cpu_share)
        except BaseException as exc:  # noqa: BLE001 - never return into the zygote's loop
            last_words(f"[lambdatop] the environment's limits could not be set: {exc!r}")
            os._exit(EXIT_WORKER_BROKEN)
        if self.snapshot is not None:
            try:
                self.snapshot.restore(sock, worker_spec)
            except BaseException:  # noqa: BLE001 - never return into the snapshot's loop
                os._exit(EXIT_WORKER_BROKEN)
        if worker_spec.snapshot:
            snapstart.serve_snapshot(sock, worker_spec, self.cgroups, self.subreapers)
        if worker_spec.bootstrap:  # a runtime program of its own, driven through the Runtime API: fork + exec
            try:
                exec_runtime.exec_runtime(sock, worker_spec, capture)
            except BaseException:  # noqa: BLE001 - never return into the zygote's loop
                os._exit(EXIT_WORKER_BROKEN)
        runtime.serve(sock, worker_spec, capture)

    def reap(self) -> None:
        while True:  # our children, and the orphans we adopted as a subreaper (reaped, never reported)
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid not in self.children:
                continue
            self.children.discard(pid)
            if not self.cgroups:
                self.kill_escaped()
            if self.spare == pid:  # died unused: the supervisor drops its socket on this report
                self.spare = None
                # One that could not even be set up (its cgroup gone at the run's end) is not forked again at once:
                # the delay doubles with each, so a broken setup costs a fork a second, not a fork a millisecond.
                broken = os.WIFEXITED(status) and os.WEXITSTATUS(status) == EXIT_WORKER_BROKEN
                self.broken_spares = self.broken_spares + 1 if broken else 0
                self.spare_due = time.monotonic() + min(1.0, SPARE_DELAY_S * 2 ** self.broken_spares)
            self.report(ChildExited(pid, describe_status(status)))

    def forked(self, pid: int) -> None:
        """A new child: a worker (or spare) to reap and report, leading its own process group (leave_zygote)."""
        self.children.add(pid)
        self.worker_groups.add(pid)

    def kill_escaped(self) -> None:
        """A worker ended: kill what it left outside every worker's process group (what is inside one, an
        extension in its Shutdown phase, say, the supervisor's group kill takes care of)."""
        self.worker_groups = {group for group in self.worker_groups if confinement.group_exists(group)}
        for orphan in _own_children():
            if orphan in self.children:
                continue
            try:
                if os.getpgid(orphan) not in self.worker_groups:
                    os.kill(orphan, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                continue

    def report(self, message: ChildExited) -> None:
        try:
            self.control.send(encode(message))
        except OSError:
            pass

    def shutdown(self) -> None:
        for pid in list(self.children):
            for kill in (os.killpg, os.kill):  # the worker's group (its handler's children too), or the worker
                try:
                    kill(pid, signal.SIGKILL)
                    break
                except (ProcessLookupError, PermissionError):
                    continue
        if self.snapshot is not None:  # a version's snapshot going away: the rest of the run's environments stay
            confinement.kill_everything(self.cgroups, only=self.children)
            self._reap_all()
            return
        # What left its worker's group (a setsid daemon): its cgroup holds it; without cgroups, a dead
        # worker's orphans came to us, the subreaper.
        confinement.kill_everything(self.cgroups)
        for _ in range(3):
            adopted = _own_children()
            if not adopted:
                break
            for pid in adopted:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self._reap_all()
        for pid in list(self.children):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        confinement.remove_folders(self.cgroups)

    def _reap_all(self, within_s: float = 0.2) -> None:
        """Reap what has ended, waiting up to `within_s` for the killed to end."""
        deadline = time.monotonic() + within_s
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.005)
                continue
            self.children.discard(pid)


def _own_children() -> list[int]:
    try:
        with open(f"/proc/self/task/{os.getpid()}/children", "rb") as children:
            return [int(pid) for pid in children.read().split()]
    except (OSError, ValueError):
        return []


def last_words(text: str) -> None:
    try:
        os.write(2, (text + "\n").encode())
    except OSError:
        pass


def main() -> None:
    die_with_parent(signal.SIGTERM)  # see Zygote._terminate
    # `-m` put the launch directory on sys.path; workers must see only their own code folder.
    sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]
    control = socket.socket(fileno=int(sys.argv[1]))
    cgroups, subreapers = confinement.parse_arguments(sys.argv[2:])
    control.setblocking(True)
    if os.getppid() == 1:  # the supervisor died before we could arm PDEATHSIG
        return
    become_subreaper()
    # Workers replace the environment wholesale; emptied here once, each worker's clear() has
    # nothing to unset (it cost ~250 µs of every cold start).
    os.environ.clear()
    imports.prepare_isolation()
    # Everything imported so far is shared with every worker, copy-on-write. Frozen out of the
    # collector's sight, a worker's garbage collections do not walk (and so copy) those pages.
    gc.freeze()
    Zygote(control, cgroups, subreapers).run()
    # Straight out: the interpreter's own teardown (every module and frozen object freed) took ~8 ms that
    # every fleet's stop waited for, a one-shot command's included. Nothing here is buffered.
    os._exit(0)


if __name__ == "__main__":
    main()
