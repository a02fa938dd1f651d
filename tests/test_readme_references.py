"""The README's "where in the code" pointers stay true: every file it names exists, and every
`name` in `path` it points at is defined in that file (a refactor that moves one must move the pointer)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()
PATH = re.compile(r"`((?:runtime|tui|tests|sample_functions)/[\w/.-]+\.py)`")
NAME_IN_PATH = re.compile(r"`([A-Za-z_][\w.]*)(?:\(\))?` in `((?:runtime|tui|tests)/[\w/.-]+\.py)`")


def test_every_file_the_readme_names_exists() -> None:
    named = set(PATH.findall(README))
    assert len(named) > 20  # the pattern still finds the pointers
    assert sorted(path for path in named if not (REPO / path).is_file()) == []


def defines(path: Path, name: str) -> bool:
    """`path` defines `name` (a def, a class, or an assignment), not only imports or mentions it."""
    last = re.escape(name.split(".")[-1])
    pattern = rf"^\s*(?:async\s+)?(?:def|class)\s+{last}\b|^\s*(?:self\.)?{last}\s*(?::[^=]+)?="
    return path.is_file() and re.search(pattern, path.read_text(), re.MULTILINE) is not None


def test_every_name_the_readme_points_at_is_defined_in_its_file() -> None:
    pointers = NAME_IN_PATH.findall(README)
    assert len(pointers) > 5
    assert [f"{name} in {path}" for name, path in pointers if not defines(REPO / path, name)] == []
