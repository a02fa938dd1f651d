"""A run's work directory (`lambdatop-XXXXXXXX` in the temp folder), and the sweep of those dead runs left.

A run removes its own at exit; a run killed with SIGKILL, or one that crashed,
cannot. Each directory holds OWNER_FILE naming its process (pid and start
time, since pids are reused); the next run removes every one whose process is
gone. Directories without that file are left alone: they are not known to be ours.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from lambdatop.runtime.execution import procfs

PREFIX = "lambdatop-"
OWNER_FILE = ".owner"


def create_work_dir() -> Path:
    """Sweep what dead runs left, then make this run's directory (private: 0700, as mkdtemp makes it)."""
    sweep_dead_runs(Path(tempfile.gettempdir()))
    path = Path(tempfile.mkdtemp(prefix=PREFIX))
    (path / OWNER_FILE).write_text(f"{os.getpid()} {start_time(os.getpid())}\n")
    return path


def sweep_dead_runs(folder: Path) -> list[Path]:
    """Remove the work directories under `folder` whose owning process is gone; returns them."""
    removed: list[Path] = []
    try:
        candidates = [entry for entry in folder.iterdir() if entry.name.startswith(PREFIX)]
    except OSError:
        return removed
    for entry in candidates:
        try:
            if entry.is_symlink() or not entry.is_dir() or entry.stat().st_uid != os.getuid():
                continue
            pid_text, _, started = (entry / OWNER_FILE).read_text().strip().partition(" ")
            pid = int(pid_text)
        except (OSError, ValueError):
            continue  # no owner file (an older version's, or not ours): not known to be dead
        if not process_running(pid, started):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def process_running(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process holds that pid now: the run that wrote it may still be alive
    return start_time(pid) == started  # a reused pid has another start time


def start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or '' off Linux."""
    fields = procfs.stat_of(pid)
    return fields[19].decode() if len(fields) > 19 else ""
