"""SnapStart on the supervisor side: a published version's snapshot, and cold starts that restore from it.

`SnapshotSpawner` takes the place of the zygote for one SnapStart version's
pool. When the version is published it asks the zygote for the snapshot (a
child that runs the version's Init and before-snapshot hooks, then forks:
worker/snapstart.py) and, once that Init is done, every cold start of the
version is a fork of the snapshot: Restore instead of Init.

    CREATING ──► READY ──► (the snapshot died: LOST ──► CREATING, taken again)
        └──────► FAILED   (Init or a before-snapshot hook failed, or Init ran out of time)

While there is no snapshot (CREATING is awaited; FAILED and LOST are not)
cold starts go to the zygote and run Init as usual, so a broken snapshot
shows its error and the version still answers.
"""

from __future__ import annotations

import asyncio
import enum
import os
import signal
import socket
from collections.abc import Awaitable, Callable

from lambdatop.runtime.execution import procfs
from lambdatop.runtime.execution.spawner import Spawner
from lambdatop.runtime.worker.messages import FROM_SNAPSHOT, InitDone, Started, WorkerSpec

Notify = Callable[[str, str], None]  # (kind "snapshot" or "warning", message)


def snapstart_init_limit(timeout_s: int) -> float:
    """SnapStart's Init limit: max(130 s, the function timeout), not the on-demand 10 s (LAMBDA.md §1)."""
    return float(max(130, min(timeout_s, 900)))


class SnapshotState(enum.StrEnum):
    CREATING = "creating"
    READY = "ready"
    FAILED = "failed"
    LOST = "lost"


