"""An environment is its whole process tree (issue 18 item 6, issue 19's `cpu: proportional`).

Each test runs in every isolation this machine can give (`LAMBDATOP_CGROUPS`:
cgroup v1, cgroup v2, and the fallback without cgroups), skipping one the
machine lacks: what a handler starts (a Popen'd child, a double-forked setsid
daemon) is frozen with its environment, counted against its memory size and
killed when it retires or lambdatop stops.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from lambdatop.runtime.config import load_config
from lambdatop.runtime.errors import ConfigError
from lambdatop.runtime.execution import cgroups
from lambdatop.runtime.execution.cgroups import run_folders_of
from lambdatop.runtime.execution.sandbox import FORCE_VARIABLE, Isolation, Sandbox
from lambdatop.runtime.fleet import Fleet
from tests.conftest import gone
from tests.waiting import eventually

MODES = ["v1", "v2", "none"]

STARTS_CHILDREN = """\
import os, subprocess, time

def handler(event, context):
    child = subprocess.Popen(["sleep", "300"])
    read, write = os.pipe()
    middle = os.fork()
    if middle == 0:  # a daemon: fork, setsid, fork again; it leaves the worker's process group and session
        os.setsid()
        if os.fork() == 0:
            os.write(write, str(os.getpid()).encode())
            while True:
                time.sleep(0.01)
        os._exit(0)
    os.waitpid(middle, 0)
    return {"child": child.pid, "daemon": int(os.read(read, 32)), "worker": os.getpid()}
"""

DAEMON_HOGS_MEMORY = """\
import os, time

def handler(event, context):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            hog = []
            for _ in range(100):  # 1 GB, 10 MB at a time, under a 128 MB function
                hog.append(b"x" * (10 << 20))
            time.sleep(60)
        os._exit(0)
    time.sleep(15)
    return "the daemon's memory went unnoticed"
"""

CPU_BOUND = """\
def handler(event, context):
    total = 0
    for number in range(event["n"]):
        total += number * number
    return total
"""


@pytest.fixture(params=MODES)
def isolation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each isolation in turn, forced through LAMBDATOP_CGROUPS; skipped where this machine cannot give it."""
    mode = request.param
    if mode != "none":
        probe = Sandbox(mode)
        available = probe.isolation is not Isolation.NONE
        probe.close()
        if not available:
            pytest.skip(f"no writable cgroup {mode} here")
    monkeypatch.setenv(FORCE_VARIABLE, mode)
    return mode


def state_of(pid: int) -> str:
    """The process's state letter from /proc/PID/stat (T: stopped); '' once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0].decode()
    except (OSError, IndexError):
        return ""


async def test_children_and_daemons_are_frozen_and_killed_with_their_environment(make_project, isolation: str) -> None:
    config = make_project({"fn": STARTS_CHILDREN}, "functions:\n  fn: {handler: app.handler, code: fn, timeout: 20}\n")
    async with Fleet(config) as fleet:
        assert fleet.snapshot().isolation.startswith(f"isolation: {Isolation.NONE if isolation == 'none' else 'cgroup ' + isolation}")
        pids = json.loads((await fleet.invoke("fn", {})).response)
        env = fleet.pools["fn"].envs[next(iter(fleet.pools["fn"].envs))]
        # Idle: the worker, its child and the daemon (outside its process group) are all stopped.
        await eventually(lambda: env.frozen, "the environment is frozen")
        for name in ("worker", "child", "daemon"):
            await eventually(lambda pid=pids[name]: state_of(pid) == "T", f"the {name} is frozen with its environment")
        again = json.loads((await fleet.invoke("fn", {})).response)  # thawed: it answers, warm
        assert again["worker"] == pids["worker"]
        fleet.pools["fn"].shutdown_all()  # retired
        for name in ("worker", "child", "daemon"):
            await eventually(lambda pid=pids[name]: gone(pid), f"the {name} dies when its environment retires")
        last = json.loads((await fleet.invoke("fn", {})).response)
    for name in ("worker", "child", "daemon"):
        await eventually(lambda pid=last[name]: gone(pid), f"the {name} dies with lambdatop's stop")


async def test_a_daemons_memory_counts_against_the_function(make_project, isolation: str) -> None:
    config = make_project({"fn": DAEMON_HOGS_MEMORY},
                          "functions:\n  fn: {handler: app.handler, code: fn, memory_size: 128, timeout: 20}\n")
    async with Fleet(config) as fleet:
        result = await fleet.invoke("fn", {})
    assert result.record.error_type == "Runtime.OutOfMemory", result.response
    assert json.loads(result.response)["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")


SLEEPS_OR_HOGS = """\
import time

def handler(event, context):
    if event.get("hog"):
        hog = bytearray(400 << 20)  # 400 MB under 128 MB, and held
        for i in range(0, len(hog), 4096):
            hog[i] = 1
    time.sleep(event.get("sleep", 0))
    return "done"
