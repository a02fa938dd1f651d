"""Chaos: hostile handlers and processes killed from outside (issue 18 items 3, 4, 6, 8, 15).

Bounded: each invocation has a short function timeout, every wait has a
deadline, and whatever a handler starts is checked gone afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from lambdatop.runtime.fleet import Fleet
from tests.conftest import gone
from tests.waiting import eventually

FORK_THEN_EXIT = """\
import os, time

def handler(event, context):
    child = os.fork()
    if child == 0:
        time.sleep(60)  # holds the worker's socket open, as a multiprocessing child does
        os._exit(0)
    with open(event["pidfile"], "w") as out:
        out.write(str(child))
    os._exit(3)
"""

FORK_AND_RETURN = """\
import os, subprocess, time

def handler(event, context):
    pids = []
    child = os.fork()
    if child == 0:
        time.sleep(60)
        os._exit(0)
    pids.append(child)
    pids.append(subprocess.Popen(["sleep", "60"]).pid)
    read, write = os.pipe()
    middle = os.fork()
    if middle == 0:  # a double-fork daemon (without setsid): the grandchild outlives its parent
        if os.fork() == 0:
            os.write(write, str(os.getpid()).encode())
            time.sleep(60)
        os._exit(0)
    os.waitpid(middle, 0)
    pids.append(int(os.read(read, 32)))
    return {"pids": pids, "pid": os.getpid()}
"""


async def test_os_exit_after_a_fork_is_an_exit_error_at_once(make_project, tmp_path: Path) -> None:
    config = make_project({"fn": FORK_THEN_EXIT}, "functions:\n  fn: {handler: app.handler, code: fn, timeout: 20}\n")
    pidfile = tmp_path / "child.pid"
    async with Fleet(config) as fleet:
        started = time.monotonic()
        result = await fleet.invoke("fn", {"pidfile": str(pidfile)})
        took = time.monotonic() - started
        assert result.record.error_type == "Runtime.ExitError", result.response
        assert "Runtime exited with error: exit status 3" in json.loads(result.response)["errorMessage"]
        assert took < 15, f"waited {took:.1f} s: the forked child's open socket was taken for a live worker"
        child = int(pidfile.read_text())
        await eventually(lambda: gone(child), "the handler's forked child dies with its environment")


async def test_handler_children_die_with_their_environment_and_with_lambdatop(make_project) -> None:
    config = make_project({"fn": FORK_AND_RETURN}, "functions:\n  fn: {handler: app.handler, code: fn, timeout: 20}\n")
    async with Fleet(config) as fleet:
        first = json.loads((await fleet.invoke("fn", {})).response)
        assert not any(gone(pid) for pid in first["pids"])
        # Killed from outside while idle (frozen): the pool hears of it from the zygote at once,
        # although the forked child still holds the worker's socket open.
        os.kill(first["pid"], signal.SIGKILL)
        await eventually(lambda: all(gone(pid) for pid in first["pids"]), "children of a worker killed from outside")
        await eventually(lambda: not fleet.pools["fn"].envs, "the killed worker leaves the pool")
        second = await fleet.invoke("fn", {})
        assert second.record.cold_start and second.record.error_type is None
        children = json.loads(second.response)["pids"]
    await eventually(lambda: all(gone(pid) for pid in children), "handler children outliving lambdatop's stop")


READ_ENVIRON = """\
def handler(event, context):
    with open("/proc/self/environ", "rb") as raw:
        return sorted(item.split(b"=", 1)[0].decode() for item in raw.read().split(b"\\0") if item)
"""


async def test_the_hosts_environment_does_not_reach_proc_self_environ(make_project, monkeypatch) -> None:
    monkeypatch.setenv("HOST_SECRET_TOKEN", "s3cr3t")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "host-key")
    config = make_project({"fn": READ_ENVIRON}, "functions:\n  fn: {handler: app.handler, code: fn}\n")
    async with Fleet(config) as fleet:
        names = json.loads((await fleet.invoke("fn", {})).response)
    assert "HOST_SECRET_TOKEN" not in names and "AWS_SECRET_ACCESS_KEY" not in names
    assert set(names) <= {"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}


STOP_ZYGOTE = """\
import os, signal

def handler(event, context):
    if event.get("stop"):
        os.kill(os.getppid(), signal.SIGSTOP)  # the worker's parent is the zygote
    return os.getpid()
