"""The CLI's modules depend one way (`tui/cli.py` builds the parser from `tui/commands/*`, which never import it back),
and building the parser loads none of the runtime (`--help` answers in about the time Python takes to start)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO_ROOT

COMMANDS = REPO_ROOT / "tui" / "commands"
CLI = "lambdatop.tui.cli"


def imported_modules(source: str) -> set[str]:
    """Every module a source file imports, at any depth (lazy imports inside functions count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def imports_the_cli(path: Path) -> bool:
    return any(name == CLI or name.startswith(CLI + ".") for name in imported_modules(path.read_text()))


def test_no_command_imports_the_cli_module() -> None:
    offenders = sorted(p.name for p in COMMANDS.glob("*.py") if imports_the_cli(p))
    assert offenders == [], f"these commands import {CLI} (a cycle): {offenders}; take exit codes from commands.common"


def test_the_cli_module_imports_only_the_commands_of_lambdatop() -> None:
    ours = {m for m in imported_modules((REPO_ROOT / "tui" / "cli.py").read_text()) if m.startswith("lambdatop")}
    assert ours and all(m.startswith("lambdatop.tui.commands") for m in ours), ours


def test_the_check_catches_a_lazy_import_of_the_cli(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("def run():\n    from lambdatop.tui.cli import EXIT_OK\n    return EXIT_OK\n")
    plain = tmp_path / "plain.py"
    plain.write_text("import lambdatop.tui.cli as cli\n")
    fine = tmp_path / "fine.py"
    fine.write_text("from lambdatop.tui.commands.common import EXIT_OK\n")
    assert imports_the_cli(sneaky) and imports_the_cli(plain) and not imports_the_cli(fine)


# What building the parser (every run, `--help` included) must not load: the fleet and what it starts,
# the dashboard, and the libraries behind them. Each costs more than `--help` itself should take.
HEAVY = ("lambdatop.runtime.fleet", "lambdatop.runtime.config.loading", "lambdatop.tui.bench.runner", "aiohttp", "asyncio",
         "boto3", "textual", "rich", "yaml", "importlib.metadata")

PARSE_IN_A_FRESH_PROCESS = """
import json, sys
from lambdatop.tui.cli import build_parser, main
parser = build_parser()
parser.parse_args(sys.argv[1:])
try:
    main(["--help"])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""


def modules_after_parsing(*argv: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PARSE_IN_A_FRESH_PROCESS, *argv], capture_output=True, text=True, timeout=60, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def heavy_among(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize("argv", [["invoke", "hello"], ["serve", "--port", "0"], ["bench", "--only", "warm"], ["stats"]], ids=" ".join)
def test_building_and_parsing_the_command_line_loads_no_runtime(argv: list[str]) -> None:
    assert heavy_among(modules_after_parsing(*argv)) == []


def test_the_import_check_sees_a_heavy_module() -> None:
    """The check above would see the runtime if the parser loaded it: a command's own module does."""
    script = "import json, sys, lambdatop.tui.commands.invoke; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    found = heavy_among(set(json.loads(done.stdout)))
    assert "lambdatop.runtime.fleet" in found and "asyncio" in found, found