class SnapshotSpawner(Spawner):
    """The SnapStart snapshot of one published version: it forks that version's environments once it is ready."""

    ACCEPTS = FROM_SNAPSHOT
    RESTORES = True
    LARGEST_MESSAGE = 1 << 20  # its InitDone carries Init's output (at most snapstart.INIT_LOGS_KEPT characters)

    def __init__(self, base: Spawner, label: str, notify: Notify) -> None:
        super().__init__(base.work_dir, base.interpreter)
        self.base = base  # the zygote: forks the snapshot, and the version's environments while there is none
        self.sandbox = base.sandbox
        self.label = label  # "hello:3", for messages
        self.notify = notify
        self.state = SnapshotState.CREATING
        self.init: InitDone | None = None  # the snapshot's Init, once done
        self.failure: str | None = None
        self.snapshot_pid: int | None = None
        self.restores = 0
        self._make_spec: Callable[[], Awaitable[WorkerSpec]] | None = None
        self._init_limit = 0.0
        self._ready: asyncio.Event | None = None
        self._taking: asyncio.Task[None] | None = None
        self._closed = False

    # -- taking the snapshot -------------------------------------------------------------

    def begin(self, make_spec: Callable[[], Awaitable[WorkerSpec]], init_limit: float) -> None:
        """Start taking the snapshot (at publish) of the spec `make_spec` gives once the function's packages are
        installed; cold starts wait for it (`wait_ready`)."""
        self._make_spec, self._init_limit = make_spec, init_limit
        self.state, self.init, self.failure, self.snapshot_pid = SnapshotState.CREATING, None, None, None
        self._ready = asyncio.Event()
        self._taking = asyncio.get_running_loop().create_task(self.take())

    async def take(self) -> None:
        """Run the version's Init in a new snapshot process and wait for it (at most the Init limit)."""
        assert self._make_spec is not None and self._ready is not None
        self._loop = asyncio.get_running_loop()
        init_limit = self._init_limit
        try:
            spec = await self._make_spec()
        except Exception as exc:  # noqa: BLE001 - an install that failed: the cold starts say why, as without SnapStart
            self._fail(f"its packages could not be installed: {exc}")
            self._ready.set()
            return
        control = self.base.spawn_snapshot(spec)
        self._control = control
        self._loop.add_reader(control.fileno(), self._on_readable)
        try:
            await asyncio.wait_for(self._ready.wait(), init_limit)
        except TimeoutError:
            self._fail(f"Init did not finish within {init_limit:.0f} s (SnapStart's Init limit)")
            self._kill_snapshot()
        finally:
            self._ready.set()  # nobody waits on a snapshot that will not come

    def _on_message(self, message: object) -> None:
        if isinstance(message, Started) and self.snapshot_pid is None:
            self.snapshot_pid = message.pid
        elif isinstance(message, InitDone) and self.state is SnapshotState.CREATING:
            self.init = message
            if message.error is not None:
                kind = message.problem.error_type if message.problem is not None else message.error.error_type
                self._fail(f"{kind}: {message.error.error_message}")
            else:
                self.state = SnapshotState.READY
                self.notify("snapshot", f"{self.label}: SnapStart snapshot taken (Init Duration: {message.init_ms:.2f} ms)")
            if self._ready is not None:
                self._ready.set()

    def _fail(self, why: str) -> None:
        self.state, self.failure = SnapshotState.FAILED, why
        self.notify("warning", f"{self.label}: SnapStart snapshot failed ({why}); its cold starts run Init instead")
        self._detach()

    def _kill_snapshot(self) -> None:
        """Kill a snapshot stuck in Init: its process group, once its pid is known to be the zygote's own child."""
        if not self._running():
            return  # the pid came from a process running user code: only a verified child of ours is killed
        assert self.snapshot_pid is not None
        try:
            os.killpg(self.snapshot_pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    # -- cold starts -----------------------------------------------------------------------

    def current(self) -> Spawner:
        if self.state is SnapshotState.READY and self._control is not None and not self._running():
            self._detach()  # killed from outside, its end of stream not read yet: LOST now, taken again
        return self if self.state is SnapshotState.READY and self._control is not None else self.base

    def _running(self) -> bool:
        """The snapshot process is alive and the zygote's child (a cold start's /proc read: ~20 µs)."""
        pid = self.snapshot_pid
        return pid is not None and self.base.pid is not None and _parent_of(pid) == self.base.pid

    async def wait_ready(self) -> None:
        if self.state is SnapshotState.CREATING and self._ready is not None:
            await self._ready.wait()

    def spawn(self, spec: WorkerSpec, ahead: bytes = b"") -> socket.socket:
        if self.state is not SnapshotState.READY or self._control is None:  # lost since `current()`
            return self.base.spawn(spec, ahead)
        self.restores += 1
        return super().spawn(spec, ahead)

    @property
    def alive(self) -> bool:
        return self._control is not None

    @property
    def stopped(self) -> bool:
        return False

    @property
    def pid(self) -> int | None:
        return self.snapshot_pid

    def _detach(self) -> None:
        super()._detach()
        if self.state is SnapshotState.READY and not self._closed:
            # Killed from outside (lambdatop's own snapshots never die otherwise): take it again; cold starts
            # run Init meanwhile. Its restored environments died with it (PDEATHSIG).
            self.state = SnapshotState.LOST
            self.notify("warning", f"{self.label}: the SnapStart snapshot process ended; taking it again")
            if self._make_spec is not None:
                self.begin(self._make_spec, self._init_limit)

    def _restart(self) -> None:
        raise RuntimeError("a snapshot is taken again by take(), never restarted in place")

    # -- the end -------------------------------------------------------------------------

    def close(self) -> None:
        """The version is gone: the snapshot kills the environments it restored and exits."""
        self._closed = True
        if self._taking is not None and not self._taking.done():
            self._taking.cancel()
        self._detach()
        if self.state is SnapshotState.CREATING:
            self._kill_snapshot()  # still in Init: it would not hear the socket close

    async def stop(self, timeout: float = 5.0) -> None:
        self.close()

    def kill_now(self) -> None:
        self.close()


def _parent_of(pid: int) -> int | None:
    """The parent of a live process (None for one gone, or dead and not yet reaped)."""
    fields = procfs.stat_of(pid)
    if len(fields) < 2 or fields[0] in (b"Z", b"X"):
        return None
    return int(fields[1])


def describe(spawner: Spawner) -> str | None:
    """A pool's SnapStart line for the screen ("snapshot ready · Init 1003 ms · 4 restores"), None without SnapStart."""
    if not isinstance(spawner, SnapshotSpawner):
        return None
    parts = [f"snapshot {spawner.state}"]
    if spawner.init is not None and spawner.init.error is None:
        parts.append(f"Init {spawner.init.init_ms:.0f} ms")
    parts.append(f"{spawner.restores} restore{'s' if spawner.restores != 1 else ''}")
    if spawner.failure:
        parts.append(spawner.failure)
    return " · ".join(parts)

