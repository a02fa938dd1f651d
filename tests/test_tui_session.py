"""A day of use in half a minute: one running dashboard, driven the way a person drives it (issue 12).

One LambdatopApp on a small project (hot reload, the durable store and its
async queue on; retry delays scaled down), and for at least 30 s of wall time,
round after round: a sync invoke, an async invoke of a function that always
fails (so it is retried twice), a burst that throttles, a kill, a hot reload
with a syntax error and then its fix (the file written for real), and the
function and invocation screens opened between them. After every step the app
must be alive with no failed frame ("screen refresh failed" never shown); at
the end every attempt of every async event is on the function screen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from lambdatop.runtime.services import ServiceOptions
from lambdatop.tui.app import LambdatopApp
from lambdatop.tui.screens.burst import BurstPrompt
from lambdatop.tui.screens.function import FunctionScreen
from lambdatop.tui.screens.invocation import InvocationScreen
from lambdatop.tui.screens.main import MainScreen
from lambdatop.tui.widgets.attempts_table import AttemptsTable
from lambdatop.tui.widgets.functions_table import FunctionsTable
from lambdatop.tui.widgets.invocation_stream import InvocationStream

from .reload_support import save
from .tui_pilot import quit_and_check, shown, started, stream_rows, wait_for

pytestmark = pytest.mark.timeout(240)

SESSION_S = 30.0
HELLO = """
def handler(event, context):
    return {"hello": event.get("name", "world")}
"""
BROKEN_HELLO = """
def handler(event, context)
    return {"hello": "never"}
"""
BOOM = """
def handler(event, context):
    raise RuntimeError("boom, every time")
"""
SLOW = """
import time


def handler(event, context):
    time.sleep(0.5)
    return "slept"
"""
CONFIG = """
async: {delay_scale: 0.01}
reload: {debounce_ms: 100}
functions:
  hello: {handler: app.handler}
  boom: {handler: app.handler, timeout: 3}
  slow: {handler: app.handler, timeout: 5, reserved_concurrency: 2}
