"""The supervisor's side of the zygote: start it, ask it for workers, hear of their exits.

A cold start takes the zygote's spare when there is one (the spec goes straight
down the spare's worker socket) and otherwise asks the zygote to fork a worker.
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from lambdatop.runtime.execution import procfs
from lambdatop.runtime.execution.interpreters import Interpreter, local_interpreter, worker_tree, zygote_command
from lambdatop.runtime.execution.sandbox import Sandbox
from lambdatop.runtime.worker.messages import FROM_ZYGOTE, BadMessage, ChildExited, SpareReady, SpareTaken, SpawnRequest, WorkerSpec
from lambdatop.runtime.worker.wire import decode_packet, encode


EXITS_KEPT = 4096


class SpawnerError(RuntimeError):
    """The zygote could not be started or has died."""


class Spawner:
    """Owns the zygote process and the control socket to it: one per Python the fleet's functions need."""

    ACCEPTS = FROM_ZYGOTE  # what the process on the control socket may send
    LARGEST_MESSAGE = 65536
    RESTORES = False  # its cold starts run Init (a SnapStart snapshot's restore instead: execution/snapstart.py)

    def __init__(self, work_dir: Path, interpreter: Interpreter | None = None) -> None:
        self.work_dir = work_dir
        self.interpreter = interpreter or local_interpreter()
        self.process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._outbox: collections.deque[tuple[bytes, socket.socket | None]] = collections.deque()
        self._writer_armed = False
        # Exit reports nobody has asked for yet. A report can arrive before the supervisor has even
        # seen the worker's socket close, so they are kept (the newest EXITS_KEPT), not dropped on retire.
        self._exits: collections.OrderedDict[int, tuple[str, float]] = collections.OrderedDict()  # pid -> (how, when heard)
        self._exit_waiters: dict[int, asyncio.Future[str]] = {}
        # pid -> called once the zygote has reaped that worker. A handler's forked child can keep the
        # worker's socket open after the worker is gone: the exit report, not the socket, says it ended.
        self._exit_listeners: dict[int, Callable[[], None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._spare: tuple[int, socket.socket] | None = None  # (pid, our end of its worker socket)
        # The run's isolation (set by Zygotes before the start): which cgroups its children join; None: each
        # worker is a subreaper and holds its process group, nothing more.
        self.sandbox: Sandbox | None = None
        self._stat: tuple[int, int] | None = None  # (zygote pid, its /proc stat file, kept open): see `stopped`

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # A big send buffer lets a burst of spawn requests queue without blocking.
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        tree = None if self.interpreter.local else worker_tree(self.work_dir)
        self.process = subprocess.Popen(
            zygote_command(self.interpreter, tree, theirs.fileno())
            + (self.sandbox.zygote_arguments() if self.sandbox is not None else ["--subreaper"]),
            pass_fds=[theirs.fileno()],
            cwd=self.work_dir,
            start_new_session=True,  # Ctrl-C in the terminal must not reach workers; the supervisor stops them
            stdin=subprocess.DEVNULL,
            env=zygote_environment(),
        )
        theirs.close()
        ours.setblocking(False)
        self._control = ours
        self._loop.add_reader(ours.fileno(), self._on_readable)

    @property
    def spare_pid(self) -> int | None:
        """The spare the next cold start will take, once the zygote has said it is ready (None before)."""
        return self._spare[0] if self._spare is not None else None

    @property
    def alive(self) -> bool:
        return self._control is not None and self.process is not None and self.process.poll() is None

    @property
    def stopped(self) -> bool:
        """The zygote is stopped (a function sent it SIGSTOP: it is its workers' parent and so in reach)."""
        if self.process is None:
            return False
        try:
            # Asked at every cold start: the file stays open (a pread reads it afresh), an open per spawn cost
            # 5-40 µs of the loop in a burst. Opened for this process, so a restarted zygote gets its own.
            if self._stat is None or self._stat[0] != self.process.pid:
                if self._stat is not None:
                    os.close(self._stat[1])
                self._stat = (self.process.pid, os.open(f"/proc/{self.process.pid}/stat", os.O_RDONLY | os.O_CLOEXEC))
            return procfs.stat_fields(os.pread(self._stat[1], 1024, 0))[:1] in ([b"T"], [b"t"])
        except OSError:
            return False

    def current(self) -> Spawner:
        """The spawner a cold start starting now forks from: this one (a SnapStart version's says otherwise)."""
        return self

    async def wait_ready(self) -> None:
        """Wait until a cold start can be asked for (a zygote is always ready; a snapshot may still be taken)."""

    def spawn_snapshot(self, spec: WorkerSpec) -> socket.socket:
        """Ask for a SnapStart snapshot of `spec` (worker/snapstart.py); returns our end of its SOCK_SEQPACKET socket."""
        if not self.alive:
            self._restart()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        ours.setblocking(False)
        self._outbox.append((encode(SpawnRequest(encode(spec._replace(snapshot=True)))), theirs))
        self._flush()
        return ours

    def spawn(self, spec: WorkerSpec, ahead: bytes = b"") -> socket.socket:
        """Ask for a worker; returns the supervisor's end of the worker's socket.

        `ahead` (a small encoded message, at most PIPELINE_LIMIT) is queued on the
        socket with the spec, in the same write: the worker reads it after Init.
        """
        if not self.alive:
            self._restart()
        elif self.stopped and self.process is not None:
            # A stopped zygote would never fork: every cold start would wait out Init's limit.
            # Continued rather than replaced, so the warm workers it is the parent of live on.
            os.kill(self.process.pid, signal.SIGCONT)
        spec_frame = encode(spec)
        if self._spare is not None:
            _pid, ours = self._spare
            self._spare = None
            try:
                # One write, so the spare wakes once.
                _send_all_now(ours, spec_frame + ahead)
            except OSError:
                ours.close()  # the spare died just now; its exit report is already on its way
            else:
                self._outbox.append((encode(SpareTaken()), None))
                self._flush()
                return ours
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ours.setblocking(False)
        if ahead:
            _send_all_now(ours, ahead)  # the worker reads it when it starts; `theirs` is still open here
        self._outbox.append((encode(SpawnRequest(spec_frame)), theirs))
        self._flush()
        return ours

    def _flush(self) -> None:
        assert self._control is not None and self._loop is not None
        while self._outbox:
            data, theirs = self._outbox[0]
            try:
                socket.send_fds(self._control, [data], [theirs.fileno()] if theirs is not None else [])
            except BlockingIOError:
                if not self._writer_armed:
                    self._loop.add_writer(self._control.fileno(), self._flush)
                    self._writer_armed = True
                return
            except OSError:
                # The zygote is gone: the worker sockets see EOF and their invocations fail as crashes.
                self._outbox.popleft()
                if theirs is not None:
                    theirs.close()
                continue
            self._outbox.popleft()
            if theirs is not None:
                theirs.close()
        if self._writer_armed:
            self._loop.remove_writer(self._control.fileno())
            self._writer_armed = False

    def _on_readable(self) -> None:
        while self._control is not None:  # a message may end it (a SnapStart snapshot that failed)
            try:
                data, fds, _flags, _addr = socket.recv_fds(self._control, self.LARGEST_MESSAGE, 1)
            except BlockingIOError:
                return
            except OSError:
                data, fds = b"", []
            if not data:
                for fd in fds:
                    os.close(fd)
                self._detach()
                return
            try:
                message = decode_packet(data, self.ACCEPTS)
            except BadMessage:
                message = None  # dropped: nothing the zygote says is worth trusting blindly
            if isinstance(message, SpareReady) and fds:
                self._drop_spare()
                spare = socket.socket(fileno=fds.pop(0))
                spare.setblocking(False)
                self._spare = (message.pid, spare)
            elif isinstance(message, ChildExited):
                self._on_exit(message)
            elif message is not None:
                self._on_message(message)
            for fd in fds:
                os.close(fd)

    def _on_message(self, message: object) -> None:
        """A message of a kind only a subclass's process sends (ACCEPTS)."""

    def on_exit(self, pid: int, listener: Callable[[], None], since: float) -> None:
        """Call `listener` once worker `pid`, asked for at `since` (monotonic), has been reaped.

        Its report can come before the worker's own first message has been read (a handler
        that exits at once): one heard since the spawn is this worker's, and calls at once.
        One heard before is an earlier process's that nobody asked for: pids are reused.
        """
        kept = self._exits.get(pid)
        if kept is not None and kept[1] >= since:
            assert self._loop is not None
            self._loop.call_soon(listener)  # not from inside the channel's read that brought the pid
            return
        if kept is not None:
            del self._exits[pid]
        self._exit_listeners[pid] = listener

    def forget_exit(self, pid: int) -> None:
        self._exit_listeners.pop(pid, None)

    def _on_exit(self, exited: ChildExited) -> None:
        if self._spare is not None and self._spare[0] == exited.pid:
            self._drop_spare()
        waiter = self._exit_waiters.pop(exited.pid, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(exited.description)
        else:
            self._exits[exited.pid] = (exited.description, time.monotonic())
            while len(self._exits) > EXITS_KEPT:
                self._exits.popitem(last=False)
        listener = self._exit_listeners.pop(exited.pid, None)
        if listener is not None:
            listener()

    def _drop_spare(self) -> None:
        if self._spare is not None:
            self._spare[1].close()
            self._spare = None

    async def exit_status(self, pid: int, timeout: float = 2.0) -> str | None:
        """How worker `pid` ended ("exit status 1", "signal: killed"), once the zygote has reaped it."""
        if pid in self._exits:
            return self._exits.pop(pid)[0]
        assert self._loop is not None
        waiter = self._exit_waiters.setdefault(pid, self._loop.create_future())
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except TimeoutError:
            return None
        finally:
            self._exit_waiters.pop(pid, None)

    def _detach(self) -> None:
        self._drop_spare()
        if self._control is not None and self._loop is not None:
            self._loop.remove_reader(self._control.fileno())
            if self._writer_armed:
                self._loop.remove_writer(self._control.fileno())
                self._writer_armed = False
            self._control.close()
        self._control = None

    def _restart(self) -> None:
        self._detach()
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.start()

    async def stop(self, timeout: float = 5.0) -> None:
        """Close the control socket: the zygote kills every worker it has and exits."""
        self._detach()
        if self._stat is not None:
            os.close(self._stat[1])
            self._stat = None
        for _, theirs in self._outbox:
            if theirs is not None:
                theirs.close()
        self._outbox.clear()
        process = self.process
        if process is None:
            return
        await _exited(process, timeout)
        if process.poll() is None:
            process.kill()
            process.wait()
        for waiter in self._exit_waiters.values():
            if not waiter.done():
                waiter.cancel()
        self._exit_waiters.clear()

    def kill_now(self) -> None:
        """Last resort at interpreter exit: no loop, barely any waiting.

        SIGTERM first: the zygote kills every worker's process group (what handlers started
        too) and exits; SIGKILL if it has not within a moment.
        """
        process = self.process
        if process is None or process.poll() is not None:
            return
        for signum in (signal.SIGCONT, signal.SIGTERM):  # a stopped zygote would not act on SIGTERM
            try:
                os.kill(process.pid, signum)
            except ProcessLookupError:
                return
        try:
            process.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                process.kill()


# What the zygote is started with. Workers replace os.environ wholesale, but /proc/self/environ
# keeps the exec-time environment of the zygote they fork from: the host's secrets must not be in it.
# TMPDIR: a path, not a secret; it tells whose run a stray process came from (the tests' orphan check).
ZYGOTE_PASSED = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")


def zygote_environment(host: dict[str, str] | None = None) -> dict[str, str]:
    """The host's environment cut to what starting Python needs (and the locale and zone it runs in)."""
    source = os.environ if host is None else host
    return {key: source[key] for key in ZYGOTE_PASSED if key in source}


def _send_all_now(sock: socket.socket, data: bytes) -> None:
    """Write all of `data` to a fresh worker socket: its empty buffer takes a spec and a small
    request at once; anything beyond that (never expected) is written blocking, not dropped."""
    sent = sock.send(data)
    if sent < len(data):
        sock.setblocking(True)
        try:
            sock.sendall(memoryview(data)[sent:])
        finally:
            sock.setblocking(False)


async def _exited(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Until `process` has exited (at most `timeout`): woken by its pidfd, not a poll every few milliseconds
    (every fleet's stop waits for its zygotes, a one-shot command's included)."""
    if process.poll() is not None:
        return
    loop = asyncio.get_running_loop()
    try:
        pidfd = os.pidfd_open(process.pid)
    except OSError:  # a kernel before 5.3
        deadline = loop.time() + timeout
        while process.poll() is None and loop.time() < deadline:
            await asyncio.sleep(0.01)
        return
    ended: asyncio.Future[None] = loop.create_future()

    def on_exit() -> None:
        if not ended.done():
            ended.set_result(None)

    loop.add_reader(pidfd, on_exit)
    try:
        await asyncio.wait_for(ended, timeout)
    except TimeoutError:
        pass
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)
