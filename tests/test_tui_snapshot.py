"""Rendering snapshots of the main and function screens with fixed data (pytest-textual-snapshot).

The fleet is real but never started; the app renders a FleetSnapshot built
here (fixed clock, request ids, counters and extras), so the picture only
changes when the rendering does. Update after a deliberate change with
`pytest tests/test_tui_snapshot.py --snapshot-update`.
"""

from __future__ import annotations

import html
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from lambdatop.runtime.config import load_config
from lambdatop.runtime.fleet import EnvSnapshot, Fleet, FleetSnapshot, FunctionSnapshot
from lambdatop.runtime.records import InvocationRecord, InvocationStatus
from lambdatop.runtime.execution.stats import Counters
from lambdatop.runtime.observability.figures import (
    AlarmsSnapshot,
    CostView,
    CustomMetricView,
    FunctionMetricsView,
    MetricsSnapshot,
    WindowFigures,
)
from lambdatop.runtime.snapshot import AsyncQueueView
from lambdatop.tui.app import LambdatopApp

AT = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC

CONFIG = """
functions:
  api:    {handler: app.handler, memory_size: 256}
  worker: {handler: app.handler, reserved_concurrency: 5, timeout: 10}
  broken: {handler: app.handler}
"""


class FrozenApp(LambdatopApp):
    """The dashboard showing one fixed snapshot instead of a running fleet's."""

    def __init__(self, fleet: Fleet, snapshot: FleetSnapshot) -> None:
        super().__init__(fleet)
        self.frozen = snapshot
        self.frames_shown = 0  # frames taken since start (the current screen's first one may be the same)

    @property
    def source(self) -> str:
        return "template.yaml"

    async def _start_fleet(self) -> None:
        self.state = "running"

    def take_snapshot(self) -> FleetSnapshot:
        self.frames_shown += 1
        return self.frozen

    def export_screenshot(self, *, title: str | None = None, simplify: bool = False) -> str:
        self.picture = super().export_screenshot(title=title, simplify=simplify)
        return self.picture


