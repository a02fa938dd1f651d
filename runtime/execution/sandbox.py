"""What holds an execution environment together, as Lambda's sandbox does: everything its code starts is frozen,
counted and killed with it.

    isolation                what an environment is              freeze / memory / kill reach
    ───────────────────────  ──────────────────────────────────  ──────────────────────────────────────────
    cgroup v1 (or v2)        a cgroup per worker (cgroups.py),   every process in the cgroup, a setsid
                             joined before any function code     daemon too; the memory size is also the
                                                                 cgroup's hard limit (kernel OOM kill)
    none                     the worker's process group, the     the group, and the worker's descendants
                             worker a child subreaper            (a double-forked daemon is re-parented
                                                                 to the worker, so it stays one)

`LAMBDATOP_CGROUPS` = v1, v2 or none forces a choice (tests cover each);
unset, v1 is taken where writable, else v2, else none. Which one a run got
is said at start (`Sandbox.describe`) and in the snapshot.

Freezing signals every process of the environment (SIGSTOP/SIGCONT), read
from its cgroup.procs (2 µs through a descriptor kept open on v2, 15 µs on v1,
which must open it again for a fresh list), rather than
writing the freezer's state: that write took 150-400 µs per thaw and up to
3 ms per freeze here (v1), on the warm path of every invocation that is not
back to back. Killing uses the cgroup (v2 `cgroup.kill`; v1 the freezer, so
nothing forks while the processes are killed).
"""

from __future__ import annotations

import asyncio
import enum
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from lambdatop.runtime.execution import cgroups
from lambdatop.runtime.execution.cgroups import Hierarchy

FORCE_VARIABLE = "LAMBDATOP_CGROUPS"
LAMBDA_MB_PER_VCPU = 1769  # Lambda: "at 1,769 MB, a function has the equivalent of one vCPU"
_MAX_TREE = 256  # processes walked per environment: a fork bomb must not make the supervisor itself slow
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


class Isolation(enum.StrEnum):
    V1 = "cgroup v1"
    V2 = "cgroup v2"
    NONE = "none: subreaper + process group"


@dataclass(frozen=True)
class SandboxInfo:
    """What this run's environments are held by (the snapshot's copy)."""

    isolation: Isolation
    memory_limit: bool  # the memory size is a hard limit of the environment's cgroup
    cpu_quota: bool  # `cpu: proportional` can be applied
    where: str  # the run's cgroup folders, or why there are none

    def describe(self) -> str:
        if self.isolation is Isolation.NONE:
            return (f"isolation: {self.isolation.value} ({self.where}); memory is sampled, not a hard limit, "
                    "and `cpu: proportional` cannot be applied")
        held = ["freeze", "kill"] + (["memory limit"] if self.memory_limit else []) + (["cpu quota"] if self.cpu_quota else [])
        missing = [] if self.cpu_quota else ["`cpu: proportional` cannot be applied here (no writable cpu controller)"]
        return f"isolation: {self.isolation.value} ({', '.join(held)}) under {self.where}" + "".join(f"; {m}" for m in missing)


