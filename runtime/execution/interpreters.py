"""Which Python runs a function: the interpreter its `Runtime` names, when this machine has one.

A `python3.12` function runs on a Python 3.12 found on PATH (`python3.12`),
through uv (`uv python find 3.12`) or under pyenv's root
(`$PYENV_ROOT/versions/3.12.*/bin/python3.12`), each with its own zygote;
otherwise on the interpreter lambdatop runs on, with a warning naming the
mismatch. A candidate counts only once it has imported the zygote's code, so a
found interpreter that cannot run the worker falls back the same way.

The zygote of another interpreter imports lambdatop's worker package from a
small tree of links (`worker_tree`): the worker package and msgpack, the one
package the worker's wire needs. msgpack's C extension is built for
lambdatop's own Python only; under another one msgpack imports its pure-Python
implementation (its `__init__` falls back on the ImportError), which is slower
per message but the same bytes.
"""

from __future__ import annotations

import glob
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import msgpack
import simplejson

from lambdatop.runtime import worker
from lambdatop.runtime.execution import known_interpreters

_RUNTIME = re.compile(r"^python(?P<major>\d+)\.(?P<minor>\d+)$")
PROBE_TIMEOUT_S = 20.0
OLDEST_WORKER_PYTHON = (3, 11)  # the worker's code uses 3.11's standard library (enum.StrEnum, ...)
# Printed by a candidate once it has imported the zygote: where it really is (a pyenv shim is a
# script that runs another file), and its version.
_PROBE = (
    "import sys; sys.path.insert(0, sys.argv[1]); import lambdatop.runtime.worker.zygote; "
    "print(sys.executable); print('%d.%d.%d' % sys.version_info[:3])"
)


@dataclass(frozen=True)
class Interpreter:
    """A Python that can run the zygote."""

    executable: str
    version: str  # its own, "3.12.1"
    local: bool  # lambdatop's own interpreter (sys.executable)

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])

    @property
    def micro(self) -> str:
        return self.version.split(".")[2]


@dataclass(frozen=True)
class InterpreterChoice:
    """What runs a runtime, and why not what it names (None when it is)."""

    interpreter: Interpreter
    warning: str | None = None


def local_interpreter() -> Interpreter:
    return Interpreter(sys.executable, platform.python_version(), local=True)