"""


async def test_one_over_its_memory_among_many_busy_environments_is_still_caught(make_project, monkeypatch) -> None:
    # Without cgroups the sampler is the only enforcement, and it takes turns once many environments are busy
    # (housekeeping.MEMORY_SAMPLE_BUDGET_S): the one over its size must still get its turn.
    monkeypatch.setenv(FORCE_VARIABLE, "none")
    config = make_project({"fn": SLEEPS_OR_HOGS},
                          "functions:\n  fn: {handler: app.handler, code: fn, memory_size: 128, timeout: 60}\n")
    async with Fleet(config) as fleet:
        sleepers = [asyncio.create_task(fleet.invoke("fn", {"sleep": 8})) for _ in range(60)]
        await eventually(lambda: len(fleet.invoker.busy) >= 60, "60 environments busy")
        hog = await fleet.invoke("fn", {"hog": True, "sleep": 30})
        assert hog.record.error_type == "Runtime.OutOfMemory", hog.response
        assert all(result.response == b'"done"' for result in await asyncio.gather(*sleepers))


@pytest.mark.parametrize("mode", ["v1", "none"])
def test_a_daemon_dies_when_lambdatop_is_killed(make_project, mode: str) -> None:
    config = make_project({"fn": STARTS_CHILDREN}, "functions:\n  fn: {handler: app.handler, code: fn, timeout: 20}\n")
    process = subprocess.Popen([sys.executable, "-m", "lambdatop.tui.cli", "serve", "--port", "0", "--no-aws", "--no-store"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=config.parent,
                               env={**os.environ, FORCE_VARIABLE: mode})
    try:
        assert process.stdout is not None
        url, banner = "", []
        for line in process.stdout:
            banner.append(line)
            if line.startswith("Lambda API"):
                url = line.split()[-1]
                break
        assert any(line.strip().startswith("isolation: ") for line in banner), banner  # said at start
        with urllib.request.urlopen(f"{url}/2015-03-31/functions/fn/invocations", data=b"{}", timeout=30) as answer:
            pids = json.loads(answer.read())
        assert not gone(pids["daemon"])
        process.kill()  # kill -9: the zygote, told by the kernel, takes everything down
        process.wait(timeout=30)
        deadline = time.monotonic() + 20
        while not all(gone(pid) for pid in pids.values()):
            assert time.monotonic() < deadline, f"outlived lambdatop's kill -9: {pids}"
            time.sleep(0.05)
        while run_folders_of(process.pid):  # the zygote removed the run's cgroup folders too
            assert time.monotonic() < deadline, f"cgroup folders left: {run_folders_of(process.pid)}"
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_proportional_cpu_makes_a_small_function_slower(make_project, monkeypatch) -> None:
    monkeypatch.setenv(FORCE_VARIABLE, "v1")
    config = make_project({"small": CPU_BOUND, "big": CPU_BOUND}, """\
        defaults: {cpu: proportional, timeout: 60}
        functions:
          small: {handler: app.handler, code: small, memory_size: 128}
          big: {handler: app.handler, code: big, memory_size: 1769}
    """)
    async with Fleet(config) as fleet:
        snapshot = {f.name: f for f in fleet.snapshot().functions}
        if not snapshot["small"].cpu_enforced:
            pytest.skip("no writable cpu cgroup here")
        assert snapshot["small"].cpu_share == pytest.approx(128 / 1769) and snapshot["big"].cpu_share == pytest.approx(1.0)
        durations: dict[str, list[float]] = {"small": [], "big": []}
        for _ in range(3):  # interleaved, so a burst of load on the machine falls on both
            for name in ("big", "small"):
                result = await fleet.invoke(name, {"n": 1_500_000})
                assert result.record.error_type is None, result.response
                durations[name].append(result.record.duration_ms)
    ratio = min(durations["small"]) / min(durations["big"])
    assert ratio >= 3, f"128 MB took only {ratio:.1f}x the time of 1769 MB: {durations}"


def test_a_dead_runs_cgroups_are_swept_at_the_next_start(tmp_path: Path) -> None:
    probe = Sandbox("v1")
    if probe.isolation is not Isolation.V1:
        probe.close()
        pytest.skip("no writable cgroup v1 here")
    parent = probe.hierarchies[0].run_folder.parent
    probe.close()
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = parent / f"{cgroups.RUN_PREFIX}{dead.pid}-1"
    (stale / "4242").mkdir(parents=True)
    again = Sandbox("v1")
    try:
        assert not stale.exists()
        assert again.hierarchies[0].run_folder.exists()
    finally:
        again.close()
    assert not again.hierarchies and not any(p.name.startswith(cgroups.run_folder_name()) for p in parent.iterdir())


def test_the_fallback_says_what_it_cannot_do() -> None:
    line = Sandbox("none").describe()
    assert line.startswith("isolation: none: subreaper + process group")
    assert "`cpu: proportional` cannot be applied" in line


@pytest.mark.parametrize(("text", "message"), [
    ("defaults: {cpu: proportionl}\nfunctions:\n  fn: {handler: app.handler}\n", "must be unlimited or proportional"),
    ("functions:\n  fn: {handler: app.handler, cpus: proportional}\n", "cpus"),
])
def test_cpu_setting_errors_name_the_choices(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "fn").mkdir()
    (tmp_path / "lambdatop.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path / "lambdatop.yaml")


def test_cpu_setting_in_lambdatop_yaml_and_sam_metadata(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    (tmp_path / "lambdatop.yaml").write_text(
        "defaults: {cpu: proportional}\nfunctions:\n  a: {handler: app.handler}\n  b: {handler: app.handler, cpu: unlimited}\n")
    functions = load_config(tmp_path / "lambdatop.yaml").functions
    assert (functions["a"].cpu, functions["b"].cpu) == ("proportional", "unlimited")
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nMetadata:\n  lambdatop: {cpu: proportional}\nResources:\n"
        "  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {Handler: app.handler, Runtime: python3.12, CodeUri: .}\n")
    assert load_config(tmp_path / "template.yaml").functions["Fn"].cpu == "proportional"


async def test_the_function_screen_shows_proportional_cpu_and_the_isolation(make_project, monkeypatch) -> None:
    from lambdatop.tui.screens.function import FunctionScreen

    monkeypatch.setenv(FORCE_VARIABLE, "none")
    config = make_project({"small": CPU_BOUND, "plain": CPU_BOUND}, """\
        functions:
          small: {handler: app.handler, code: small, memory_size: 128, cpu: proportional}
          plain: {handler: app.handler, code: plain}
    """)
    async with Fleet(config) as fleet:
        snapshot = fleet.snapshot()
    functions = {f.name: f for f in snapshot.functions}
    small = FunctionScreen._config(None, functions["small"], snapshot).plain  # type: ignore[arg-type]
    assert "0.07 vCPU (proportional: 128 MB / 1769 MB), not applied: no writable cpu cgroup" in small
    assert "Isolation           none: subreaper + process group" in small
    assert "CPU " not in FunctionScreen._config(None, functions["plain"], snapshot).plain  # type: ignore[arg-type]
    title = FunctionScreen._title(None, functions["small"], snapshot).plain  # type: ignore[arg-type]
    assert "128 MB (0.07 vCPU, not applied)" in title


async def test_init_over_the_memory_size_is_out_of_memory(make_project, isolation: str) -> None:
    # With a memory cgroup the kernel stops it; without one (the fallback) the worker's own peak at the end of
    # Init says so, however fast the Init was (the 20 ms sampler alone could miss it).
    config = make_project({"fn": 'hog = b"x" * (300 << 20)\ndel hog\n\ndef handler(e, c):\n    return 1\n'},
                          "functions:\n  fn: {handler: app.handler, code: fn, memory_size: 128}\n")
    async with Fleet(config) as fleet:
        if isolation != "none" and (not fleet.zygotes.sandbox or not fleet.zygotes.sandbox.info.memory_limit):
            pytest.skip("no writable memory cgroup here")
        result = await fleet.invoke("fn", {})
    assert result.record.error_type == "Runtime.OutOfMemory", result.response
    assert "Phase: init\tStatus: error\tError Type: Runtime.OutOfMemory" in result.log_text


async def test_a_handler_that_passes_the_memory_size_between_two_samples_is_out_of_memory(make_project, isolation: str) -> None:
    # 300 MB taken and freed within one invocation, faster than the sampler's 20 ms: its peak still says so.
    config = make_project({"fn": 'def handler(e, c):\n    hog = b"x" * (300 << 20)\n    del hog\n    return 1\n'},
                          "functions:\n  fn: {handler: app.handler, code: fn, memory_size: 128}\n")
    async with Fleet(config) as fleet:
        result = await fleet.invoke("fn", {})
        again = await fleet.invoke("fn", {})
    assert result.record.error_type == "Runtime.OutOfMemory", result.response
    assert again.record.cold_start  # the environment went with it, as Lambda ends the sandbox


async def test_a_daemon_dies_with_its_environment_when_the_worker_itself_is_killed(make_project, isolation: str) -> None:
    # Without cgroups the daemon's worker was its subreaper: killed, the daemon came to the zygote, outside every
    # environment's process group, and used to live on until lambdatop stopped.
    config = make_project({"fn": STARTS_CHILDREN}, "functions:\n  fn: {handler: app.handler, code: fn, timeout: 20}\n")
    async with Fleet(config) as fleet:
        pids = json.loads((await fleet.invoke("fn", {})).response)
        assert fleet.kill_environment("fn") is not None
        for name in ("worker", "child", "daemon"):
            await eventually(lambda pid=pids[name]: gone(pid), f"the {name} dies with its killed worker's environment")
        again = json.loads((await fleet.invoke("fn", {})).response)  # the next environment's are not touched
        assert not gone(again["daemon"]) and not gone(again["child"])