class Sandbox:
    """This run's isolation: found (and its cgroup folders made) at construction, removed by `close`."""

    def __init__(self, choice: str | None = None) -> None:
        choice = (os.environ.get(FORCE_VARIABLE, "") if choice is None else choice).strip().lower() or "auto"
        self.hierarchies: list[Hierarchy] = []
        isolation, reason = Isolation.NONE, "no writable cgroup"
        if choice == "none":
            reason = f"{FORCE_VARIABLE}=none"
        if choice in ("auto", "v1") and (found := cgroups.find_v1()):
            self.hierarchies, isolation = found, Isolation.V1
        elif choice in ("auto", "v2") and (found := cgroups.find_v2()):
            self.hierarchies, isolation = found, Isolation.V2
        controls = {control for h in self.hierarchies for control in h.controls}
        where = ", ".join(str(h.run_folder) for h in self.hierarchies) or reason
        self.info = SandboxInfo(isolation, "memory" in controls, "cpu" in controls, where)
        # Folders of retired environments not yet empty (their processes were still exiting): removed later.
        self._leftovers: list[Path] = []

    @property
    def isolation(self) -> Isolation:
        return self.info.isolation

    def describe(self) -> str:
        return self.info.describe()

    def zygote_arguments(self) -> list[str]:
        """What a zygote is told: the folders its children join, or to make each worker a subreaper."""
        if not self.hierarchies:
            return ["--subreaper"]
        return [item for hierarchy in self.hierarchies for item in ("--cgroup", str(hierarchy.run_folder))]

    def environment(self, pid: int) -> EnvironmentGroup:
        if self._leftovers:
            leftovers = self._leftovers[:]
            self._leftovers.clear()  # in place: every environment's group holds this list
            _remove_soon(leftovers, self._leftovers)
        return EnvironmentGroup(pid, [h.environment(pid) for h in self.hierarchies], self._leftovers,
                                reread=self.isolation is Isolation.V1)

    def close(self) -> bool:
        """Remove this run's cgroup folders (killing what is left in them); False if one could not be removed."""
        done = cgroups.remove_run_folders(self.hierarchies)
        if done:
            self.hierarchies = []
        return done


