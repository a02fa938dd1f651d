"""The dashboard driven through Pilot on the sample functions: real workers, real keys.

Each test starts `LambdatopApp` on sample_functions/template.yaml without the
HTTP endpoint, store or watcher (port=None), presses keys as a person would and
reads what the widgets show. Every test quits with `q` and checks that no
worker process is left behind.
"""

from __future__ import annotations

import json

import psutil
import pytest
from rich.console import Console
from textual.widgets import Input, TextArea

from lambdatop.runtime.services import ServiceOptions
from lambdatop.tui.app import LambdatopApp
from lambdatop.tui.screens.burst import BurstPrompt
from lambdatop.tui.screens.event_editor import EventEditorScreen
from lambdatop.tui.screens.function import FunctionScreen
from lambdatop.tui.screens.help import HelpScreen
from lambdatop.tui.screens.invocation import InvocationScreen
from lambdatop.tui.screens.main import MainScreen
from lambdatop.tui.widgets.functions_table import FunctionsTable
from lambdatop.tui.widgets.invocation_stream import InvocationStream

from .conftest import SAMPLE_TEMPLATE, lambdatop_processes
from .tui_pilot import quit_and_check, shown, started, stream_rows, wait_for

pytestmark = pytest.mark.timeout(90)

SIZE = (120, 40)


def make_app() -> LambdatopApp:
    return LambdatopApp(SAMPLE_TEMPLATE, options=ServiceOptions(port=None, watch=False, store=False))


def functions_table(app: LambdatopApp) -> FunctionsTable:
    return app.screen_stack[0].query_one("#functions", FunctionsTable)


def stream(app: LambdatopApp) -> InvocationStream:
    return app.screen_stack[0].query_one("#stream", InvocationStream)


def cell(table: FunctionsTable, function: str, column: str) -> str:
    return table.cell(function, column).strip()


async def test_starts_on_the_sample_functions() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert isinstance(app.screen, MainScreen)
        table = functions_table(app)
        assert {"hello", "slow", "boom", "timeout", "hog", "heavy_init", "crash"} <= set(table.visible_functions)
        assert cell(table, "slow", "conc") == "0/5"  # reserved concurrency is the limit
        assert "sample_functions/template.yaml" in str(app.screen.query_one("#fleet-header").render())
        await quit_and_check(pilot)


async def test_i_invokes_the_selected_function_into_stream_and_counters() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        table = functions_table(app)
        table.select_function("hello")
        await pilot.press("i")
        await wait_for(pilot, lambda: any(r["fn"] == "hello" for r in stream_rows(stream(app))))
        row = next(r for r in stream_rows(stream(app)) if r["fn"] == "hello")
        assert row["status"] == "ok" and row["start"] == "cold"
        await wait_for(pilot, lambda: cell(table, "hello", "total") == "1")
        # The event was hello's default one (events/basic.json), kept for the invocation screen and `r`.
        result = app.activity.latest_result("hello")
        assert result is not None and json.loads(result.request) == json.loads((SAMPLE_TEMPLATE.parent / "hello/events/basic.json").read_text())
        await quit_and_check(pilot)


async def test_b_bursts_past_reserved_concurrency_and_the_row_shows_throttles() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        table = functions_table(app)
        table.select_function("slow")
        await pilot.press("b")
        await shown(pilot, BurstPrompt)
        count = app.screen.query_one("#burst-count", Input)
        assert count.value == "10"  # 2 x reserved concurrency 5
        await pilot.press("enter")
        await wait_for(pilot, lambda: cell(table, "slow", "thr") == "5", timeout=20)
        throttled = [r for r in stream_rows(stream(app)) if r["fn"] == "slow" and r["status"] == "throttled"]
        assert len(throttled) == 5
        await wait_for(pilot, lambda: cell(table, "slow", "total") == "5", timeout=20)
        await quit_and_check(pilot)


