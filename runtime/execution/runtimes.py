"""Which program is a function's runtime: lambdatop's built-in Python worker, or one that speaks the Runtime API.

    Runtime                          runs as                                          how
    ───────────────────────────────  ───────────────────────────────────────────────  ─────────────────────────
    python3.x                        the built-in worker (worker/runtime.py)          fork from the zygote
    python3.x, python_runtime: ric   python -m awslambdaric HANDLER                  fork + exec, Runtime API
    provided, provided.al2(023)      the code folder's `bootstrap`, else a layer's    fork + exec, Runtime API
    nodejs18.x / 20.x / 22.x         node worker/nodejs/bootstrap.mjs (ours)          fork + exec, Runtime API

A program that cannot be found is the environment's Init error
(Runtime.InvalidEntrypoint, worker/exec_runtime.py), not a config error.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from lambdatop.runtime.config import FunctionConfig

NODE_BOOTSTRAP = str(Path(__file__).resolve().parent.parent / "worker" / "nodejs" / "bootstrap.mjs")


def is_custom(runtime: str) -> bool:
    return runtime == "provided" or runtime.startswith("provided.")


def is_node(runtime: str) -> bool:
    return runtime.startswith("nodejs")


def runtime_program(function: FunctionConfig, layers: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the programs that may be the runtime, first existing wins; its arguments), or ((), ()) for the built-in worker."""
    if is_custom(function.runtime):
        return tuple(str(Path(folder) / "bootstrap") for folder in (str(function.code_dir), *layers)), ()
    if is_node(function.runtime):
        # Not found: the environment's Init says Couldn't find valid bootstrap(s): [node], with a hint in its log.
        return (shutil.which("node") or "node",), (NODE_BOOTSTRAP,)
    if function.python_runtime == "ric":
        return (sys.executable,), ("-m", "awslambdaric", function.handler)
    return (), ()


def external_extensions(layers: tuple[str, ...]) -> tuple[str, ...]:
    """The executables in the layers' `extensions/` folders (Lambda's /opt/extensions), in name order.

    Started beside a Runtime API runtime only: the built-in worker has no Extensions API.
    """
    found: dict[str, str] = {}
    for layer in layers:
        folder = Path(layer) / "extensions"
        if folder.is_dir():
            for entry in folder.iterdir():
                if entry.is_file() and os.access(entry, os.X_OK):
                    found[entry.name] = str(entry)  # a later layer's file of the same name wins, as /opt merges
    return tuple(found[name] for name in sorted(found))
