"""The CLI's modules depend one way: `tui/cli.py` builds the parser from `tui/commands/*`, which never import it back."""

from __future__ import annotations

import ast
from pathlib import Path

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
