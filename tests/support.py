"""What many test files need and used to write each for itself: the CLI as a subprocess, `serve`, wake-up counts.

Everything here runs lambdatop for real (a child `python -m lambdatop.tui.cli`); nothing stands in for it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import IO, Any

LAMBDATOP = [sys.executable, "-m", "lambdatop.tui.cli"]


def lambdatop(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """One CLI command to its end, output captured as text."""
    return subprocess.run([*LAMBDATOP, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)


def serve(config: Path, *extra: str, stderr: int | IO[Any] | None = subprocess.PIPE) -> subprocess.Popen[str]:
    """`lambdatop serve --config CONFIG EXTRA…`, started in the config's folder, its banner on `stdout`."""
    return subprocess.Popen([*LAMBDATOP, "serve", "--config", str(config), *extra], stdout=subprocess.PIPE,
                            stderr=stderr, text=True, cwd=config.parent)


def voluntary_switches(task: str) -> int:
    """How often a process or thread has slept and been woken (`task` is "PID" or "self/task/TID")."""
    with open(f"/proc/{task}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("voluntary_ctxt_switches:"))