async def test_enter_opens_the_function_then_the_invocation() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        functions_table(app).select_function("hello")
        await pilot.press("i")
        await wait_for(pilot, lambda: app.activity.latest_result("hello") is not None)
        request_id = app.activity.latest_result("hello").record.request_id  # type: ignore[union-attr]
        await pilot.press("enter")
        await shown(pilot, FunctionScreen)
        screen = app.screen
        assert "hello" in str(screen.query_one("#fn-title").render())
        fn_stream = screen.query_one("#fn-stream", InvocationStream)
        await wait_for(pilot, lambda: fn_stream.row_count == 1)
        fn_stream.focus()
        await pilot.press("enter")
        await shown(pilot, InvocationScreen)
        invocation = app.screen
        assert invocation.record.request_id == request_id
        assert "lambdatop" in str(invocation.query_one("#inv-event").render())  # hello's basic event
        log = str(invocation.query_one("#inv-log").render())
        assert f"START RequestId: {request_id}" in log and f"REPORT RequestId: {request_id}" in log
        await pilot.press("escape")
        assert isinstance(app.screen, FunctionScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        await quit_and_check(pilot)


async def test_slash_filters_functions_and_escape_clears() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        table = functions_table(app)
        await pilot.press("slash")
        await pilot.press("s", "l", "o")
        await wait_for(pilot, lambda: table.visible_functions == ["slow"])
        await pilot.press("enter")  # keep the filter, back to the table
        await pilot.pause(0.3)
        assert table.visible_functions == ["slow"]
        assert table.selected_function == "slow"
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(table.visible_functions) >= 7)
        await quit_and_check(pilot)


async def test_e_edits_an_event_rejects_bad_json_and_invokes_the_edit() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        functions_table(app).select_function("hello")
        await pilot.press("e")
        await shown(pilot, EventEditorScreen)
        editor = app.screen.query_one("#event-text", TextArea)
        assert json.loads(editor.text) == {"name": "lambdatop"}  # starts on the default event
        editor.load_text('{"name": ')
        await pilot.press("ctrl+s")
        await pilot.pause(0.2)
        assert isinstance(app.screen, EventEditorScreen)  # not sent
        assert "invalid JSON" in str(app.screen.query_one("#event-status").render())
        editor.load_text('{"name": "pilot"}')
        await pilot.press("ctrl+s")
        await shown(pilot, MainScreen)
        await wait_for(pilot, lambda: app.activity.latest_result("hello") is not None)
        result = app.activity.latest_result("hello")
        assert json.loads(result.response)["message"].endswith("pilot!")  # type: ignore[union-attr]
        await quit_and_check(pilot)


async def test_r_reinvokes_the_selected_invocation_and_K_kills_a_worker() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        functions_table(app).select_function("hello")
        await pilot.press("e")
        await shown(pilot, EventEditorScreen)
        app.screen.query_one("#event-text", TextArea).load_text('{"name": "again"}')
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: stream(app).row_count == 1)
        stream(app).focus()
        await pilot.press("r")
        await wait_for(pilot, lambda: cell(functions_table(app), "hello", "total") == "2")
        requests = [json.loads(r.request) for r in app.activity.results.values()]
        assert requests == [{"name": "again"}, {"name": "again"}]
        pid = next(iter(app.fleet.pools["hello"].envs.values())).pid
        functions_table(app).focus()
        await pilot.press("K")
        await wait_for(pilot, lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
        await pilot.press("i")  # the fleet recovers: a new, cold environment
        await wait_for(pilot, lambda: cell(functions_table(app), "hello", "total") == "3")
        assert app.activity.latest_result("hello").record.cold_start  # type: ignore[union-attr]
        await quit_and_check(pilot)


async def test_help_lists_every_key_and_unknown_screens_do_not_crash() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("question_mark")
        await shown(pilot, HelpScreen)
        console = Console(record=True, width=120)
        console.print(app.screen.render_sections())
        lines = console.export_text().splitlines()
        for key in ("i", "e", "b", "r", "a", "K", "d", "A", "?", "q", "/", "s  S", "enter", "esc", "ctrl+p", "tab"):
            assert any(line.strip().startswith(key + " ") for line in lines), key
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        # d and A open the DLQ and alarms screens when installed, or say they are not; never crash.
        for key in ("d", "A"):
            await pilot.press(key)
            await pilot.pause(0.3)
            if not isinstance(app.screen, MainScreen):
                await pilot.press("escape")
                await shown(pilot, MainScreen)
        assert app.fleet.running
        await quit_and_check(pilot)


async def test_quit_waits_for_in_flight_invocations_and_leaves_no_process() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        functions_table(app).select_function("slow")
        await pilot.press("i")
        # The invoker's own count, not the screen's snapshot: a refresh (2-4 Hz under load) can miss a 0.5 s call.
        await wait_for(pilot, lambda: app.fleet.invoker.in_flight == 1)
        await pilot.press("q")
        await wait_for(pilot, lambda: app.state == "stopped", timeout=30)
        # The in-flight invocation finished instead of being cut off.
        result = app.activity.latest_result("slow") or next(
            (item for item in app._subscription.drain() if getattr(getattr(item, "record", None), "function", "") == "slow"), None
        )
        assert result is not None and result.record.status == "success"
    alive = [p for p in lambdatop_processes() if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == []
