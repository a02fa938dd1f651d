"""`lambdatop … | head`: when the reader of stdout goes away, lambdatop stops quietly, like any Unix tool.

It exits 141 (128 + SIGPIPE, what the shell reports for `cat` or `grep` in the same place) and writes
nothing to stderr: no BrokenPipeError traceback, no "Exception ignored" at exit.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from .support import LAMBDATOP

CHATTY = """
def handler(event, context):
    for n in range(3000):
        print(f"line {n:04d} of a function that logs a lot, so the log is longer than a pipe's buffer")
    return n
"""


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose store holds one invocation of `chatty` (about 300 KB of log) and its trace."""
    root = tmp_path_factory.mktemp("pipes")
    (root / "chatty").mkdir()
    (root / "chatty" / "app.py").write_text(CHATTY)
    config = root / "lambdatop.yaml"
    config.write_text("functions:\n  chatty: {handler: app.handler, timeout: 10}\n")
    done = subprocess.run([*LAMBDATOP, "invoke", "chatty", "-c", str(config)], capture_output=True, timeout=60, cwd=root)
    assert done.returncode == 0, done.stderr
    return config


@pytest.mark.parametrize("follow", [[], ["--follow"]], ids=["logs", "logs --follow"])
def test_logs_into_head_prints_one_line_and_exits_quietly(recorded: Path, follow: list[str]) -> None:
    lambdatop = subprocess.Popen([*LAMBDATOP, "logs", "chatty", *follow, "-c", str(recorded)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, cwd=recorded.parent)
    assert lambdatop.stdout is not None and lambdatop.stderr is not None
    head = subprocess.run(["head", "-1"], stdin=lambdatop.stdout, capture_output=True, timeout=60)
    lambdatop.stdout.close()  # head is now the pipe's only reader; it has exited
    stderr = lambdatop.stderr.read().decode()
    assert lambdatop.wait(timeout=60) == 141, stderr
    assert stderr == ""
    assert head.stdout.decode().count("\n") == 1 and "INIT_START" in head.stdout.decode()


@pytest.mark.parametrize("command", [
    ["logs", "chatty"], ["traces", "list"], ["traces", "export"], ["stats"], ["stats", "--json"], ["record", "runs"],
    ["record", "export"], ["events", "list"],
], ids=" ".join)
def test_a_reader_that_went_away_is_exit_141_and_no_traceback(recorded: Path, command: list[str]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before lambdatop writes its first byte
    try:
        done = subprocess.run([*LAMBDATOP, *command, "-c", str(recorded)], stdout=write_end, stderr=subprocess.PIPE,
                              timeout=60, cwd=recorded.parent)
    finally:
        os.close(write_end)
    assert b"Traceback" not in done.stderr and b"BrokenPipe" not in done.stderr and b"Exception ignored" not in done.stderr
    assert done.returncode == 141