def svg_text(svg: str) -> str:
    """An SVG screenshot's characters, row by row: enough to see in a CI log what a mismatched picture drew."""
    rows: dict[float, list[tuple[float, str]]] = {}
    for match in re.finditer(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</text>', svg):
        rows.setdefault(float(match.group(2)), []).append((float(match.group(1)), html.unescape(match.group(3))))
    lines = []
    for y in sorted(rows):
        line = ""
        for x, text in sorted(rows[y]):
            line = line.ljust(round(x / 12.2)) + text  # 12.2 px a cell in Rich's SVG export
        lines.append(line.replace("\xa0", " ").rstrip())
    return "\n".join(lines)


def mismatch(app: FrozenApp, request: pytest.FixtureRequest) -> str:
    """The picture this run drew beside the stored one, as text (the HTML report stays on the machine that ran)."""
    stored = Path(__file__).parent / "__snapshots__" / Path(__file__).stem / f"{request.node.name}.svg"
    drawn = svg_text(getattr(app, "picture", ""))
    return f"this run drew:\n{drawn}\nthe stored snapshot:\n{svg_text(stored.read_text()) if stored.exists() else '(none)'}"


@pytest.fixture
def utc() -> Iterator[None]:
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


def record(n: int, function: str, status: InvocationStatus, duration: float, cold: bool = False, **extra: object) -> InvocationRecord:
    return InvocationRecord(
        request_id=f"{n:08x}-0000-4000-8000-{n:012x}", function=function, version="$LATEST", code_version="v1",
        trigger="key", invocation_type="RequestResponse", started_at=AT - n * 0.25, ended_at=AT - n * 0.25 + duration / 1000,
        status=status, cold_start=cold, duration_ms=duration, billed_duration_ms=int(duration) + 1, memory_size_mb=128,
        max_memory_used_mb=42, **extra,  # type: ignore[arg-type]
    )


def window(invocations: int) -> WindowFigures:
    return WindowFigures(
        invocations=invocations, errors=0, error_rate=None, throttles=37, timeouts=0, cold_starts=5, duration_p50=498.0,
        duration_p90=505.0, duration_p99=512.3, duration_max=520.0, duration_avg=None, init_duration_avg=80.5,
        max_memory_used=88, concurrent_executions_max=5, async_queue_depth=None, async_event_age_max=None)


WORKER_METRICS = FunctionMetricsView(
    minute=window(300), hour=window(250),
    cost=CostView(requests=250, gb_seconds=15.625, total_usd=0.00026, per_million_usd=1.04),
    custom=(CustomMetricView(metric="Shop/Revenue", unit="None", samples=250, sum=4200.0, last_minute_sum=120.0, max=None,
                             dimensions=()),),
)


def frozen_snapshot(fleet: Fleet) -> FleetSnapshot:
    configs = fleet.functions

    def function(name: str, *, in_use: int, limit: int, envs: list[EnvSnapshot], totals: Counters, rates: tuple[float, float, float],
                 p50: float | None, p99: float | None, memory: int, history: list[int]) -> FunctionSnapshot:
        config = configs[name]
        return FunctionSnapshot(
            name=name, code_version="v1", handler=config.handler, memory_size=config.memory_size, timeout=config.timeout,
            reserved=config.reserved_concurrency, limit=limit, in_use=in_use,
            busy=sum(e.state == "busy" for e in envs), idle=sum(e.state == "idle" for e in envs),
            initializing=sum(e.state == "initializing" for e in envs), envs=envs, totals=totals,
            invocations_per_s=rates[0], errors_per_s=rates[1], throttles_per_s=rates[2], p50_ms=p50, p99_ms=p99,
            max_memory_used_mb=memory, concurrency_history=history, config=config,
        )

    def env(n: int, state: str) -> EnvSnapshot:
        return EnvSnapshot(id=f"env-{n}", pid=1000 + n, state=state, age_s=30.0 + n, idle_s=1.0, invocations=10 * n,
                           rss_mb=40.0, code_version="v1", stale=False, frozen=state == "idle", request_id=None)

    functions = [
        function("api", in_use=2, limit=995, envs=[env(1, "busy"), env(2, "busy"), env(3, "idle")],
                 totals=Counters(invocations=1200, errors=0, throttles=0, cold_starts=3), rates=(41.5, 0.0, 0.0),
                 p50=3.2, p99=18.75, memory=61, history=[0, 1, 2, 2, 3, 2, 1, 2] * 8),
        function("broken", in_use=0, limit=995, envs=[env(4, "idle")],
                 totals=Counters(invocations=40, errors=12, timeouts=2, cold_starts=1), rates=(1.0, 0.4, 0.0),
                 p50=1.1, p99=1000.4, memory=30, history=[0, 0, 1, 0] * 16),
        function("worker", in_use=5, limit=5, envs=[env(n, "busy") for n in range(5, 10)],
                 totals=Counters(invocations=250, throttles=37, cold_starts=5), rates=(5.0, 0.0, 2.5),
                 p50=498.0, p99=512.3, memory=88, history=[5] * 60),
    ]
    recent = [
        record(1, "worker", InvocationStatus.THROTTLED, 0.0),
        record(2, "api", InvocationStatus.SUCCESS, 2.91),
        record(3, "broken", InvocationStatus.ERROR, 1.07, error_type="KeyError", error_message="'id'"),
        record(4, "worker", InvocationStatus.SUCCESS, 501.2, cold=True),
        record(5, "broken", InvocationStatus.TIMEOUT, 1000.4, error_type="Sandbox.Timedout", error_message="Task timed out after 1.00 seconds"),
        record(6, "api", InvocationStatus.SUCCESS, 3.4, cold=True),
    ]
    return FleetSnapshot(
        at=AT, account_limit=1000, in_use=7, functions=functions, recent=recent, invocations_per_s=47.5,
        errors_per_s=0.4, throttles_per_s=2.5, cold_share_pct=0.6, endpoint="http://127.0.0.1:3001",
        extras={
            "metrics": MetricsSnapshot(at=AT, functions={"worker": WORKER_METRICS}),
            "alarms": AlarmsSnapshot(open=1, states={"api": "OK", "worker": "OK", "broken": "ALARM"}, alarms=(), transitions=()),
            "async": {"api": AsyncQueueView(queue_depth=0, in_flight=0, oldest_age_s=None, next_retry_at=None, dlq=0),
                      "worker": AsyncQueueView(queue_depth=12, in_flight=0, oldest_age_s=3.5, next_retry_at=None, dlq=2)},
        },
    )


async def settled(pilot: Pilot) -> None:
    """Until frames have shown the frozen snapshot, the last of them drawn at the screen's final layout, painted.

    A fixed pause is not enough on a loaded machine (the picture came out half drawn). Nor are two frames:
    one drawn before the screen's layout settled keeps its widths (a function screen's chart span said 37 s,
    not 36, beside the scrollbar that came with the content), so one more is drawn once nothing is pending.
    """
    app = pilot.app
    assert isinstance(app, FrozenApp)

    async def painted() -> None:
        deadline = time.monotonic() + 10
        while True:
            await pilot.pause()
            screen = app.screen
            pending = screen._layout_required or screen._scroll_required or screen._repaint_required or screen._dirty_widgets
            if app.last_snapshot is not None and app.frames_shown >= 2 and not pending:
                return
            assert time.monotonic() < deadline, "the screen never settled"
            await pilot.pause(0.02)

    await painted()
    app.refresh_now()
    await painted()


@pytest.fixture
def frozen_app(make_project: Callable[..., Path], tmp_path: Path, utc: None, monkeypatch: pytest.MonkeyPatch) -> FrozenApp:
    """The dashboard on a never-started fleet of three functions, showing `frozen_snapshot`."""
    config_path = make_project({name: "def handler(e, c):\n    return 1\n" for name in ("api", "worker", "broken")}, CONFIG)
    monkeypatch.chdir(tmp_path)  # paths on screen (CodeUri) are shown relative to here: the same on every run
    fleet = Fleet(load_config(config_path), work_dir=tmp_path / "work")
    return FrozenApp(fleet, frozen_snapshot(fleet))


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_main_screen_with_fixed_state(snap_compare: Callable[..., bool], frozen_app: FrozenApp, size: tuple[int, int],
                                     request: pytest.FixtureRequest) -> None:
    assert snap_compare(frozen_app, terminal_size=size, run_before=settled), mismatch(frozen_app, request)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_function_screen_with_fixed_state(snap_compare: Callable[..., bool], frozen_app: FrozenApp, size: tuple[int, int],
                                         request: pytest.FixtureRequest) -> None:
    async def open_worker(pilot: Pilot) -> None:
        await settled(pilot)
        frozen_app.open_function("worker")
        frozen_app.frames_shown = 0
        await settled(pilot)

    assert snap_compare(frozen_app, terminal_size=size, run_before=open_worker), mismatch(frozen_app, request)
