"""Baselines measured in the same run as the scenarios they judge.

- a raw round trip over a Unix socketpair between two Python processes (the
  warm path's floor: our supervisor and worker are Python processes talking
  over exactly such a socket), blocking, and the same driven from an asyncio
  loop (what any asyncio supervisor pays before doing any work);
- a raw `os.fork()` + `_exit` + `waitpid` timed inside a fresh, small Python
  process (the cold path's floor; the zygote is such a process);
- direct in-process calls of the no-op handler (the throughput ceiling);
- one Python process per invocation (what python-lambda-local style tools do).
"""

from __future__ import annotations

import asyncio
from typing import Any
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from lambdatop.tui.bench.results import Figure, latency

if TYPE_CHECKING:
    from lambdatop.tui.bench.runner import BenchContext

# About the size of a warm invoke request on the wire (request id, deadline, ARN, trace header).
MESSAGE = b"x" * 300

_ECHO = """
import socket, sys
s = socket.socket(fileno=int(sys.argv[1]))
while True:
    data = s.recv(65536)
    if not data:
        break
    s.sendall(data)
"""

_FORKS = """
import json, os, sys, time
samples = []
for _ in range(int(sys.argv[1])):
    begin = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    samples.append(time.perf_counter() - begin)
print(json.dumps(samples))
"""

_ONE_SHOT = """
import json, sys
sys.path.insert(0, sys.argv[1])
import app
print(json.dumps(app.noop(json.loads(sys.argv[2]), None)))
"""


class _EchoPeer:
    """A second Python process echoing whatever arrives on its end of a socketpair."""

    def __init__(self) -> None:
        self.ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.process = subprocess.Popen([sys.executable, "-c", _ECHO, str(theirs.fileno())], pass_fds=[theirs.fileno()])
        theirs.close()

    def close(self) -> None:
        self.ours.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def socket_round_trips(samples: int, warmup: int = 200) -> list[float]:
    """Seconds per blocking send + receive of MESSAGE through an echoing peer process."""
    peer = _EchoPeer()
    sock, size = peer.ours, len(MESSAGE)
    timings: list[float] = []
    try:
        for index in range(warmup + samples):
            begin = time.perf_counter()
            sock.sendall(MESSAGE)
            got = 0
            while got < size:
                got += len(sock.recv(65536))
            if index >= warmup:
                timings.append(time.perf_counter() - begin)
    finally:
        peer.close()
    return timings


async def asyncio_round_trips(samples: int, warmup: int = 200) -> list[float]:
    """The same round trip driven the way the supervisor drives a worker: add_reader + a future per message."""
    peer = _EchoPeer()
    loop = asyncio.get_running_loop()
    sock, size = peer.ours, len(MESSAGE)
    sock.setblocking(False)
    state: dict[str, Any] = {"got": 0, "waiter": None}

    def readable() -> None:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        state["got"] = int(state["got"]) + len(data)
        waiter = state["waiter"]
        if int(state["got"]) >= size and isinstance(waiter, asyncio.Future) and not waiter.done():
            waiter.set_result(None)

    loop.add_reader(sock.fileno(), readable)
    timings: list[float] = []
    try:
        for index in range(warmup + samples):
            begin = time.perf_counter()
            state["got"] = 0
            waiter = loop.create_future()
            state["waiter"] = waiter
            sock.send(MESSAGE)
            await waiter
            if index >= warmup:
                timings.append(time.perf_counter() - begin)
    finally:
        loop.remove_reader(sock.fileno())
        sock.setblocking(True)
        peer.close()
    return timings


def fork_exit_wait(samples: int) -> list[float]:
    """Seconds per os.fork() + os._exit(0) + os.waitpid(), in a fresh Python process."""
    out = subprocess.run([sys.executable, "-c", _FORKS, str(samples + 20)], capture_output=True, check=True, timeout=120)
    return json.loads(out.stdout)[20:]


def direct_calls(project_root: Path, seconds: float) -> tuple[int, float]:
    """(calls, elapsed s) of the no-op handler called in this process, in a loop, for `seconds`."""
    spec = importlib.util.spec_from_file_location("lambdatop_bench_app", project_root / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler, event = module.noop, {"n": 1}
    calls = 0
    begin = time.perf_counter()
    deadline = begin + seconds
    while True:
        for _ in range(1000):
            handler(event, None)
        calls += 1000
        if time.perf_counter() >= deadline:
            break
    return calls, time.perf_counter() - begin


async def process_per_invocation(project_root: Path, count: int, concurrency: int) -> tuple[int, float]:
    """(invocations, elapsed s) when every invocation starts a fresh Python process, `concurrency` at a time."""
    remaining = count
    failures = 0

    async def lane() -> None:
        nonlocal remaining, failures
        while remaining > 0:
            remaining -= 1
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-c", _ONE_SHOT, str(project_root), '{"n": 1}',
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            )
            out, _ = await process.communicate()
            if process.returncode != 0 or out.strip() != b"null":
                failures += 1

    begin = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    elapsed = time.perf_counter() - begin
    if failures:
        raise RuntimeError(f"{failures} of {count} one-shot processes failed")
    return count, elapsed


# Round trips are measured with a fresh peer process per round and pooled: where the scheduler
# places the two processes (same core or not) moves a single run's figure by 2-4× on a VM.
ROUNDS = 5


async def run(ctx: BenchContext) -> list[Figure]:
    budget = ctx.budget
    figures = []
    per_round = max(100, budget.socket_samples // ROUNDS)
    blocking_samples: list[float] = []
    looped_samples: list[float] = []
    for _ in range(ROUNDS):
        blocking_samples += socket_round_trips(per_round)
        looped_samples += await asyncio_round_trips(per_round)
    note = f"{ROUNDS} peer processes, pooled"
    blocking = latency("baselines", "socket round trip, 2 processes (blocking)", blocking_samples, note=note)
    ctx.baselines["socket_round_trip_us"] = blocking.p50 or 0.0
    figures.append(blocking)
    looped = latency("baselines", "socket round trip, 2 processes (asyncio)", looped_samples, note=note)
    ctx.baselines["asyncio_round_trip_us"] = looped.p50 or 0.0
    figures.append(looped.judge("socket round trip (blocking)", blocking.p50, "report", None))
    forks = latency("baselines", "os.fork() + _exit + waitpid", fork_exit_wait(budget.fork_samples))
    ctx.baselines["fork_us"] = forks.p50 or 0.0
    figures.append(forks)
    calls, elapsed = direct_calls(ctx.project.root, budget.direct_s)
    ctx.baselines["direct_rate"] = calls / elapsed
    figures.append(Figure("baselines", "direct in-process handler calls", "inv/s", value=calls / elapsed, samples=calls))
    count, elapsed = await process_per_invocation(ctx.project.root, budget.one_shot_invocations, os.cpu_count() or 2)
    ctx.baselines["one_shot_rate"] = count / elapsed
    figures.append(Figure(
        "baselines", "one process per invocation", "inv/s", value=count / elapsed, samples=count,
        note=f"python -c per invocation, {os.cpu_count() or 2} at a time",
    ))
    return figures
