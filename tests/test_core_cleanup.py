"""No worker or zygote outlives lambdatop: after Fleet.stop(), after Ctrl-C, after the supervisor is killed."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

from lambdatop.runtime.fleet import Fleet

from .conftest import REPO_ROOT, SAMPLE_TEMPLATE


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            continue
    return alive


def _wait_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _alive(pids)


async def test_stop_leaves_no_worker_or_zygote() -> None:
    fleet = Fleet(SAMPLE_TEMPLATE)
    await fleet.start()
    await asyncio.gather(*(fleet.invoke("slow", {"sleep_ms": 50}) for _ in range(4)), fleet.invoke("hello", {}))
    pids = [fleet.spawner.pid] + [e.pid for name in fleet.pools for e in fleet.environments(name)]
    assert len(_alive(pids)) == 6
    await fleet.stop()
    assert _wait_gone(pids) == []
    assert not fleet.work_dir.exists()


async def test_stop_waits_for_in_flight_invocations() -> None:
    fleet = Fleet(SAMPLE_TEMPLATE)
    await fleet.start()
    running = asyncio.create_task(fleet.invoke("slow", {"sleep_ms": 400}))
    deadline = time.monotonic() + 15
    while not any(e.state == "busy" for e in fleet.environments("slow")):  # in its handler, not still queued
        assert time.monotonic() < deadline, "the invocation never started"
        await asyncio.sleep(0.01)
    await fleet.stop()
    result = await running
    assert result.record.status == "success"


def _children_after_start(proc: subprocess.Popen[bytes], want: int, timeout: float = 15.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = psutil.Process(proc.pid).children(recursive=True)
        if len(children) >= want:
            return [c.pid for c in children]
        time.sleep(0.05)
    raise AssertionError(f"expected {want} descendants, saw {psutil.Process(proc.pid).children(recursive=True)}")


def test_ctrl_c_on_lambdatop_invoke_leaves_nothing_behind(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"sleep_ms": 8000}')
    proc = subprocess.Popen(
        [sys.executable, "-m", "lambdatop.tui.cli", "invoke", "slow", "--event", str(event), "--config", str(SAMPLE_TEMPLATE)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        # As from a terminal: a test run started in the background (nohup, `&` in a script) ignores SIGINT,
        # and an ignored SIGINT is inherited, so Python would install no KeyboardInterrupt handler at all.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    pids = _children_after_start(proc, want=3)  # the zygote, its spare and the busy worker
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=15) == 130
    assert _wait_gone(pids) == []


def test_supervisor_killed_with_sigkill_takes_its_workers_along(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"sleep_ms": 8000}')
    proc = subprocess.Popen(
        [sys.executable, "-m", "lambdatop.tui.cli", "invoke", "slow", "-n", "3", "-C", "3", "--event", str(event),
         "--config", str(SAMPLE_TEMPLATE)],
        cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    pids = _children_after_start(proc, want=5)  # the zygote, its spare and three busy workers
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=5)
    assert _wait_gone(pids) == []


def _zygote(control: socket.socket, cgroup_root: Path) -> subprocess.Popen[bytes]:
    """A zygote started by hand, as the supervisor starts one, its children to join `cgroup_root` (a plain folder
    here: joining writes the pid into a file, which a real cgroup would take as the move)."""
    return subprocess.Popen([sys.executable, "-m", "lambdatop.runtime.worker.zygote", str(control.fileno()),
                             "--cgroup", str(cgroup_root)], pass_fds=[control.fileno()], stderr=subprocess.PIPE)


def test_a_zygote_told_to_stop_before_it_has_started_forks_nothing(tmp_path: Path) -> None:
    # A one-shot command's second Python can still be starting when the command is done: its zygote must not
    # fork a spare into the cgroup folders the first zygote's end is removing.
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    root = tmp_path / "run"
    root.mkdir()
    zygote = _zygote(theirs, root)
    theirs.close()
    ours.shutdown(socket.SHUT_WR)  # the supervisor stops before the zygote has read anything; we still hear it
    message, fds, _, _ = socket.recv_fds(ours, 4096, 1)
    for fd in fds:
        os.close(fd)
    assert (message, fds) == (b"", []), "the zygote forked a spare (SpareReady) after it was told to stop"
    _, stderr = zygote.communicate(timeout=30)
    assert zygote.returncode == 0, stderr


def test_a_spare_forked_as_the_run_ends_goes_without_a_word(tmp_path: Path) -> None:
    # The run's folder gone (another zygote's end removed it): the spare cannot join, and that is no news.
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    zygote = _zygote(theirs, tmp_path / "removed-by-another-zygote")
    theirs.close()
    _, fds, _, _ = socket.recv_fds(ours, 4096, 1)  # its first spare's socket: forked, and failing to join
    spare = socket.socket(fileno=fds[0])
    assert spare.recv(1) == b""  # the spare has exited
    spare.close()
    ours.close()
    _, stderr = zygote.communicate(timeout=30)
    assert b"could not be set up" not in stderr, stderr.decode()
