"""The worker's side of its sandbox: join its own cgroup, apply its limits, and (in the zygote) take every one down.

The supervisor finds the cgroup hierarchies and makes this run's folder in
each (runtime/execution/cgroups.py); the zygote is started with those folders
(`--cgroup ROOT`, one per hierarchy) or with `--subreaper` when none is
writable. A new child makes `ROOT/<its pid>` in each and moves itself there
before any code of the function runs, so nothing a handler starts can be born
outside it. A spare does this ahead of need: moving a process between cgroups
waits for an RCU grace period (12-25 ms measured per hierarchy on cgroup v1),
which a cold start that takes a spare then does not pay.

Limits come with the spec (its memory size and CPU share): the worker writes
them into its own folder before Init. Whichever files the folder has say
which version it is (v1 `memory.limit_in_bytes`, v2 `memory.max`).

Imports nothing of the supervisor (see runtime/worker/__init__.py).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Collection, Sequence

CPU_PERIOD_US = 100_000


def parse_arguments(arguments: Sequence[str]) -> tuple[tuple[str, ...], bool]:
    """The zygote's sandbox arguments: (the run's cgroup folders, whether to be a subreaper instead)."""
    roots: list[str] = []
    subreaper = False
    items = iter(arguments)
    for item in items:
        if item == "--cgroup":
            roots.append(next(items, ""))
        elif item == "--subreaper":
            subreaper = True
    return tuple(root for root in roots if root), subreaper


_oom_counter: int | None = None  # this process's memory cgroup's OOM counter, opened at join for the supervisor


def join(roots: Sequence[str]) -> None:
    """Make this process's own cgroup under each root and move into it (raises OSError if one cannot be joined).

    Then opens the memory cgroup's OOM counter (v1 memory.oom_control, v2 memory.events), which the
    supervisor reads after every invocation: its first open costs 0.1-0.5 ms on cgroupfs, paid here (by
    a spare, ahead of need) instead of on the supervisor's loop at each cold start (`oom_counter`).
    """
    global _oom_counter
    pid = str(os.getpid())
    for root in roots:
        folder = os.path.join(root, pid)
        try:
            os.mkdir(folder)
        except FileExistsError:
            pass  # a pid reused before the supervisor removed the last one's folder: joined all the same
        with open(os.path.join(folder, "cgroup.procs"), "w") as procs:
            procs.write(pid)
    if _oom_counter is not None:  # the parent's (a SnapStart snapshot's), inherited by the fork
        os.close(_oom_counter)
        _oom_counter = None
    for root in roots:
        for name in ("memory.oom_control", "memory.events"):
            try:
                _oom_counter = os.open(os.path.join(root, pid, name), os.O_RDONLY | os.O_CLOEXEC)
                return
            except OSError:
                continue


def oom_counter() -> list[int]:
    """The OOM counter's descriptor, to send with `Started` ([] without a memory cgroup)."""
    return [] if _oom_counter is None else [_oom_counter]


def apply_limits(roots: Sequence[str], memory_mb: int, cpu_share: float) -> None:
    """Write the memory size (and, when `cpu_share` > 0, a CPU quota of that many CPUs) into this process's cgroups."""
    pid = str(os.getpid())
    limit = str(memory_mb * 1024 * 1024)
    quota = max(1000, int(cpu_share * CPU_PERIOD_US))
    for root in roots:
        folder = os.path.join(root, pid)
        # v1: memory+swap may not be below memory, so a raise goes memsw first and a cut memory first
        # (a folder left by an earlier process of this pid keeps its limits).
        try:
            _write_if_there(folder, "memory.limit_in_bytes", limit)
        except OSError:
            _write_if_there(folder, "memory.memsw.limit_in_bytes", limit)
            _write_if_there(folder, "memory.limit_in_bytes", limit)
        _write_if_there(folder, "memory.memsw.limit_in_bytes", limit)
        _write_if_there(folder, "memory.max", limit)  # v2
        _write_if_there(folder, "memory.swap.max", "0")
        _write_if_there(folder, "memory.oom.group", "1")  # v2: the OOM killer takes the whole environment
        if cpu_share > 0:
            _write_if_there(folder, "cpu.cfs_period_us", str(CPU_PERIOD_US))
            _write_if_there(folder, "cpu.cfs_quota_us", str(quota))
            _write_if_there(folder, "cpu.max", f"{quota} {CPU_PERIOD_US}")


def _write_if_there(folder: str, name: str, value: str) -> None:
    path = os.path.join(folder, name)
    if os.path.exists(path):
        with open(path, "w") as out:
            out.write(value)


def group_exists(pgid: int) -> bool:
    """Whether any process of the group is left (the zygote, a subreaper, reaps a dead worker's orphans)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_ended(roots: Sequence[str]) -> bool:
    """The run's cgroup folders are gone: its zygotes are shutting down (the first one's end removes them)."""
    return any(not os.path.isdir(root) for root in roots)


def kill_everything(roots: Sequence[str], only: Collection[int] | None = None) -> None:
    """In the zygote at its end: SIGKILL every process in every environment's cgroup (`only`: in those of
    these workers), then remove the folders.

    A daemon a handler double-forked (setsid) left its worker's process group;
    its cgroup still holds it. What cannot be removed yet is left for the
    supervisor's stop, or for the next run's sweep.
    """
    for root in roots:
        try:
            folders = [entry.path for entry in os.scandir(root) if entry.is_dir(follow_symlinks=False)
                       and (only is None or (entry.name.isdigit() and int(entry.name) in only))]
        except OSError:
            continue
        for folder in folders:
            for _ in range(3):  # a fork between our read and our kill is caught by the next round
                pids = _procs(folder)
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            _thaw(folder)


def remove_folders(roots: Sequence[str], wait_s: float = 1.0) -> None:
    """Remove the environments' folders and the run's, waiting up to `wait_s` for the killed to exit.

    Called once every environment's processes were killed (kill_everything): a folder stays busy only
    until its processes have exited, or while another zygote of the run is still at work in it.
    """
    deadline = time.monotonic() + wait_s
    for root in roots:
        while True:
            try:
                folders = [entry.path for entry in os.scandir(root) if entry.is_dir(follow_symlinks=False)]
            except OSError:
                break
            busy = [folder for folder in folders if not _rmdir(folder)]
            if (not busy and _rmdir(root)) or time.monotonic() > deadline:
                break
            time.sleep(0.01)


def _rmdir(path: str) -> bool:
    try:
        os.rmdir(path)
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


def _thaw(folder: str) -> None:
    """Frozen tasks act on SIGKILL only once thawed (the v1 freezer)."""
    try:
        _write_if_there(folder, "freezer.state", "THAWED")
        _write_if_there(folder, "cgroup.freeze", "0")
    except OSError:
        pass


def _procs(folder: str) -> list[int]:
    try:
        with open(os.path.join(folder, "cgroup.procs")) as procs:
            return [int(line) for line in procs.read().split()]
    except (OSError, ValueError):
        return []
