"""Start-up: how long the commands users type take before they are of use, beside Python's own start.

- `lambdatop --help` and a one-shot `lambdatop invoke noop` (process start to exit, wall), each
  judged against `python -c pass`;
- `lambdatop serve --no-aws`: process start to its first answered request (ListFunctions), judged
  against a raw aiohttp app started and asked the same way; `serve` with its AWS sidecar (the default)
  is reported beside it.

Every command runs in a fresh process, as a user runs it, on the bench project. Each is run once
before it is timed, with PYTHONDONTWRITEBYTECODE dropped, so the figures are those of an installed
package with its bytecode cached (pip compiles it at install). Repeats interleave each command with
its baseline, so a change of load on the machine moves both.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lambdatop.tui.bench.results import Figure, latency

if TYPE_CHECKING:
    from lambdatop.tui.bench.runner import BenchContext

ANSWER_TIMEOUT_S = 60.0  # a serve that has not answered by then has failed to start
POLL_S = 0.002  # between connection attempts while a server comes up: the figures' resolution

# The baseline server: the least an aiohttp app does to answer the same request.
_RAW_AIOHTTP = """
import sys
from aiohttp import web

async def functions(request):
    return web.json_response({"Functions": []})

app = web.Application()
app.router.add_get("/2015-03-31/functions/", functions)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


def lambdatop_command() -> list[str]:
    """The `lambdatop` console script beside this Python (what users run), else the module."""
    script = Path(sys.executable).parent / "lambdatop"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "lambdatop.tui.cli"]


def _environment() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def time_run(argv: Sequence[str], cwd: Path) -> tuple[float, float]:
    """Seconds from spawning `argv` to its exit, and the CPU seconds its process tree used; it must succeed."""
    before = _children_cpu()
    begin = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - begin
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed (exit {done.returncode}): {done.stderr.decode()[-600:]}")
    return elapsed, _children_cpu() - before


def _children_cpu() -> float:
    """User + system time of every waited-for descendant (a fleet's zygote and workers are waited for by it)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answered(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/2015-03-31/functions/")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def time_first_answer(argv: Sequence[str], port: int, cwd: Path) -> float:
    """Seconds from spawning the server `argv` to its first 200 on port `port`; then it is stopped (SIGINT)."""
    begin = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env=_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while not _answered(port):
            if process.poll() is not None:
                raise RuntimeError(f"{' '.join(argv)} exited ({process.returncode}) before answering: "
                                   f"{process.stderr.read().decode()[-600:] if process.stderr else ''}")
            if time.perf_counter() - begin > ANSWER_TIMEOUT_S:
                raise RuntimeError(f"{' '.join(argv)} did not answer within {ANSWER_TIMEOUT_S:.0f} s")
            time.sleep(POLL_S)
        return time.perf_counter() - begin
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _measure(ctx: BenchContext) -> dict[str, list[float]]:
    """Every sample, interleaved: a repeat runs each command once, beside its baseline."""
    root, config = ctx.project.root, str(ctx.project.config_path)
    lambdatop = lambdatop_command()
    one_shots = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "lambdatop --help": [*lambdatop, "--help"],
        "lambdatop invoke noop": [*lambdatop, "invoke", "noop", "-c", config],
    }

    def servers(port: int) -> dict[str, list[str]]:
        return {
            "raw aiohttp app": [sys.executable, "-c", _RAW_AIOHTTP, str(port)],
            "lambdatop serve --no-aws": [*lambdatop, "serve", "--port", str(port), "--no-aws", "-q", "-c", config],
            # The default: the AWS services sidecar (moto) on a free port; it takes seconds, so fewer runs.
            "lambdatop serve": [*lambdatop, "serve", "--port", str(port), "--aws-port", "0", "-q", "-c", config],
        }

    samples: dict[str, list[float]] = {name: [] for name in [*one_shots, *servers(0), *(f"{n}: CPU" for n in one_shots)]}
    for argv in one_shots.values():  # once untimed: bytecode written, the store created
        time_run(argv, root)
    warm_up = free_port()
    for name, argv in servers(warm_up).items():
        if name != "lambdatop serve":  # the sidecar's imports are moto's, timed only in its own runs
            time_first_answer(argv, warm_up, root)
    for repeat in range(ctx.budget.startup_repeats):
        for name, argv in one_shots.items():
            wall, cpu = time_run(argv, root)
            samples[name].append(wall)
            samples[f"{name}: CPU"].append(cpu)
        port = free_port()
        for name, argv in servers(port).items():
            if name != "lambdatop serve" or repeat < ctx.budget.startup_sidecar_repeats:
                samples[name].append(time_first_answer(argv, port, root))
    return samples


def _spread(samples: list[float]) -> str:
    return f"{len(samples)} runs, {min(samples) * 1e3:.0f}–{max(samples) * 1e3:.0f} ms"


async def run(ctx: BenchContext) -> list[Figure]:
    samples = await asyncio.to_thread(_measure, ctx)
    figures = {name: latency("startup", name, values, unit="ms", note=_spread(values)) for name, values in samples.items()}
    python, raw = figures["python -c pass"], figures["raw aiohttp app"]
    figures["lambdatop --help"].judge("python -c pass", python.p50, "p50 ≤ 2× baseline", 2.0)
    figures["lambdatop invoke noop"].judge("python -c pass", python.p50, "p50 ≤ 4× baseline", 4.0)
    figures["lambdatop invoke noop"].note += "; a fresh fleet: config, zygote, one cold start, the store, then a clean stop"
    figures["raw aiohttp app"].note += "; start → first answered GET /2015-03-31/functions/"
    figures["lambdatop serve --no-aws"].judge("raw aiohttp app", raw.p50, "p50 ≤ 1.2× baseline", 1.2)
    figures["lambdatop serve --no-aws"].note += "; start → first answered ListFunctions (store, observability, watcher on)"
    figures["lambdatop serve"].judge("raw aiohttp app", raw.p50, "report ratio", None)
    figures["lambdatop serve"].note += "; with the AWS services sidecar (moto), which the endpoint waits for"
    for name in ("lambdatop serve --no-aws", "lambdatop serve"):
        figures[name].figure = f"{name}: first answer"
    for name in ("lambdatop --help", "lambdatop invoke noop"):  # what load on the machine moves less than wall time
        figures[f"{name}: CPU"].judge("python -c pass: CPU", figures["python -c pass: CPU"].p50, "report ratio", None)
        figures[f"{name}: CPU"].note += "; user + system time of the whole process tree"
    for name in ("python -c pass", "raw aiohttp app", "python -c pass: CPU"):
        figures[name].figure = f"baseline: {name}"
    return list(figures.values())