"""


class Session:
    """The running app and what a round checks after each step."""

    def __init__(self, pilot: Pilot, app: LambdatopApp, project: Path) -> None:
        self.pilot = pilot
        self.app = app
        self.project = project
        self.rounds = 0

    @property
    def main(self) -> MainScreen:
        screen = self.app.screen_stack[0]
        assert isinstance(screen, MainScreen)
        return screen

    def select(self, function: str) -> None:
        self.main.query_one("#functions", FunctionsTable).select_function(function)

    def total(self, function: str) -> int:
        snapshot = self.app.last_snapshot
        found = next((f for f in snapshot.functions if f.name == function), None) if snapshot else None
        return found.totals.invocations + found.totals.throttles if found else 0

    def header(self) -> str:
        return str(self.main.query_one("#fleet-header").render())

    def alive(self) -> None:
        assert self.app.is_running and self.app.state == "running" and self.app.fleet.running
        assert self.app.refresh_failures == [], self.app.refresh_failures

    async def back_to_main(self) -> None:
        for _ in range(10):
            if isinstance(self.app.screen, MainScreen):
                return
            await self.pilot.press("escape")
            await self.pilot.pause()
        raise AssertionError(f"ten escapes did not lead back to the main screen from {self.app.screen!r}")

    async def sync_invoke(self) -> None:
        self.select("hello")
        before = self.total("hello")
        await self.pilot.press("i")
        await wait_for(self.pilot, lambda: self.total("hello") > before, what="hello invoked")

    async def async_invoke(self) -> None:
        self.select("boom")
        before = len(self.app.activity.recent_records("boom"))
        await self.pilot.press("a")
        await wait_for(self.pilot, lambda: len(self.app.activity.recent_records("boom")) > before, what="boom's first attempt")

    async def burst(self) -> None:
        self.select("slow")
        snapshot = self.app.last_snapshot
        throttles = next(f.totals.throttles for f in snapshot.functions if f.name == "slow") if snapshot else 0
        await self.pilot.press("b")
        await wait_for(self.pilot, lambda: isinstance(self.app.screen, BurstPrompt), what="the burst prompt")
        await self.pilot.press("enter")  # the default: twice the reserved concurrency, so half are throttled

        def throttled() -> bool:
            now = self.app.last_snapshot
            return bool(now) and next(f.totals.throttles for f in now.functions if f.name == "slow") >= throttles + 2

        await wait_for(self.pilot, throttled, timeout=20, what="the burst throttled")

    async def kill(self) -> None:
        self.select("hello")
        await self.pilot.press("K")
        await self.pilot.pause()

    async def drill_down(self) -> None:
        self.select("boom")
        await self.pilot.press("enter")
        await wait_for(self.pilot, lambda: isinstance(self.app.screen, FunctionScreen), what="boom's screen")
        fn_stream = self.app.screen.query_one("#fn-stream", InvocationStream)
        await wait_for(self.pilot, lambda: fn_stream.row_count > 0, what="boom's invocations")
        fn_stream.focus()
        await self.pilot.press("enter")
        await wait_for(self.pilot, lambda: isinstance(self.app.screen, InvocationScreen), what="an invocation")
        attempts = self.app.screen.query_one("#inv-attempts", AttemptsTable)
        await wait_for(self.pilot, lambda: attempts.row_count >= 1, what="its attempts")
        self.alive()
        await self.back_to_main()

    async def reload_broken_then_fixed(self) -> None:
        source = self.project / "hello" / "app.py"
        save(source, BROKEN_HELLO)
        await wait_for(self.pilot, lambda: "✗ hello" in self.header(), timeout=20, what="the broken reload in the header")
        self.alive()
        save(source, HELLO + f"\n# round {self.rounds}\n")
        await wait_for(self.pilot, lambda: "✗ hello" not in self.header(), timeout=20, what="the fix healed it")

    def tries_by_request(self, stream: InvocationStream) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for row in stream_rows(stream):
            found.setdefault(row["rid"], []).append(row["try"])
        return found


async def test_one_dashboard_survives_half_a_minute_of_mixed_use(make_project: Callable[..., Path], tmp_path: Path) -> None:
    config = make_project({"hello": HELLO, "boom": BOOM, "slow": SLOW}, CONFIG)
    app = LambdatopApp(config, options=ServiceOptions(port=None, watch=True, store=True))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        session = Session(pilot, app, tmp_path)
        began = time.monotonic()
        while time.monotonic() - began < SESSION_S:
            session.rounds += 1
            for step in (session.sync_invoke, session.async_invoke, session.burst, session.drill_down, session.kill,
                         session.sync_invoke, session.reload_broken_then_fixed, session.drill_down):
                await step()
                session.alive()
        elapsed = time.monotonic() - began
        assert elapsed >= SESSION_S and session.rounds >= 2

        # Every async event runs 3 times (1 + 2 retries), then is dead-lettered; all attempts are on screen.
        def boom_settled() -> bool:
            queues = app.last_snapshot.async_queues if app.last_snapshot else None
            queue = queues.get("boom") if queues else None
            return queue is not None and queue.queue_depth == 0 and queue.dlq == session.rounds
        await wait_for(pilot, boom_settled, timeout=30, what="every boom event dead-lettered")
        boom_requests = {record.request_id for record in app.activity.recent_records("boom")}
        assert len(boom_requests) == session.rounds
        assert all(app.activity.attempts.count(request) == 3 for request in boom_requests)
        session.select("boom")
        await pilot.press("enter")
        await shown(pilot, FunctionScreen, "boom's screen")
        fn_stream = app.screen.query_one("#fn-stream", InvocationStream)

        def every_attempt_shown() -> bool:
            # Newest first; the table shows as many rows as fit, so the oldest event shown may be cut short.
            shown = list(session.tries_by_request(fn_stream).values())
            return len(shown) >= 2 and all(tries == ["3", "2", "1"] for tries in shown[:-1]) and ["3", "2", "1"][:len(shown[-1])] == shown[-1]

        await wait_for(pilot, every_attempt_shown, what="three attempts of every boom event, in order")
        fn_stream.focus()
        await pilot.press("enter")  # the newest attempt of the newest event
        await shown(pilot, InvocationScreen, "its invocation screen")
        attempts = app.screen.query_one("#inv-attempts", AttemptsTable)
        await wait_for(pilot, lambda: attempts.row_count == 3, what="its three attempts listed")
        session.alive()
        await session.back_to_main()
        await quit_and_check(pilot)
