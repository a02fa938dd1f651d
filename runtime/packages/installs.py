"""Each function's requirements install: started once per change of the file, waited on by cold starts.

`start` begins (or joins) the install a function needs as soon as lambdatop
starts, so the first invocation usually finds it done; `ready` is what a cold
start awaits: the folders to put on the function's path. An install that
failed is not retried until the file changes (the function runs without it,
and its import fails as it would on Lambda); its installer's message is the
function's problem, shown by the dashboard and `serve`.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdatop.runtime.config import FunctionConfig
from lambdatop.runtime.packages import installer
from lambdatop.runtime.packages.installer import InstallOutcome, is_installed
from lambdatop.runtime.packages.requirements import PackageSet, package_set, packages_folder, requirements_of
from lambdatop.runtime.snapshot import InstallView

# Installer lines worth showing as progress (pip's and uv's words); the rest only in a failure's message.
PROGRESS_PREFIXES = ("Collecting ", "Processing ", "Installing collected", "Successfully installed", "Resolved ", "Installed ")

Publish = Callable[[str, str, str, dict[str, Any]], None]  # (kind, message, function, detail)


class InstallState(enum.StrEnum):
    INSTALLING = "installing"
    READY = "ready"
    FAILED = "failed"


@dataclass
class FunctionInstall:
    """What the screen shows of one function's install."""

    requirements: str
    target: str
    state: InstallState
    detail: str = ""  # the installer's latest progress line, or its error message
    seconds: float | None = None

    def view(self) -> InstallView:
        return InstallView(self.requirements, self.target, str(self.state), self.detail, self.seconds)


@dataclass(frozen=True)
class Python:
    """The interpreter a function's packages are installed for."""

    executable: str
    version: str  # "3.12"
    local: bool


class Installs:
    def __init__(self, root: Path, publish: Publish) -> None:
        self.root = root
        self.publish = publish
        self._tasks: dict[Path, asyncio.Task[InstallOutcome]] = {}  # by target folder: one install per file and Python
        self._watchers: dict[Path, set[str]] = {}  # target -> functions waiting on it (for progress lines)
        self._functions: dict[str, FunctionInstall] = {}
        self._sets: dict[tuple[str, Path, int, int], PackageSet] = {}

    def start(self, function: FunctionConfig, python: Python) -> asyncio.Task[InstallOutcome] | None:
        """Begin (or join) the install `function` needs; None when its folder has no requirements.txt."""
        packages = self._package_set(function, python)
        if packages is None:
            self._functions.pop(function.name, None)
            return None
        self._watchers.setdefault(packages.target, set()).add(function.name)
        task = self._tasks.get(packages.target)
        if task is None:
            already = is_installed(packages)
            task = asyncio.get_running_loop().create_task(self._install(packages, python), name=f"lambdatop-install-{packages.digest}")
            self._tasks[packages.target] = task
            if not already:
                self._announce(function.name, f"installing {packages.requirements} for Python {python.version}", packages)
        current = self._functions.get(function.name)
        if current is None or current.target != str(packages.target):
            state = InstallState.INSTALLING if not task.done() else _state_of(task)
            self._functions[function.name] = FunctionInstall(str(packages.requirements), str(packages.target), state)
        return task

    async def ready(self, function: FunctionConfig, python: Python) -> tuple[str, ...]:
        """The folders of `function`'s installed packages, once installed (none if it failed or has no file)."""
        task = self.start(function, python)
        if task is None:
            return ()
        outcome = await asyncio.shield(task)
        return (self._functions[function.name].target,) if outcome.ok else ()

    def snapshot(self) -> dict[str, InstallView]:
        return {name: install.view() for name, install in self._functions.items()}

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()

    def _package_set(self, function: FunctionConfig, python: Python) -> PackageSet | None:
        requirements = requirements_of(function.code_dir)
        if requirements is None:
            return None
        try:
            stat = requirements.stat()
        except OSError:
            return None
        # Read and hashed once per version of the file, not on every cold start.
        key = (python.version, requirements, stat.st_mtime_ns, stat.st_size)
        if key not in self._sets:
            self._sets[key] = package_set(requirements, python.version, packages_folder(self.root))
        return self._sets[key]

    async def _install(self, packages: PackageSet, python: Python) -> InstallOutcome:
        def on_line(line: str) -> None:
            if not line.startswith(PROGRESS_PREFIXES):
                return
            for name in self._watchers.get(packages.target, ()):
                install = self._functions.get(name)
                if install is not None and install.target == str(packages.target):
                    install.detail = line
                self.publish("packages", line, name, {"target": str(packages.target)})

        try:
            outcome = await installer.install(packages, python.executable, python.local, on_line)
        except OSError as exc:
            outcome = InstallOutcome(False, f"{type(exc).__name__}: {exc}", 0.0)
        for name in self._watchers.get(packages.target, ()):
            install = self._functions.get(name)
            if install is None or install.target != str(packages.target):
                continue
            install.state = InstallState.READY if outcome.ok else InstallState.FAILED
            install.seconds = round(outcome.seconds, 1)
            install.detail = "" if outcome.ok else outcome.message
            if not outcome.ok:
                self.publish("broken", f"{packages.requirements} did not install: {outcome.message}", name,
                             {"error_type": "lambdatop.RequirementsInstallFailed", "message": outcome.message,
                              "requirements": str(packages.requirements)})
            elif not outcome.reused:
                self.publish("packages", f"installed {packages.requirements} in {outcome.seconds:.1f} s into {packages.target}",
                             name, {"target": str(packages.target)})
        return outcome

    def _announce(self, function: str, message: str, packages: PackageSet) -> None:
        self.publish("packages", message, function, {"target": str(packages.target), "at": time.time()})


def _state_of(task: asyncio.Task[InstallOutcome]) -> InstallState:
    if task.cancelled() or task.exception() is not None:
        return InstallState.FAILED
    return InstallState.READY if task.result().ok else InstallState.FAILED
