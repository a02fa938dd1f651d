"""Chaos: what dead runs leave behind, and the store and its folder under faults (issue 18 items 7, 10, 14, 12)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from lambdatop.runtime.execution import workdir
from lambdatop.runtime.fleet import Fleet


def owned_by(folder: Path, name: str, owner: str | None) -> Path:
    path = folder / f"lambdatop-{name}"
    (path / "envs").mkdir(parents=True)
    if owner is not None:
        (path / workdir.OWNER_FILE).write_text(owner + "\n")
    return path


async def test_work_directories_of_dead_runs_are_removed_at_the_next_start(make_project, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    me = os.getpid()
    killed = owned_by(temp, "killed00", f"{int(dead.stdout)} 123")
    reused = owned_by(temp, "reused00", f"{me} 1")  # our pid now, but another start time: another process
    alive = owned_by(temp, "alive000", f"{me} {workdir._start_time(me)}")
    unknown = owned_by(temp, "unknown0", None)
    config = make_project({"fn": "def handler(e, c):\n    return 1\n"}, "functions:\n  fn: {handler: app.handler, code: fn}\n")
    async with Fleet(config) as fleet:
        assert fleet.work_dir.parent == temp and (fleet.work_dir / workdir.OWNER_FILE).exists()
        assert oct(fleet.work_dir.stat().st_mode & 0o777) == "0o700"
        assert not killed.exists() and not reused.exists()
        assert alive.exists() and unknown.exists(), "only runs known to be dead are swept"
