"""Linux control groups for execution environments: find the writable ones, make this run's folders, sweep dead runs'.

    <hierarchy>/<lambdatop's own cgroup>/lambdatop-<pid>-<start>/<worker pid>
                                         └ this run's folder      └ one environment (made by the worker itself,
                                                                    runtime/worker/confinement.py)

Folders go under lambdatop's own cgroup in each hierarchy, never the root:
the limits the machine puts on lambdatop then hold for its functions too.
cgroup v1 is used where its memory controller is mounted and writable (the
memory, freezer and cpu hierarchies), else v2 (its core freeze and kill, and
the memory and cpu controllers if they can be enabled below us). A run removes
its folders at exit; `sweep` removes those of runs whose process is gone, at
the next start (named by pid and start time, as the work directories are).
"""

from __future__ import annotations

import enum
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from lambdatop.runtime.execution.workdir import process_running, start_time

RUN_PREFIX = "lambdatop-"
V1_CONTROLLERS = ("memory", "freezer", "cpu")


class Version(enum.StrEnum):
    V1 = "v1"
    V2 = "v2"


@dataclass(frozen=True)
class Hierarchy:
    """One cgroup hierarchy this run uses: its run folder and what it controls (v1: one controller each)."""

    version: Version
    run_folder: Path
    controls: frozenset[str]  # "memory", "cpu", "freezer", "kill" (v2's cgroup.kill)

    def environment(self, pid: int) -> Path:
        return self.run_folder / str(pid)


def run_folder_name(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{RUN_PREFIX}{pid}-{start_time(pid)}"


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, file system type, options) of each cgroup mount."""
    found = []
    try:
        with open("/proc/self/mounts") as mounts:
            for line in mounts:
                parts = line.split()
                if len(parts) >= 4 and parts[2] in ("cgroup", "cgroup2"):
                    found.append((parts[1].replace("\\040", " "), parts[2], set(parts[3].split(","))))
    except OSError:
        pass
    return found


def _own_paths() -> dict[str, str]:
    """This process's cgroup per v1 controller, and v2's under the key ""."""
    paths: dict[str, str] = {}
    try:
        with open("/proc/self/cgroup") as cgroup:
            for line in cgroup:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                for controller in controllers.split(",") if controllers else [""]:
                    paths[controller] = path
    except (OSError, ValueError):
        pass
    return paths


def find_v1(pid: int | None = None) -> list[Hierarchy]:
    """This run's folders in the v1 memory, freezer and cpu hierarchies (made now); [] without a writable memory one."""
    own = _own_paths()
    made: list[Hierarchy] = []
    for controller in V1_CONTROLLERS:
        mount = next((point for point, kind, options in _mounts() if kind == "cgroup" and controller in options), None)
        if mount is None or controller not in own:
            continue
        parent = Path(mount) / own[controller].lstrip("/")
        sweep(parent)
        folder = parent / run_folder_name(pid)
        try:
            folder.mkdir(exist_ok=True)
        except OSError:
            continue
        made.append(Hierarchy(Version.V1, folder, frozenset({controller})))
    if not any("memory" in h.controls for h in made):
        remove_run_folders(made)
        return []
    return made


def find_v2(pid: int | None = None) -> list[Hierarchy]:
    """This run's folder in the v2 hierarchy, with the controllers it could enable below it; [] if not writable."""
    mount = next((point for point, kind, _ in _mounts() if kind == "cgroup2"), None)
    own = _own_paths().get("")
    if mount is None or own is None:
        return []
    parent = Path(mount) / own.lstrip("/")
    sweep(parent)
    folder = parent / run_folder_name(pid)
    try:
        folder.mkdir(exist_ok=True)
    except OSError:
        return []
    wanted = {"memory", "cpu"} & set(_read(parent / "cgroup.controllers").split())
    for controller in wanted - set(_read(parent / "cgroup.subtree_control").split()):
        _try_write(parent / "cgroup.subtree_control", f"+{controller}")  # refused if our own cgroup holds processes
    enabled = wanted & set(_read(parent / "cgroup.subtree_control").split())
    for controller in enabled:
        _try_write(folder / "cgroup.subtree_control", f"+{controller}")
    controls = enabled & set(_read(folder / "cgroup.subtree_control").split())
    if (folder / "cgroup.freeze").exists():
        controls.add("freezer")
    if (folder / "cgroup.kill").exists():
        controls.add("kill")
    return [Hierarchy(Version.V2, folder, frozenset(controls))]


def run_folders_of(pid: int) -> list[Path]:
    """The run folders process `pid` made that still exist, in every hierarchy under our own cgroups."""
    own = _own_paths()
    found: list[Path] = []
    for point, kind, options in _mounts():
        key = "" if kind == "cgroup2" else next((c for c in V1_CONTROLLERS if c in options), None)
        if key is None or key not in own:
            continue
        parent = Path(point) / own[key].lstrip("/")
        try:
            found += [entry for entry in parent.iterdir() if entry.name.startswith(f"{RUN_PREFIX}{pid}-")]
        except OSError:
            continue
    return found


def remove_run_folders(hierarchies: list[Hierarchy], wait_s: float = 2.0) -> bool:
    """Kill what is left in each environment's folder, then remove them and the run folders; False if one stayed."""
    deadline = time.monotonic() + wait_s
    for hierarchy in hierarchies:
        if not _remove_tree(hierarchy.run_folder, deadline):
            return False
    return True


def sweep(parent: Path) -> list[Path]:
    """Remove the run folders under `parent` whose process is gone (a run killed with SIGKILL); returns them."""
    removed: list[Path] = []
    try:
        entries = [entry for entry in parent.iterdir() if entry.name.startswith(RUN_PREFIX) and entry.is_dir()]
    except OSError:
        return removed
    for entry in entries:
        pid_text, _, started = entry.name[len(RUN_PREFIX):].partition("-")
        try:
            pid = int(pid_text)
        except ValueError:
            continue
        if not process_running(pid, started) and _remove_tree(entry, time.monotonic() + 1.0):
            removed.append(entry)
    return removed


def _remove_tree(folder: Path, deadline: float) -> bool:
    try:
        environments = [entry for entry in folder.iterdir() if entry.is_dir()]
    except FileNotFoundError:
        return True
    except OSError:
        return False
    for environment in environments:
        kill_all(environment)
    while True:
        left = [env for env in environments if env.exists() and not try_rmdir(env)]
        if not left and try_rmdir(folder):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)  # the killed processes are still exiting (bounded by the deadline)
        environments = left


def procs(folder: Path) -> list[int]:
    """The processes in one cgroup (not its children's)."""
    try:
        return [int(pid) for pid in _read(folder / "cgroup.procs").split()]
    except ValueError:
        return []


def kill_all(folder: Path, freezer: Path | None = None) -> None:
    """SIGKILL every process in one environment's cgroup, including those that left its process group.

    `freezer`: its folder in v1's freezer hierarchy (nothing forks while we kill), when it has one.
    """
    if _try_write(folder / "cgroup.kill", "1"):
        return
    frozen = freezer is not None and _try_write(freezer / "freezer.state", "FROZEN")
    for _ in range(3):
        pids = procs(folder)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if frozen and freezer is not None:
        _try_write(freezer / "freezer.state", "THAWED")  # frozen tasks die once thawed


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _try_write(path: Path, value: str) -> bool:
    try:
        with open(path, "w") as out:
            out.write(value)
        return True
    except OSError:
        return False


def try_rmdir(path: Path) -> bool:
    try:
        path.rmdir()
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False
