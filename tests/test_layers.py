"""Who may import whom: the layering DESIGN.md draws, read from the code with `ast`.

- `runtime/worker/` runs in the zygote and its forks: it imports nothing else of lambdatop.
- `runtime/config/` is what the user wrote: it imports only `lambdatop.runtime.errors`.
- `runtime/versions/` (published versions and aliases) imports only the config, the errors, the
  execution layer it runs versions on, ids, records, the snapshot types and the percentile rule; execution does not import it (the invoker asks
  through a Protocol), so a version is a thing that runs on pools, not a part of them.
- The runtime never imports the TUI, Textual or Rich.
- The TUI talks to the runtime through its public face only: the `Fleet` façade and how a full
  run is composed (`services`), the snapshot types (with the observability's, `observability.figures`), records, errors, bus events, ids, the config,
  the store reader, record/replay, the trace views and the stored figures' summary.

A violation names the file, the line and the import, so the fix is one look away.
"""

from __future__ import annotations

import ast
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RUNTIME = REPO / "runtime"
TUI = REPO / "tui"

TUI_MAY_IMPORT = (
    "lambdatop.runtime.fleet",
    "lambdatop.runtime.services",
    "lambdatop.runtime.snapshot",
    "lambdatop.runtime.observability.figures",  # the alarms', metrics' and traces' typed views
    "lambdatop.runtime.records",
    "lambdatop.runtime.errors",
    "lambdatop.runtime.bus",
    "lambdatop.runtime.identifiers",
    "lambdatop.runtime.config",
    "lambdatop.runtime.store.reader",
    "lambdatop.runtime.store.replay",
    "lambdatop.runtime.observability.views",
    "lambdatop.runtime.observability.summary",
    "lambdatop.runtime.observability.percentiles",  # the one percentile rule, for `invoke -n` and `bench`
    "lambdatop.runtime.aws.inventory",  # the kinds of resource and a sample payload of each, for the plumbing view
    "lambdatop.runtime.tuning",  # power tuning (`lambdatop tune`, the dashboard's T): it runs through the façade
)


def imports_of(path: Path) -> Iterator[tuple[int, str]]:
    """Every module `path` imports (absolute names), with its line; `from X import y` yields X and X.y."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def violations(folder: Path, allowed: tuple[str, ...], watched: tuple[str, ...]) -> list[str]:
    """Imports under `folder` of anything in `watched` that is not within `allowed`."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        for line, name in imports_of(path):
            if not name.startswith(watched):
                continue
            if any(name == ok or name.startswith(ok + ".") for ok in allowed):
                continue
            found.append(f"{path.relative_to(REPO)}:{line}: imports {name}")
    return sorted(set(found))


def _is_module_or_package(name: str) -> bool:
    parts = name.split(".")[2:]  # drop "lambdatop.runtime"
    base = RUNTIME.joinpath(*parts)
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def runtime_violations(folder: Path, allowed: tuple[str, ...]) -> list[str]:
    """Like `violations`, for imports of runtime modules, ignoring `from pkg import Name` of a non-module."""
    return [v for v in violations(folder, allowed, ("lambdatop.",)) if _is_module_or_package(v.rsplit(" ", 1)[1])
            or not v.rsplit(" ", 1)[1].startswith("lambdatop.runtime.")]


def test_the_worker_side_imports_nothing_else_of_lambdatop() -> None:
    assert runtime_violations(RUNTIME / "worker", ("lambdatop.runtime.worker",)) == []


def test_the_config_imports_only_the_errors() -> None:
    assert runtime_violations(RUNTIME / "config", ("lambdatop.runtime.config", "lambdatop.runtime.errors")) == []


def test_versions_import_only_what_their_package_docstring_says() -> None:
    allowed = ("lambdatop.runtime.versions", "lambdatop.runtime.config", "lambdatop.runtime.errors",
               "lambdatop.runtime.execution", "lambdatop.runtime.identifiers", "lambdatop.runtime.records",
               "lambdatop.runtime.snapshot", "lambdatop.runtime.observability.percentiles")
    assert runtime_violations(RUNTIME / "versions", allowed) == []
    assert violations(RUNTIME / "execution", (), ("lambdatop.runtime.versions",)) == []


def test_the_runtime_never_imports_the_tui_textual_or_rich() -> None:
    assert violations(RUNTIME, (), ("lambdatop.tui", "textual", "rich")) == []


# The SQS bench drives a mapping's poller and the sidecar's own client to time send → handler start:
# it measures parts, as tests do. Every other bench scenario goes through the façade.
MEASURES_PARTS = ("tui/bench/sqs_trigger.py",)


def test_the_tui_reaches_the_runtime_only_through_its_public_face() -> None:
    found = runtime_violations(TUI, TUI_MAY_IMPORT + ("lambdatop.tui",))
    assert [v for v in found if not v.startswith(MEASURES_PARTS)] == []


@pytest.mark.parametrize(
    ("folder", "line", "rule"),
    [
        ("worker", "from lambdatop.runtime.fleet import Fleet", test_the_worker_side_imports_nothing_else_of_lambdatop),
        ("config", "from lambdatop.runtime.records import InvocationRecord", test_the_config_imports_only_the_errors),
    ],
)
def test_a_forbidden_import_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str, line: str, rule: Callable[[], None]) -> None:
    """The rules above really bite: a copy of the runtime with one bad import fails them, naming the line."""
    copy = tmp_path / "runtime"
    shutil.copytree(RUNTIME, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / folder / "bad_import.py").write_text(f'"""A forbidden import."""\n{line}\n')
    this = sys.modules[__name__]
    monkeypatch.setattr(this, "RUNTIME", copy)
    monkeypatch.setattr(this, "REPO", tmp_path)
    with pytest.raises(AssertionError, match=rf"runtime/{folder}/bad_import.py:2: imports lambdatop\.runtime\."):
        rule()
