"""Installing one requirements.txt into its own folder, as `sam build` does: uv when it is on PATH, else pip.

The installer runs as a subprocess with the machine's own configuration
(pip.conf, PIP_* variables, uv's settings), from the code folder, so relative
paths in the file resolve as `sam build` resolves them. It installs into a
partial folder renamed into place once complete, under a file lock: two
lambdatop processes (or two functions with the same file) install it once,
and a killed install leaves nothing that looks finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lambdatop.runtime.packages.requirements import PackageSet

COMPLETE_MARK = ".lambdatop-complete"  # written last: a folder without it is an install that did not finish
ERROR_LINES_KEPT = 20


@dataclass(frozen=True)
class InstallOutcome:
    ok: bool
    message: str  # the installer's own words on failure ("ERROR: No matching distribution found for ...")
    seconds: float
    reused: bool = False  # installed earlier (by this or another lambdatop): nothing ran


def is_installed(packages: PackageSet) -> bool:
    return (packages.target / COMPLETE_MARK).is_file()


def install_command(packages: PackageSet, python: str, local: bool, into: Path) -> list[str]:
    """uv when present (fast); else this Python's pip, told which Python to install for when it is another."""
    uv = shutil.which("uv")
    if uv:
        return [uv, "pip", "install", "--python", python, "--target", str(into), "-r", str(packages.requirements)]
    command = [sys.executable, "-m", "pip"]
    if not local:
        command += ["--python", python]  # pip >= 22.3 runs itself under that Python, so wheels match it
    return command + [
        "install", "--target", str(into), "-r", str(packages.requirements),
        "--no-input", "--progress-bar", "off", "--disable-pip-version-check", "--no-warn-script-location",
    ]


async def install(packages: PackageSet, python: str, local: bool, on_line: Callable[[str], None]) -> InstallOutcome:
    """Install `packages` unless already there; each line the installer prints goes to `on_line`."""
    begin = time.perf_counter()
    if is_installed(packages):
        return InstallOutcome(True, "", 0.0, reused=True)
    packages.target.parent.mkdir(parents=True, exist_ok=True)
    with open(packages.target.parent / f"{packages.digest}.lock", "w") as lock:
        await asyncio.to_thread(fcntl.flock, lock.fileno(), fcntl.LOCK_EX)
        if is_installed(packages):  # another process installed it while this one waited
            return InstallOutcome(True, "", time.perf_counter() - begin, reused=True)
        partial = packages.target.parent / f"{packages.digest}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        try:
            code, tail = await _run(install_command(packages, python, local, partial), packages.requirements.parent, on_line)
            if code != 0:
                return InstallOutcome(False, _error_text(tail, code), time.perf_counter() - begin)
            (partial / COMPLETE_MARK).write_text(f"{packages.requirements}\n")
            shutil.rmtree(packages.target, ignore_errors=True)  # an unfinished folder of an older lambdatop
            os.rename(partial, packages.target)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return InstallOutcome(True, "", time.perf_counter() - begin)


async def _run(command: list[str], cwd: Path, on_line: Callable[[str], None]) -> tuple[int, list[str]]:
    """Run the installer; (exit code, its last lines). Cancelled (lambdatop stopping), it is killed."""
    try:
        process = await asyncio.create_subprocess_exec(
            *command, cwd=cwd, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
    except OSError as exc:
        return 127, [f"could not run {command[0]}: {exc}"]
    tail: list[str] = []
    try:
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            if not line:
                continue
            tail = [*tail[-(4 * ERROR_LINES_KEPT):], line]
            on_line(line)
        return await process.wait(), tail
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await asyncio.shield(process.wait())
        raise


def _error_text(tail: list[str], code: int) -> str:
    """The installer's error lines (pip's `ERROR: ...`), else its last lines."""
    errors = [line for line in tail if line.startswith(("ERROR", "error", "  × ", "  ╰─▶"))]
    kept = (errors or tail)[-ERROR_LINES_KEPT:]
    return "\n".join(kept) if kept else f"the installer exited with status {code}"
