"""Chaos: what dead runs leave behind, and the store and its folder under faults (issue 18 items 7, 10, 14, 12).

A store that stops taking writes mid-run (immutable -shm, full disk) fails those writes and says so; serving goes on."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from lambdatop.runtime.execution import workdir
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.store import schema


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
    alive = owned_by(temp, "alive000", f"{me} {workdir.start_time(me)}")
    unknown = owned_by(temp, "unknown0", None)
    config = make_project({"fn": "def handler(e, c):\n    return 1\n"}, "functions:\n  fn: {handler: app.handler, code: fn}\n")
    async with Fleet(config) as fleet:
        assert fleet.work_dir.parent == temp and (fleet.work_dir / workdir.OWNER_FILE).exists()
        assert oct(fleet.work_dir.stat().st_mode & 0o777) == "0o700"
        assert not killed.exists() and not reused.exists()
        assert alive.exists() and unknown.exists(), "only runs known to be dead are swept"


# -- the store under faults (items 10 and 14) ------------------------------------------------

HELLO = "def handler(e, c):\n    return 1\n"
CONFIG = "functions:\n  fn: {handler: app.handler, code: fn}\n"


def serve_until_ready_or_exit(project: Path, timeout: float = 60.0) -> tuple[int, str]:
    """Run `lambdatop serve`; stop it with SIGTERM once ready. Returns (exit code, stderr)."""
    process = subprocess.Popen([sys.executable, "-m", "lambdatop.tui.cli", "serve", "--port", "0", "--no-aws"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=project)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if "Lambda API" in line:
                process.send_signal(signal.SIGTERM)
                break
        _, stderr = process.communicate(timeout=timeout)
        return process.returncode, stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def good_store(project: Path) -> Path:
    assert serve_until_ready_or_exit(project)[0] == 0
    return project / ".lambdatop" / "lambdatop.db"


def test_the_store_and_its_folder_are_created_private(make_project) -> None:
    store = good_store(make_project({"fn": HELLO}, CONFIG).parent)
    assert oct(store.stat().st_mode & 0o777) == "0o600"
    assert oct(store.parent.stat().st_mode & 0o777) == "0o700"


def _garbage(store: Path) -> None:
    store.write_bytes(os.urandom(70_000))


def _truncated(store: Path) -> None:
    store.write_bytes(store.read_bytes()[:5000])


def _newer(store: Path) -> None:
    with sqlite3.connect(store) as conn:
        conn.execute("PRAGMA user_version=99")


def _foreign(store: Path) -> None:
    store.unlink()
    with sqlite3.connect(store) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")


def _folder(store: Path) -> None:
    store.unlink()
    store.mkdir()


@pytest.mark.parametrize(("damage", "said"), [
    (_garbage, "is not a lambdatop store SQLite can read (file is not a database). Move it aside"),
    (_truncated, "is not a lambdatop store SQLite can read"),
    (_newer, "was written by a newer lambdatop (store schema 99"),
    (_foreign, "is an SQLite database, but not a lambdatop store (it has tables customers); lambdatop leaves it alone"),
    (_folder, "is a folder, not a store file"),
], ids=["garbage", "truncated", "newer schema", "foreign sqlite", "a folder"])
def test_a_store_serve_cannot_use_exits_2_saying_what_to_do(make_project, damage, said: str) -> None:
    project = make_project({"fn": HELLO}, CONFIG).parent
    store = good_store(project)
    damage(store)
    code, stderr = serve_until_ready_or_exit(project)
    assert code == 2 and said in stderr and "Traceback" not in stderr, stderr
    if damage is _foreign:
        with sqlite3.connect(store) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            assert tables == {"customers"} and conn.execute("PRAGMA user_version").fetchone()[0] == 0, "taken over"


def test_a_permission_problem_gets_permission_advice(tmp_path: Path) -> None:
    store = tmp_path / "lambdatop.db"
    sqlite3.connect(store).close()
    read_only = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as caught:
        read_only.execute("CREATE TABLE t (x)")
    advice = str(schema.explain(store, caught.value))
    assert "cannot open the store" in advice and "ls -ld" in advice and "Move it aside" not in advice


def test_zeroed_pages_are_a_store_error_from_the_reader_too(make_project) -> None:
    project = make_project({"fn": HELLO}, CONFIG).parent
    store = good_store(project)
    with open(store, "r+b") as raw:
        raw.seek(4096)
        raw.write(b"\0" * 4096 * 8)
    done = subprocess.run([sys.executable, "-m", "lambdatop.tui.cli", "record", "runs"], capture_output=True, text=True,
                          cwd=project, timeout=60)
    assert "Traceback" not in done.stderr and "sqlite3" not in done.stderr, done.stderr
    assert done.returncode != 0 and "Move it aside" in done.stderr


def test_allow_remote_in_a_projects_file_needs_the_command_line_flag_too(make_project) -> None:
    config = make_project({"fn": HELLO}, CONFIG + "http:\n  host: 0.0.0.0\n  port: 0\n  allow_remote: true\n")
    done = subprocess.run([sys.executable, "-m", "lambdatop.tui.cli", "serve", "--no-aws"], capture_output=True, text=True,
                          cwd=config.parent, timeout=60)
    assert done.returncode == 2 and "refusing to serve the Lambda endpoint on 0.0.0.0" in done.stderr
    assert "--allow-remote" in done.stderr


# -- a store that stops taking writes mid-run (item 14): serving goes on, and it says so ------------


class Serving:
    """`lambdatop serve` in `project`, its output collected line by line for `wait_for`."""

    def __init__(self, project: Path) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.process = subprocess.Popen([sys.executable, "-m", "lambdatop.tui.cli", "serve", "--port", "0", "--no-aws"],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=project)
        threading.Thread(target=self._read, daemon=True).start()
        ready = self.wait_for("Lambda API")
        self.url = re.search(r"http://127\.0\.0\.1:\d+", ready).group(0)  # type: ignore[union-attr]

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        def found() -> str | None:
            return next((line for line in self.lines if text in line), None)

        with self._changed:
            self._changed.wait_for(lambda: found() is not None or self.process.poll() is not None, timeout)
            line = found()
        assert line is not None, f"serve never said {text!r} (exit {self.process.poll()}):\n" + "".join(self.lines[-30:])
        return line

    def invoke(self, payload: bytes = b'{"n": 1}') -> bytes:
        request = urllib.request.Request(f"{self.url}/2015-03-31/functions/fn/invocations", data=payload, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


def _recorded(store: Path) -> int:
    with sqlite3.connect(store) as conn:
        return conn.execute("SELECT COUNT(*) FROM invocations").fetchone()[0]


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


def _chattr(flag: str, *paths: Path) -> bool:
    return subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True, check=False).returncode == 0


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("chattr") is None, reason="chattr +i needs root")
def test_a_store_made_immutable_mid_run_fails_its_writes_and_serving_goes_on(make_project) -> None:
    """SQLite writes to the -shm through a memory map: once the file is immutable that was a SIGBUS, which killed serve."""
    project = make_project({"fn": HELLO}, CONFIG).parent
    store = project / ".lambdatop" / "lambdatop.db"
    shm = Path(f"{store}-shm")
    serving = Serving(project)
    try:
        for _ in range(5):
            serving.invoke()
        _wait_until(lambda: _recorded(store) == 5, "the first invocations are committed")
        if not _chattr("+i", shm):
            pytest.skip("this filesystem has no immutable flag")
        try:
            answered = [serving.invoke() for _ in range(30)]  # the writer commits every 0.2 s meanwhile
            assert answered == [b"1"] * 30 and serving.process.poll() is None
            line = serving.wait_for("store: writes failing")
            assert "lambdatop.db-shm has been made immutable" in line and "keeps serving" in line
        finally:
            _chattr("-i", shm)
        serving.invoke()
        assert "writes resumed" in serving.wait_for("writes resumed")
        serving.invoke(b'{"after": 1}')
    finally:
        code = serving.stop()
    assert code == 0, "".join(serving.lines[-30:])
    with sqlite3.connect(store) as conn:
        requests = [row[0] for row in conn.execute("SELECT request FROM invocations ORDER BY seq")]
    assert requests[:5] == [b'{"n": 1}'] * 5 and requests[-1] == b'{"after": 1}', "writes resume once the file is writable again"


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_disk_fails_the_store_writes_says_so_and_writes_resume_once_there_is_room(make_project, tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        project = make_project({"fn": HELLO}, CONFIG + f"store:\n  path: {disk}/lambdatop.db\n").parent
        serving = Serving(project)
        filler = disk / "filler"
        try:
            serving.invoke()
            with open(filler, "wb") as out:  # another program fills the disk
                with contextlib.suppress(OSError):
                    while True:
                        out.write(b"\0" * 65536)
                        out.flush()
            answered = [serving.invoke(b'{"blob": "%s"}' % (b"x" * 20_000)) for _ in range(20)]
            assert answered == [b"1"] * 20 and serving.process.poll() is None
            line = serving.wait_for("store: writes failing")
            assert "is full" in line and "free some space" in line and "Move it aside" not in line, line
            filler.unlink()
            serving.invoke()
            serving.wait_for("writes resumed")
        finally:
            code = serving.stop()
        assert code == 0, "".join(serving.lines[-30:])
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