"""


async def test_a_function_that_stops_the_zygote_does_not_stall_later_cold_starts(make_project) -> None:
    config = make_project({"fn": STOP_ZYGOTE}, "functions:\n  fn: {handler: app.handler, code: fn, timeout: 30}\n")
    async with Fleet(config) as fleet:
        assert (await fleet.invoke("fn", {"stop": True})).record.error_type is None
        zygote = fleet.spawner.pid
        assert zygote is not None
        await eventually(lambda: psutil.Process(zygote).status() == psutil.STATUS_STOPPED, "the zygote stops")
        for _ in range(3):  # each needs a fork: the first takes the spare, the next ones the zygote
            fleet.pools["fn"].shutdown_all()
            started = time.monotonic()
            result = await asyncio.wait_for(fleet.invoke("fn", {}), 15)
            assert result.record.cold_start and result.record.error_type is None
            assert time.monotonic() - started < 8, "a cold start waited on a stopped zygote"


CLOSE_FDS = """\
import os, sys

def handler(event, context):
    if event.get("close"):
        os.close(1)
        os.close(2)
        if event.get("streams"):
            sys.stdout.close()
            sys.stderr.close()
        raise ValueError("the handler's own error")
    print("logged after all")
    return "fine"
"""


@pytest.mark.parametrize("streams", [False, True], ids=["fds 1 and 2", "and sys.stdout/sys.stderr"])
async def test_a_handler_that_closes_its_output_keeps_its_own_error(make_project, streams: bool) -> None:
    config = make_project({"fn": CLOSE_FDS}, "functions:\n  fn: {handler: app.handler, code: fn}\n")
    async with Fleet(config) as fleet:
        failed = await fleet.invoke("fn", {"close": True, "streams": streams})
        assert failed.record.error_type == "ValueError", failed.response
        assert "the handler's own error" in failed.log_text
        after = await fleet.invoke("fn", {})
        assert not after.record.cold_start, "the environment survived"
        assert after.response == b'"fine"' and "logged after all" in after.log_text


async def test_a_deleted_code_folder_is_said_to_be_gone(make_project) -> None:
    config = make_project({"fn": "def handler(e, c):\n    return 1\n"}, "functions:\n  fn: {handler: app.handler, code: fn}\n")
    async with Fleet(config) as fleet:
        shutil.rmtree(config.parent / "fn")
        result = await fleet.invoke("fn", {})
    assert result.record.error_type == "Runtime.ImportModuleError"
    assert f"the code folder {config.parent / 'fn'} does not exist" in json.loads(result.response)["errorMessage"]
    assert "bootstrap" not in result.log_text and "runtime/worker" not in result.log_text


def test_handler_children_die_when_lambdatop_is_killed(make_project) -> None:
    config = make_project({"fn": FORK_AND_RETURN}, "functions:\n  fn: {handler: app.handler, code: fn, timeout: 20}\n")
    process = subprocess.Popen([sys.executable, "-m", "lambdatop.tui.cli", "serve", "--port", "0", "--no-aws", "--no-store"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=config.parent)
    try:
        assert process.stdout is not None
        url = ""
        for line in process.stdout:
            if line.startswith("Lambda API"):
                url = line.split()[-1]
                break
        with urllib.request.urlopen(f"{url}/2015-03-31/functions/fn/invocations", data=b"{}", timeout=30) as answer:
            pids = json.loads(answer.read())["pids"]
        assert not any(gone(pid) for pid in pids)
        process.kill()  # kill -9: nothing of lambdatop runs after this
        process.wait(timeout=30)
        deadline = time.monotonic() + 20
        while not all(gone(pid) for pid in pids):
            assert time.monotonic() < deadline, "handler children outlived lambdatop's kill -9"
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


CHILD_HOGS_MEMORY = """\
import subprocess, sys, time

def handler(event, context):
    hog = subprocess.Popen([sys.executable, "-c", "b = bytearray(400 * 1024 * 1024); import time; time.sleep(30)"])
    with open(event["pidfile"], "w") as out:
        out.write(str(hog.pid))
    time.sleep(15)
    return "the child's 400 MB went unnoticed"
"""


async def test_memory_a_handlers_child_holds_counts_against_the_function(make_project, tmp_path: Path) -> None:
    config = make_project({"fn": CHILD_HOGS_MEMORY}, "functions:\n  fn: {handler: app.handler, code: fn, memory_size: 128, timeout: 20}\n")
    pidfile = tmp_path / "hog.pid"
    async with Fleet(config) as fleet:
        result = await fleet.invoke("fn", {"pidfile": str(pidfile)})
        assert result.record.error_type == "Runtime.OutOfMemory", result.response
        hog = int(pidfile.read_text())
        await eventually(lambda: gone(hog), "the child dies with its environment")
