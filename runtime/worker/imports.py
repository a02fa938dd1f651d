"""What a function can import: its `sys.path`, and nothing of lambdatop's own environment when isolated.

On Lambda the Python runtime's path is the code folder (/var/task), the
layers' folders (/opt/python/lib/python3.x/site-packages, /opt/python), the
runtime's own folder holding the bundled boto3 (/var/runtime), then the
standard library. A `sam build` puts the requirements.txt packages in the code
folder; here they are installed beside it (execution side: runtime/packages/)
and come right after the layers.

The zygote, and so every worker forked from it, started in lambdatop's own
environment: its site-packages are on `sys.path`, editable installs and
`.pth` files left import hooks on `sys.meta_path`, and msgpack sits in
`sys.modules`. An isolated worker drops all three before Init, so an import
that would fail on Lambda fails here.

Runs in the zygote (the standard library's folders are found once, before any
fork) and in workers.
"""

from __future__ import annotations

import os
import sys
import sysconfig

from lambdatop.runtime.worker.messages import WorkerSpec


def _standard_library() -> tuple[str, ...]:
    """The standard library's entries of this interpreter's `sys.path`, in order (its zip, lib, lib-dynload)."""
    roots = {os.path.normpath(sysconfig.get_path(name)) for name in ("stdlib", "platstdlib")}
    kept = []
    for entry in sys.path:
        if not entry:
            continue
        norm = os.path.normpath(entry)
        if norm in roots or norm.endswith(".zip") or (os.path.basename(norm) == "lib-dynload" and os.path.dirname(norm) in roots):
            kept.append(entry)
    return tuple(kept)


_STANDARD_LIBRARY = _standard_library()
_STDLIB_ROOTS = tuple(os.path.join(os.path.normpath(entry), "") for entry in _STANDARD_LIBRARY)


def function_sys_path(spec: WorkerSpec) -> list[str]:
    """The function's `sys.path`, as Lambda orders it: code folder, layers, its packages, then the interpreter's.

    Isolated, "the interpreter's" is the standard library only; shared (the
    `dependencies: shared` setting), it is everything lambdatop's own
    environment has, as before isolation existed.
    """
    own = [spec.task_root, *spec.extra_sys_path, *spec.package_paths]
    if spec.isolated:
        return [*own, *_STANDARD_LIBRARY]
    return [*own, *(entry for entry in sys.path if entry not in own)]


_foreign: tuple[tuple[str, ...], tuple[object, ...]] | None = None  # (module names, meta path finders) to drop


def prepare_isolation() -> None:
    """In the zygote, before any fork: find what `isolate_imports` drops (walking sys.modules in each
    new worker cost ~300 µs of its cold start; here it is paid once)."""
    global _foreign
    names = tuple(name for name, module in sys.modules.items() if _is_foreign(name, module))
    _foreign = (names, tuple(finder for finder in sys.meta_path if not _is_interpreter_finder(finder)))


def isolate_imports() -> None:
    """Forget what lambdatop's environment put in this process beyond the standard library and the worker.

    The worker's own modules stay loaded (they are running), under
    `lambdatop.`; anything else from outside the standard library (msgpack,
    import hooks of editable installs and `.pth` files) goes, so importing it
    again looks only where the function's `sys.path` says.
    """
    if _foreign is None:
        prepare_isolation()
    assert _foreign is not None
    names, finders = _foreign
    for name in names:
        sys.modules.pop(name, None)
    if finders:
        sys.meta_path[:] = [finder for finder in sys.meta_path if all(finder is not other for other in finders)]
    # sys.path_importer_cache keeps its finders: those of folders no longer on sys.path are never asked
    # again, and clearing it cost ~65 µs of every cold start.


def _is_foreign(name: str, module: object) -> bool:
    if name == "lambdatop" or name.startswith("lambdatop."):
        return False
    file = getattr(module, "__file__", None)
    return bool(file) and not os.path.normpath(str(file)).startswith(_STDLIB_ROOTS)


def _is_interpreter_finder(finder: object) -> bool:
    module = getattr(type(finder) if not isinstance(finder, type) else finder, "__module__", "") or ""
    if module in ("_frozen_importlib", "_frozen_importlib_external", "zipimport", "importlib.machinery"):
        return True
    source = sys.modules.get(module)
    file = getattr(source, "__file__", None)
    return bool(file) and os.path.normpath(str(file)).startswith(_STDLIB_ROOTS)


def missing_module_hint(exc: BaseException, spec: WorkerSpec) -> str | None:
    """For an isolated function's failed import of a module nobody provides: where to declare it."""
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    if not spec.isolated or not isinstance(cause, ModuleNotFoundError) or not cause.name:
        return None
    top = cause.name.split(".")[0]
    requirements = os.path.join(spec.task_root, "requirements.txt")
    if os.path.isfile(requirements):
        where = f"it is not installed by {requirements}: add the package that provides it there"
    else:
        where = f"there is no {requirements}: declare the package that provides it in one"
    return (f"lambdatop: No module named '{top}': {where} (a function sees its code folder, its layers, "
            "its requirements.txt and the runtime's boto3, as on Lambda; `dependencies: shared` lets it see lambdatop's own)\n")