def worker_tree(base: Path) -> Path:
    """A folder from which any Python imports `lambdatop.runtime.worker`, msgpack (its wire) and simplejson
    (how the runtime writes results), and nothing else of ours; both fall back to pure Python when their
    C extension was built for another version.

    Links, not copies: a worker edited in a checkout runs as it is. The two
    `__init__` files are empty: `lambdatop.runtime`'s own would be harmless,
    but the zygote must never load more than the worker package.
    """
    tree = base / "worker-tree"
    package = tree / "lambdatop" / "runtime"
    if (package / "worker").exists():
        return tree
    package.mkdir(parents=True, exist_ok=True)
    (tree / "lambdatop" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    _link(package / "worker", Path(worker.__file__).parent)
    _link(tree / "msgpack", Path(msgpack.__file__).parent)
    _link(tree / "simplejson", Path(simplejson.__file__).parent)
    return tree


def _link(link: Path, target: Path) -> None:
    try:
        link.symlink_to(target, target_is_directory=True)
    except FileExistsError:
        pass


class Interpreters:
    """Finds one interpreter per runtime name, once, and remembers it."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self._chosen: dict[str, InterpreterChoice] = {}

    def for_runtime(self, runtime: str) -> InterpreterChoice:
        if runtime not in self._chosen:
            self._chosen[runtime] = self._choose(runtime)
        return self._chosen[runtime]

    def _choose(self, runtime: str) -> InterpreterChoice:
        local = local_interpreter()
        match = _RUNTIME.match(runtime)
        if match is None:
            # nodejs*, provided*: exec'd from lambdatop's own zygote, with no Python of their own to find.
            return InterpreterChoice(local)
        wanted = f"{match['major']}.{match['minor']}"
        if local.minor == wanted:
            return InterpreterChoice(local)
        if (int(match["major"]), int(match["minor"])) < OLDEST_WORKER_PYTHON:
            return InterpreterChoice(local, f"{runtime} functions run on Python {local.version}: lambdatop's worker needs Python 3.11 or later")
        tree = worker_tree(self.work_dir)
        unusable = []
        for candidate in candidates(wanted):
            found = probe(candidate, tree)
            if found is not None and found.minor == wanted:
                return InterpreterChoice(found)
            unusable.append(candidate)
        if unusable:
            why = f"{', '.join(unusable)} cannot run lambdatop's worker (it needs Python 3.11 or later)"
        else:
            why = f"no Python {wanted} found (looked for python{wanted} on PATH, `uv python find {wanted}` and pyenv's versions)"
        return InterpreterChoice(local, f"{runtime} functions run on Python {local.version}: {why}")


def candidates(minor: str) -> list[str]:
    """Executables that may be Python `minor` ("3.12"), best first: PATH, uv, pyenv's root."""
    found: list[str] = []
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    on_path = shutil.which(f"python{minor}")
    # A pyenv shim is a shell script that starts pyenv to find the real file (~1 s per probe on a busy
    # machine): the real file is among pyenv's versions below.
    if on_path and os.path.dirname(os.path.realpath(on_path)) != os.path.realpath(os.path.join(pyenv_root, "shims")):
        found.append(on_path)
    uv = shutil.which("uv")
    if uv:
        try:
            result = subprocess.run([uv, "python", "find", minor], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired):
            result = None
        if result is not None and result.returncode == 0 and result.stdout.strip():
            found.append(result.stdout.strip().splitlines()[-1])
    # Newest patch release first: 3.12.10 after 3.12.9 needs a numeric sort.
    installed = glob.glob(os.path.join(pyenv_root, "versions", f"{minor}.*", "bin", f"python{minor}"))
    found.extend(sorted(installed, key=_version_key, reverse=True))
    return list(dict.fromkeys(found))


def _version_key(path: str) -> tuple[int, ...]:
    release = Path(path).parent.parent.name
    return tuple(int(part) if part.isdigit() else -1 for part in re.split(r"[.]", release))


def probe(executable: str, tree: Path) -> Interpreter | None:
    """The interpreter `executable` really is, if it imports the zygote from `tree`; else None. A probe that
    succeeded before, of the same file and the same worker code, is not run again (known_interpreters.py)."""
    key = known_interpreters.key_of(executable)
    found = known_interpreters.recall(key) if key is not None else None
    if found is None:
        found = _run_probe(executable, tree)
        if found is None:
            return None
        if key is not None:
            known_interpreters.remember(key, *found)
    real, version = found
    return Interpreter(real, version, local=os.path.realpath(real) == os.path.realpath(sys.executable))


def _run_probe(executable: str, tree: Path) -> tuple[str, str] | None:
    """(real executable, version) as `executable` prints them once it has imported the zygote from `tree`."""
    try:
        result = subprocess.run(
            [executable, "-s", "-E", "-c", _PROBE, str(tree)], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = result.stdout.split()
    if result.returncode != 0 or len(lines) != 2:
        return None
    return lines[0], lines[1]


def zygote_command(interpreter: Interpreter, tree: Path | None, control_fd: int) -> list[str]:
    """How to start a zygote on `interpreter` (another one imports the worker from `tree`)."""
    if interpreter.local or tree is None:
        return [sys.executable, "-m", "lambdatop.runtime.worker.zygote", str(control_fd)]
    boot = f"import sys; sys.path.insert(0, {str(tree)!r}); from lambdatop.runtime.worker.zygote import main; main()"
    # -s -E: the user's site folder and PYTHON* variables are for lambdatop's own Python, not this one.
    return [interpreter.executable, "-s", "-E", "-c", boot, str(control_fd)]
