"""Runs the scenario groups in order on a generated project and collects their figures.

The baselines always run first, in the same process and the same minutes as
the scenarios they judge (these machines are noisy: a ratio to a baseline
measured now means more than an absolute time). A scenario that fails to run
yields a figure carrying its error instead of stopping the others. Whatever
happens, no process started by the bench outlives it.
"""

from __future__ import annotations

import importlib
import os
import platform
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psutil
from lambdatop.tui.bench import SCENARIOS
from lambdatop.tui.bench.project import BenchProject
from lambdatop.tui.bench.results import BenchReport, Figure

# Where a group's module name differs from its scenario name (`async` is a keyword; `reload.py`
# belongs to the hot-reload capability, which this group calls).
_MODULES = {"async": "async_delivery", "http": "http_invoke", "reload": "hot_reload", "sqs": "sqs_trigger", "store": "store_size"}


@dataclass(frozen=True, slots=True)
class Budget:
    """How much each scenario measures: `--quick` for CI, the full run for the README."""

    warm_samples: int
    cold_samples: int
    socket_samples: int
    fork_samples: int
    throughput_s: float
    direct_s: float
    one_shot_invocations: int
    scale_envs: int
    ui_s: float
    reload_samples: int
    async_messages: int
    http_s: float
    startup_repeats: int  # fresh processes of each command (and its baseline), interleaved
    startup_sidecar_repeats: int  # of those, the runs of `serve` with its AWS sidecar (seconds each)
    store_invocations: int


QUICK = Budget(
    warm_samples=2_000, cold_samples=30, socket_samples=5_000, fork_samples=300, throughput_s=2.0, direct_s=0.3,
    one_shot_invocations=12, scale_envs=200, ui_s=2.0, reload_samples=3, async_messages=200, http_s=1.5,
    startup_repeats=3, startup_sidecar_repeats=1, store_invocations=500,
)
FULL = Budget(
    warm_samples=10_000, cold_samples=200, socket_samples=20_000, fork_samples=2_000, throughput_s=10.0, direct_s=1.0,
    one_shot_invocations=60, scale_envs=3_000, ui_s=10.0, reload_samples=10, async_messages=2_000,
    http_s=5.0, startup_repeats=11, startup_sidecar_repeats=3, store_invocations=5_000,
)


@dataclass
class BenchContext:
    """What every scenario group gets: the budget, the project, and the baselines measured so far."""

    quick: bool
    budget: Budget
    project: BenchProject
    baselines: dict[str, float] = field(default_factory=dict)  # name -> p50 (µs) or rate (inv/s)
    progress: Callable[[str], None] = lambda message: None


def machine() -> dict[str, object]:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(), "cpu": model, "python": platform.python_version(),
        "kernel": platform.release(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_at_start": round(os.getloadavg()[0], 2),  # other work on the machine moves every figure
    }


def _group(name: str) -> Callable[[BenchContext], Awaitable[list[Figure]]]:
    module = importlib.import_module(f"lambdatop.tui.bench.{_MODULES.get(name, name)}")
    return module.run


async def run_bench(
    *, quick: bool = False, only: list[str] | None = None, command: str = "lambdatop bench",
    progress: Callable[[str], None] = lambda message: None,
) -> BenchReport:
    """Run the selected scenario groups (baselines always) and return the report."""
    selected = [name for name in SCENARIOS if name == "baselines" or not only or name in only]
    report = BenchReport(
        started_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), machine=machine(), command=command,
        quick=quick, scenarios=selected,
    )
    begin = time.perf_counter()
    with BenchProject() as project:
        ctx = BenchContext(quick, QUICK if quick else FULL, project, progress=progress)
        try:
            for name in selected:
                progress(f"{name} …")
                started = time.perf_counter()
                try:
                    figures = await _group(name)(ctx)
                except Exception as exc:  # noqa: BLE001 - one broken scenario must not hide the others' figures
                    figures = [Figure(name, "failed to run", "", error=f"{type(exc).__name__}: {exc}")]
                report.figures.extend(figures)
                progress(f"{name} done in {time.perf_counter() - started:.1f} s")
        finally:
            report.leftover_processes = reap_leftovers()
    report.duration_s = time.perf_counter() - begin
    report.machine["load_average_at_end"] = round(os.getloadavg()[0], 2)
    return report


def reap_leftovers() -> int:
    """Kill (and count) any process this bench started that is still alive: there should be none."""
    leftovers = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                leftovers.append(child)
            child.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(leftovers, timeout=3)
    return len(leftovers)
