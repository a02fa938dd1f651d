"""Chaos: hostile templates and code folders (issue 18 items 1 and 2).

Every test is bounded (a few seconds of work on a good machine, hard timeouts
on the waits), loopback only, and stops by itself.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lambdatop.runtime.config import load_config
from lambdatop.runtime.errors import ConfigError
from lambdatop.runtime.reload.codeversion import CodeHasher, CodeRoots, FolderLimits, CodeFolderTooLarge
from tests.reload_support import save, watched_fleet

HANDLER = "def handler(event, context):\n    return {'v': VALUE}\nVALUE = 1\n"


def laughs(indent: str, levels: int = 9) -> str:
    """A billion-laughs YAML block: nine levels of nine aliases is 9**9 (387M) strings once expanded."""
    lines = [f"{indent}l0: &l0 [{', '.join(['lol'] * 9)}]"]
    lines += [f"{indent}l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


def template(where: str) -> str:
    head = "AWSTemplateFormatVersion: '2010-09-09'\nTransform: AWS::Serverless-2016-10-31\n"
    fn = ("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
          "      CodeUri: fn/\n      Handler: app.handler\n      Runtime: python3.11\n")
    if where == "properties":
        return head + fn + "      Tags:\n" + laughs("        ")
    if where == "globals":
        return head + "Globals:\n  Function:\n    Tags:\n" + laughs("      ") + fn
    assert where == "parameter"
    return head + "Parameters:\n  P:\n    Type: String\n    Default:\n" + laughs("      ") + fn


def project(tmp_path: Path, text: str) -> Path:
    (tmp_path / "fn").mkdir(exist_ok=True)
    (tmp_path / "fn" / "app.py").write_text(HANDLER)
    path = tmp_path / "template.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("where", ["properties", "globals", "parameter"])
def test_billion_laughs_is_refused_naming_the_limit(tmp_path: Path, where: str) -> None:
    path = project(tmp_path, template(where))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "document too large: aliases expand more than 100,000 times" in str(caught.value)
    assert caught.value.path == str(path) and caught.value.line is not None


@pytest.mark.parametrize(("text", "said"), [
    ("a: &a [x, *a]\n", "alias *a refers to its own anchor"),
    ("x: " + "[" * 150 + "]" * 150 + "\n", "nested more than 100 levels deep"),
])
def test_recursive_alias_and_deep_nesting_are_refused(tmp_path: Path, text: str, said: str) -> None:
    path = tmp_path / "lambdatop.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(said)):
        load_config(path)


def test_a_condition_that_needs_itself_is_a_config_error(tmp_path: Path) -> None:
    text = template("properties").replace(laughs("        "), "        a: b\n")
    text = text.replace("Resources:", "Conditions:\n  Loop: !Not [!Condition Loop]\nResources:")
    text = text.replace("      Runtime: python3.11\n", "      Runtime: python3.11\n      MemorySize: !If [Loop, 256, 128]\n")
    with pytest.raises(ConfigError, match="condition Loop depends on itself"):
        load_config(project(tmp_path, text))


def test_invoke_on_a_bomb_exits_2_at_once(tmp_path: Path) -> None:
    path = project(tmp_path, template("properties"))
    done = subprocess.run([sys.executable, "-m", "lambdatop.tui.cli", "invoke", "Fn", "--config", str(path)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 2
    assert "document too large: aliases expand more than 100,000 times" in done.stderr
    assert "Traceback" not in done.stderr


GOOD = template("properties").replace(laughs("        "), "        a: b\n")


def test_a_bomb_saved_over_a_running_serve_is_reported_and_later_saves_apply(tmp_path: Path) -> None:
    path = project(tmp_path, GOOD)
    log = tmp_path / "serve.err"
    with log.open("w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "lambdatop.tui.cli", "serve", "--config", str(path), "--port", "0"],
                                   stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=tmp_path)
        try:
            assert process.stdout is not None
            while "Lambda API" not in (line := process.stdout.readline()):
                assert line, f"serve exited early with {process.wait(5)}"
            save(path, template("properties"))
            wait_for(log, "document too large: aliases expand more than 100,000 times")
            save(path, GOOD.replace("Runtime: python3.11", "Runtime: python3.11\n      MemorySize: 256"))
            wait_for(log, "memory_size 128 MB → 256 MB")
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def wait_for(log: Path, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert time.monotonic() < deadline, f"never logged {text!r}: {log.read_text()[-2000:]}"
        time.sleep(0.05)


# -- special files in a code folder (item 2) ----------------------------------------------------


def test_special_files_are_skipped_and_a_huge_folder_is_said_to_be_too_big(tmp_path: Path) -> None:
    code = tmp_path / "fn"
    code.mkdir()
    (code / "app.py").write_text(HANDLER)
    os.mkfifo(code / "pipe")
    (code / "zero").symlink_to("/dev/zero")
    (code / "dangling").symlink_to(tmp_path / "nowhere")
    hasher = CodeHasher()
    roots = CodeRoots(code)
    assert [rel.as_posix() for _, rel in roots.files(code)] == ["app.py"]
    first = hasher.digest(roots)
    (code / "pipe").unlink()
    (code / "pipe").write_text("now a file")
    assert hasher.digest(roots) != first
    for n in range(5):
        (code / f"m{n}.py").write_text("x = 1\n")
    with pytest.raises(CodeFolderTooLarge, match="more than 3 files: too big to be a function's code"):
        list(roots.files(code, FolderLimits(max_files=3)))
    with pytest.raises(CodeFolderTooLarge, match="more than 250 MB"):
        list(CodeRoots(Path("/")).files(Path("/"), FolderLimits(max_files=10**9)))


async def test_fifo_in_the_code_folder_at_start_and_mid_run_does_not_wedge_reload(tmp_path: Path) -> None:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text(HANDLER)
    os.mkfifo(tmp_path / "fn" / "early.fifo")
    config = tmp_path / "lambdatop.yaml"
    config.write_text("functions:\n  fn: {handler: app.handler, code: fn}\nreload:\n  poll: false\n")
    async with watched_fleet(config) as w:
        assert (await w.fleet.invoke("fn", {})).response == b'{"v": 1}'
        os.mkfifo(tmp_path / "fn" / "late")
        save(tmp_path / "fn" / "app.py", HANDLER.replace("VALUE = 1", "VALUE = 2"))
        await w.next_event("reload", "fn")
        await w.settle()
        assert (await w.fleet.invoke("fn", {})).response == b'{"v": 2}'


async def test_code_uri_slash_is_said_to_be_too_big_and_serving_goes_on(tmp_path: Path) -> None:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text(HANDLER)
    config = tmp_path / "lambdatop.yaml"
    config.write_text("functions:\n  fn: {handler: app.handler, code: fn}\n  root: {handler: app.handler, code: /}\n"
                      "reload:\n  poll: false\n")
    async with watched_fleet(config) as w:
        notice = await w.next_event("notice", "root", timeout=60)
        assert "too big to be a function's code" in notice.message and "/ holds more than" in notice.message
        assert w.service._targets is not None and Path("/") not in w.service._targets.recursive_folders
        assert (await w.fleet.invoke("fn", {})).response == b'{"v": 1}'


def test_serve_with_a_fifo_and_dev_zero_in_the_code_folder_starts_and_stops(tmp_path: Path) -> None:
    project(tmp_path, GOOD)
    os.mkfifo(tmp_path / "fn" / "pipe")
    (tmp_path / "fn" / "zero").symlink_to("/dev/zero")
    process = subprocess.Popen([sys.executable, "-m", "lambdatop.tui.cli", "serve", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tmp_path)
    try:
        assert process.stdout is not None
        while "Lambda API" not in (line := process.stdout.readline()):
            assert line, f"serve exited early with {process.wait(5)}"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