class EnvironmentGroup:
    """The processes of one environment: its cgroup's, or (without cgroups) its worker's group and descendants."""

    def __init__(self, pid: int, folders: list[Path], leftovers: list[Path] | None = None, *, reread: bool = False) -> None:
        self.pid = pid
        self.folders = folders  # one per hierarchy the worker joined; [] without cgroups
        # v2's cgroup.procs is listed afresh on each read from offset 0 of one descriptor; v1 keeps a list per
        # cgroup for a second after its last read (its "pidlist"), so there each read opens the file again.
        self._reread = reread
        self._leftovers = leftovers if leftovers is not None else []
        self._procs_fd: int | None = None
        self._oom_fd: int | None = None  # its memory cgroup's counters (v1 memory.oom_control, v2 memory.events)
        self._oom_known = not folders  # whether the memory folder has been looked for
        self._oom_at_release: int | None = None  # the count when the group was released (its folders go then)
        self._stopped: set[int] | None = None  # what the last SIGSTOP stopped, until the SIGCONT that continues it

    def pids(self) -> list[int]:
        """Every process of the environment now (the worker first)."""
        if not self.folders:
            return _tree(self.pid)
        try:
            if self._reread:
                with open(self.folders[0] / "cgroup.procs", "rb") as procs:
                    listed = procs.read(1 << 16).split()
            else:
                if self._procs_fd is None:
                    self._procs_fd = os.open(self.folders[0] / "cgroup.procs", os.O_RDONLY | os.O_CLOEXEC)
                listed = os.pread(self._procs_fd, 1 << 16, 0).split()
            return [int(pid) for pid in listed[:_MAX_TREE]]
        except (OSError, ValueError):
            return []

    def signal(self, signum: int) -> None:
        """Send `signum` to every process of the environment; for SIGSTOP, until no new one appears (a fork meanwhile).

        SIGCONT goes to the processes the last SIGSTOP stopped, without listing them again: a stopped
        process cannot fork, so that list is the whole environment, and on v1 each listing opens
        cgroup.procs afresh (~15 µs of every thaw on the HTTP path's warm invocations).
        """
        try:
            os.killpg(self.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass
        if signum == signal.SIGCONT and self._stopped is not None:
            stopped, self._stopped = self._stopped, None
            for pid in stopped:
                try:
                    os.kill(pid, signum)
                except ProcessLookupError:
                    pass
            return
        sent: set[int] = set()
        for _ in range(4 if signum == signal.SIGSTOP else 1):
            new = [pid for pid in self.pids() if pid not in sent]
            if not new:
                break
            for pid in new:
                try:
                    os.kill(pid, signum)
                except ProcessLookupError:
                    pass
            sent.update(new)
            # Another look catches a process forked between the listing and its stop. Not needed when every one
            # is in the worker's process group: the killpg above reached them and whatever they were forking
            # (the kernel delivers a group's signal to a fork's parent and child both, or restarts the fork).
            if signum == signal.SIGSTOP and all(_in_group(pid, self.pid) for pid in new):
                break
        self._stopped = sent if signum == signal.SIGSTOP else None

    def kill(self) -> None:
        """SIGKILL all of it: the cgroup's processes (cgroups.kill_all), or the group and then each descendant."""
        if not self.folders:
            # Stopped first, so nothing forks; then the descendants before the worker: a worker killed
            # first would hand its orphans (a setsid daemon) to the zygote before they are found.
            self.signal(signal.SIGSTOP)
            for pid in reversed(self.pids()):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            return
        freezer = next((folder for folder in self.folders if (folder / "freezer.state").exists()), None)
        cgroups.kill_all(self.folders[0], freezer)
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def rss_kb(self) -> int:
        """RSS of every process of the environment, in KB; 0 if the worker is gone."""
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/statm", "rb") as statm:
                    total += int(statm.read().split()[1]) * _PAGE_KB
            except (OSError, IndexError, ValueError):
                if pid == self.pid:
                    return 0
        return total

    def adopt_oom_counter(self, fd: int) -> bool:
        """Take the OOM counter the worker opened in its own memory cgroup (worker/confinement.py's join), sparing
        the loop the first open; False (not taken) without a memory cgroup here. It only reads the environment's own count."""
        if not self.folders or self._oom_known:
            return False
        self._oom_fd, self._oom_known = fd, True
        return True

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer took from this environment (its memory cgroup's count).

        Read after every invocation (2 µs through the descriptor kept open): a handler whose child
        the kernel killed can answer before the memory sampler looks again.
        """
        if self._oom_at_release is not None:
            return self._oom_at_release
        if not self._oom_known:
            self._oom_known = True
            for path in (folder / name for folder in self.folders for name in ("memory.oom_control", "memory.events")):
                try:
                    self._oom_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                    break
                except OSError:
                    continue
        if self._oom_fd is None:
            return 0
        try:
            text = os.pread(self._oom_fd, 4096, 0)
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(b" ")
            if key == b"oom_kill":
                return int(value)
        return 0

    def release(self) -> None:
        """Close our descriptors and remove the folders if they are empty (the run's close removes the rest).

        The OOM count is kept: the invocation's error is decided after its environment was retired.
        """
        if self._oom_at_release is None:
            self._oom_at_release = self.oom_kills()
        for fd in (self._procs_fd, self._oom_fd):
            if fd is not None:
                os.close(fd)
        self._procs_fd = self._oom_fd = None
        self._oom_known = True
        _remove_soon(self.folders, self._leftovers)


def _in_group(pid: int, pgid: int) -> bool:
    try:
        return os.getpgid(pid) == pgid
    except ProcessLookupError:
        return True  # gone: nothing left to stop


def _remove_soon(folders: list[Path], leftovers: list[Path]) -> None:
    """Remove retired environments' cgroup folders in a thread, off the event loop: an rmdir on cgroupfs takes
    0.1-0.3 ms each (three per environment on v1), which a burst of retirements paid in one loop turn. One
    still busy (its processes still exiting) joins `leftovers`, tried again at the next environment's start."""
    if not folders:
        return

    def remove() -> None:
        busy = [folder for folder in folders if not cgroups.try_rmdir(folder)]
        leftovers.extend(busy)  # one list operation, atomic under the GIL

    try:
        asyncio.get_running_loop().run_in_executor(None, remove)
    except RuntimeError:  # no loop (the last resort at exit): at once
        remove()


def cpu_share(memory_mb: int) -> float:
    """The CPUs an environment of `memory_mb` gets on Lambda (one at 1,769 MB), at most this machine's."""
    return min(memory_mb / LAMBDA_MB_PER_VCPU, float(os.cpu_count() or 1))


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants, from the main threads' children lists; [] if `pid` is gone."""
    found: list[int] = []
    pending = [pid]
    while pending and len(found) < _MAX_TREE:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/task/{current}/children", "rb") as children:
                pending.extend(int(child) for child in children.read().split())
        except (OSError, ValueError):
            if current == pid:
                return []
            continue
        found.append(current)
    return found
