"""Scale: N environments alive at once, each a real worker process sleeping inside its handler, and the
dashboard open over them.

N invocations of a handler that sleeps until a flag file disappears are sent
together; once every one of them holds a busy environment, the supervisor's
RSS and each worker's RSS and PSS are read from /proc, the dashboard is opened
on the fleet (Textual headless, 160×48) and driven with keys, its frames' cost
and each key's time to be handled recorded; then the flag is removed and every
invocation must come back successful.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.records import InvocationStatus
from lambdatop.tui.bench.child import run_python, unless_orphaned
from lambdatop.tui.bench.results import Figure, latency

if TYPE_CHECKING:
    from lambdatop.tui.bench.runner import BenchContext

_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass(slots=True)
class ScaleOutcome:
    wanted: int
    held: int  # environments busy at the same moment
    failures: int
    ramp_s: float  # from sending the invocations until all were busy
    supervisor_rss_before_mb: float
    supervisor_rss_mb: float
    zygote_rss_mb: float
    worker_rss_mb: float  # mean RSS of a worker (shared pages counted in full)
    worker_pss_mb: float  # mean PSS of a worker (shared pages split): the memory one more env really costs
    frame_s: list[float] = field(default_factory=list)  # the dashboard's own work per frame, all of them held
    key_s: list[float] = field(default_factory=list)  # a key press until the functions table's cursor moved

    @property
    def supervisor_kb_per_env(self) -> float:
        return (self.supervisor_rss_mb - self.supervisor_rss_before_mb) * 1024 / self.held if self.held else 0.0


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_KB / 1024
    except (OSError, IndexError, ValueError):
        return 0.0


def pss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) / 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0.0

BUSY = "busy"  # an environment's state while it serves an invocation (EnvState.BUSY)


async def hold(fleet: Fleet, function: str, count: int, flag: Path, ramp_timeout: float = 180.0,
               dashboard: bool = False) -> ScaleOutcome:
    before = rss_mb(os.getpid())
    flag.write_text("hold")
    event = {"flag": str(flag)}
    begin = time.monotonic()
    tasks = [asyncio.create_task(fleet.invoke(function, event)) for _ in range(count)]
    held = 0
    frames: list[float] = []
    keys: list[float] = []
    try:
        while time.monotonic() - begin < ramp_timeout:
            held = sum(1 for env in fleet.environments(function) if env.state == BUSY)
            if held >= count or all(task.done() for task in tasks):
                break
            await asyncio.sleep(0.05)
        ramp = time.monotonic() - begin
        supervisor = rss_mb(os.getpid())
        pids = [env.pid for env in fleet.environments(function) if env.pid and env.state == BUSY]
        worker_rss = sum(rss_mb(pid) for pid in pids) / len(pids) if pids else 0.0
        worker_pss = sum(pss_mb(pid) for pid in pids) / len(pids) if pids else 0.0
        zygote = rss_mb(fleet.spawner.pid) if fleet.spawner.pid else 0.0
        if dashboard:
            frames, keys = await drive_dashboard(fleet)
    finally:
        flag.unlink(missing_ok=True)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    failures = sum(1 for r in results if isinstance(r, BaseException) or r.record.status is not InvocationStatus.SUCCESS)
    return ScaleOutcome(count, held, failures, ramp, before, supervisor, zygote, worker_rss, worker_pss, frames, keys)


KEY_PRESSES = 20
KEY_GAP_S = 0.15  # between presses: the 4 Hz refresh runs in between, as it does while a person reads
KEY_TIMEOUT_S = 10.0


async def drive_dashboard(fleet: Fleet) -> tuple[list[float], list[float]]:
    """Open the dashboard on the running fleet and move through its functions with keys: (frame s, key s).

    A key counts as handled when the functions table's cursor has moved. Not Pilot's `press`: it waits
    for the whole process to be idle by its CPU time, which a supervisor holding thousands of busy
    environments never quite is, so that would time Textual's patience, not the dashboard.
    """
    from textual import events
    from textual.widgets import DataTable

    from lambdatop.tui.app import LambdatopApp

    app = LambdatopApp(fleet)
    keys: list[float] = []
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(1.0)  # mounted, and a few frames of the whole fleet painted
        table = app.screen.query_one("#functions", DataTable)
        for number in range(KEY_PRESSES):
            key = "j" if number % 2 == 0 else "k"  # down and back up: the table has more than one row
            before = table.cursor_row
            begin = time.monotonic()
            app.post_message(events.Key(key, key))
            while table.cursor_row == before:
                if time.monotonic() - begin > KEY_TIMEOUT_S:
                    raise RuntimeError(f"the dashboard did not handle {key!r} within {KEY_TIMEOUT_S:g} s")
                await asyncio.sleep(0.001)
            keys.append(time.monotonic() - begin)
            await asyncio.sleep(KEY_GAP_S)
        if app.refresh_failures or app.last_snapshot is None or not app.last_snapshot.functions:
            raise RuntimeError(f"the dashboard did not render the fleet: {app.refresh_failures}")
        frames = list(app.frame_costs)
    return frames, keys


SCALE_TARGET = 3_000
KEY_TARGET_MS = 100.0  # a key's effect on screen within a tenth of a second: a person reads that as at once


async def _hold_in_fresh_process(config: Path, count: int, flag: Path) -> ScaleOutcome:
    """Run `hold` in a new Python process, so the supervisor RSS is a fresh supervisor's, not the bench's."""
    outcome = await run_python("-m", "lambdatop.tui.bench.scale", str(config), str(count), str(flag), what="scale run")
    return ScaleOutcome(**outcome)


async def _main(config: Path, count: int, flag: Path) -> ScaleOutcome:
    async with Fleet(config) as fleet:
        return await hold(fleet, "sleeper", count, flag, dashboard=True)


async def run(ctx: BenchContext) -> list[Figure]:
    count = ctx.budget.scale_envs
    outcome = await _hold_in_fresh_process(ctx.project.config_path, count, ctx.project.path("scale.flag"))
    ok = outcome.held >= count and outcome.failures == 0
    held = Figure(
        "scale", "environments alive at once (sleeping handlers)", "envs", value=outcome.held, samples=count,
        target=f"{SCALE_TARGET:,} alive, no failure", met=(ok and outcome.held >= SCALE_TARGET) if count >= SCALE_TARGET else None,
        note=f"{outcome.failures} failed; all busy after {outcome.ramp_s:.1f} s"
        + ("" if count >= SCALE_TARGET else f"; --quick holds {count}"),
    )
    if not ok:
        held.error = f"held {outcome.held} of {count}, {outcome.failures} invocations failed"
    alive = f"{outcome.held:,} environments alive; Textual headless, 160×48"
    keys = latency("scale", "dashboard: a key press until handled", outcome.key_s, unit="ms",
                   note=f"{alive}; {len(outcome.key_s)} presses of j/k, {KEY_GAP_S:g} s apart")
    keys.target, keys.met = f"p50 ≤ {KEY_TARGET_MS:g} ms", keys.p50 is not None and keys.p50 <= KEY_TARGET_MS
    return [
        held,
        keys,
        latency("scale", "dashboard: one frame's own work (snapshot, tables)", outcome.frame_s, unit="ms",
                note=f"{alive}; {len(outcome.frame_s)} frames; Textual's paint after each is not counted"),
        Figure("scale", "supervisor RSS", "MB", value=outcome.supervisor_rss_mb, note=f"{outcome.supervisor_rss_before_mb:.1f} MB before"),
        Figure("scale", "supervisor RSS per env", "KB", value=outcome.supervisor_kb_per_env),
        Figure("scale", "worker RSS per env", "MB", value=outcome.worker_rss_mb, note="shared pages counted in full"),
        Figure("scale", "worker PSS per env", "MB", value=outcome.worker_pss_mb, note="shared pages split: the real cost of one more env"),
        Figure("scale", "zygote RSS", "MB", value=outcome.zygote_rss_mb),
    ]


if __name__ == "__main__":  # the fresh supervisor process of `_hold_in_fresh_process`
    result = asyncio.run(unless_orphaned(_main(Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]))))
    print(json.dumps(dataclasses.asdict(result)))
