"""Editors' save patterns with the default settings (no fixed debounce): each save is one reload,
a file caught mid-save is never applied (nor reported broken), and the new code answers.

Each test pauses a save where an editor can be caught (the file gone, truncated) until the service has
heard that state, so the state is really seen. "One reload" is read from the version history once the
new code answers: an applied in-between state would have made a version of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.reload_support import Watched, save, watched_fleet

CONFIG = """\
functions:
  greet:
    handler: app.handler
"""


def source(answer: str) -> str:
    return f"def handler(event, context):\n    return {answer!r}\n"


async def served_once(w: Watched, answer: str) -> None:
    """The new code answers, it is the only version since v1, and nothing was reported broken."""
    await w.next_event("reload", "greet")
    await w.settle()
    result = await w.fleet.invoke("greet", {})
    assert json.loads(result.response) == answer
    assert [v.version for v in w.reload_state("greet").versions] == ["v1", "v2"]
    assert result.record.code_version == "v2"
    assert w.kinds("broken") == [] and w.reload_state("greet").broken is None


async def test_a_safe_write_through_a_temp_file_and_renames_is_one_reload(make_project: Callable[..., Path]) -> None:
    # JetBrains' safe write: write a temp file, move the original aside, move the temp over it, delete the old one.
    config = make_project({"greet": source("start")}, CONFIG)
    code = config.parent / "greet"
    async with watched_fleet(config) as w:
        save(code / "app.py___jb_tmp___", source("safe"))
        os.rename(code / "app.py", code / "app.py___jb_old___")
        await w.heard(code / "app.py")  # caught with no app.py at all
        os.rename(code / "app.py___jb_tmp___", code / "app.py")
        os.remove(code / "app.py___jb_old___")
        await served_once(w, "safe")


async def test_a_delete_then_create_is_one_reload(make_project: Callable[..., Path]) -> None:
    config = make_project({"greet": source("start")}, CONFIG)
    app = config.parent / "greet" / "app.py"
    async with watched_fleet(config) as w:
        app.unlink()
        await w.heard(app)
        save(app, source("recreated"))
        await served_once(w, "recreated")


async def test_vims_rename_to_backup_then_write_is_one_reload(make_project: Callable[..., Path]) -> None:
    # vim with backupcopy=no: the original becomes the backup, a new file is written, the backup goes.
    config = make_project({"greet": source("start")}, CONFIG)
    app = config.parent / "greet" / "app.py"
    async with watched_fleet(config) as w:
        save(app.parent / "4913", "")
        os.remove(app.parent / "4913")
        os.rename(app, app.parent / "app.py~")
        save(app, source("vim"))
        os.remove(app.parent / "app.py~")
        await served_once(w, "vim")


async def test_a_file_caught_half_written_is_not_reported_broken(make_project: Callable[..., Path]) -> None:
    config = make_project({"greet": source("start")}, CONFIG)
    app = config.parent / "greet" / "app.py"
    full = source("completed")
    async with watched_fleet(config) as w:
        with open(app, "w", encoding="utf-8") as handle:  # a write in place, in two chunks
            handle.write(full[: len(full) // 2])  # cut inside the return line: a syntax error as it stands
            handle.flush()
            await w.heard(app)
            handle.write(full[len(full) // 2:])
        await served_once(w, "completed")


async def test_an_emptied_file_then_written_is_not_reported_broken(make_project: Callable[..., Path]) -> None:
    config = make_project({"greet": source("start")}, CONFIG)
    app = config.parent / "greet" / "app.py"
    async with watched_fleet(config) as w:
        with open(app, "w", encoding="utf-8") as handle:  # truncated at the open: an empty module
            await w.heard(app)
            handle.write(source("written"))
        await served_once(w, "written")


async def test_a_half_written_file_that_stays_so_is_the_users_syntax_error(make_project: Callable[..., Path]) -> None:
    config = make_project({"greet": source("start")}, CONFIG)
    app = config.parent / "greet" / "app.py"
    async with watched_fleet(config) as w:
        save(app, "def handler(event, context):\n    return {'unclosed': \n")
        broken = await w.next_event("broken", "greet")
        assert broken.detail["error_type"] == "Runtime.UserCodeSyntaxError"
        assert broken.detail["version"] == "v2"
        save(app, source("fixed"))
        await w.next_event("healed", "greet")
        await w.settle()
        assert json.loads((await w.fleet.invoke("greet", {})).response) == "fixed"


async def test_format_on_save_of_many_files_is_one_reload(make_project: Callable[..., Path]) -> None:
    modules = {f"greet/part{n}.py": f"VALUE = {n}\n" for n in range(30)}
    importing = "from part29 import VALUE\n\n\ndef handler(event, context):\n    return f'{VALUE}'\n"
    config = make_project({"greet": importing, **modules}, CONFIG)
    code = config.parent / "greet"
    async with watched_fleet(config) as w:
        assert json.loads((await w.fleet.invoke("greet", {})).response) == "29"
        def reformat(n: int) -> None:
            (code / f"part{n}.py").write_text(f"VALUE = {n}  # formatted\n" if n < 29 else "VALUE = 'formatted'\n")

        reformat(0)
        reformat(1)
        await w.heard(code / "part1.py")  # the formatter paused after two files, longer than the watcher's step
        assert code / "part0.py" in w.service.heard
        for n in range(2, 30):
            reformat(n)
        await served_once(w, "formatted")


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main", *args],
                   cwd=folder, check=True, capture_output=True)


async def test_a_git_checkout_touching_hundreds_of_files_is_one_reload(make_project: Callable[..., Path]) -> None:
    if not any((Path(folder) / "git").is_file() for folder in os.get_exec_path()):
        pytest.skip("git is not installed")
    modules = {f"greet/lib/mod{n}.py": f"VALUE = {n}\n" for n in range(300)}
    importing = "from lib.mod299 import VALUE\n\n\ndef handler(event, context):\n    return f'{VALUE}'\n"
    config = make_project({"greet": importing, "greet/lib/__init__.py": "", **modules}, CONFIG)
    root = config.parent
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "main")
    git(root, "checkout", "-q", "-b", "other")
    for n in range(300):
        (root / "greet" / "lib" / f"mod{n}.py").write_text(f"VALUE = {n + 1}\n" if n < 299 else "VALUE = 'other'\n")
    git(root, "commit", "-q", "-am", "other")
    git(root, "checkout", "-q", "main")
    async with watched_fleet(config) as w:
        assert json.loads((await w.fleet.invoke("greet", {})).response) == "299"
        git(root, "checkout", "-q", "other")
        await served_once(w, "other")
