"""Async retries keep their request id (as on Lambda): the dashboard shows every attempt as its own row.

Issue 12 item 1: the stream keyed its rows by request id, so the first retry of
an async event raised DuplicateKey on every frame ("screen refresh failed"),
and Enter on the function then crashed the app. Here a function that always
fails is invoked with `a` on a real fleet with the durable queue (retry delays
scaled down), and the main stream, the function screen and the invocation
screen must each show attempts 1, 2 and 3, with no frame failing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lambdatop.runtime.services import ServiceOptions
from lambdatop.tui.app import LambdatopApp
from lambdatop.tui.screens.function import FunctionScreen
from lambdatop.tui.screens.invocation import InvocationScreen
from lambdatop.tui.widgets.attempts_table import AttemptsTable
from lambdatop.tui.widgets.functions_table import FunctionsTable
from lambdatop.tui.widgets.invocation_stream import InvocationStream

from .tui_pilot import quit_and_check, shown, started, stream_rows, wait_for

pytestmark = pytest.mark.timeout(120)

BOOM = """
def handler(event, context):
    raise RuntimeError("boom, every time")
"""
HELLO = """
def handler(event, context):
    return {"hello": event.get("name")}
"""
CONFIG = """
async: {delay_scale: 0.001}
functions:
  boom: {handler: app.handler, timeout: 3}
  hello: {handler: app.handler}
"""


def tries(stream: InvocationStream, function: str) -> list[str]:
    return [row["try"] for row in stream_rows(stream) if row["fn"] == function]


async def test_every_async_attempt_is_its_own_row_on_the_main_function_and_invocation_screens(
    make_project: Callable[..., Path],
) -> None:
    config = make_project({"boom": BOOM, "hello": HELLO}, CONFIG)
    app = LambdatopApp(config, options=ServiceOptions(port=None, watch=False, store=True))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        main = app.screen_stack[0]
        main.query_one("#functions", FunctionsTable).select_function("boom")
        await pilot.press("a")
        stream = main.query_one("#stream", InvocationStream)
        await wait_for(pilot, lambda: tries(stream, "boom") == ["3", "2", "1"], timeout=40, what="three attempts in the stream")
        request_ids = {row["rid"] for row in stream_rows(stream)}
        assert len(request_ids) == 1, "one request id, three attempts"
        assert app.refresh_failures == []

        await pilot.press("enter")
        await shown(pilot, FunctionScreen, "function screen")
        fn_stream = app.screen.query_one("#fn-stream", InvocationStream)
        await wait_for(pilot, lambda: tries(fn_stream, "boom") == ["3", "2", "1"], what="three attempts on the function screen")
        fn_stream.focus()
        await pilot.press("j", "j", "enter")  # the oldest row: attempt 1
        await shown(pilot, InvocationScreen, "invocation screen")
        screen = app.screen
        assert isinstance(screen, InvocationScreen)
        assert screen.attempt == 1
        attempts = screen.query_one("#inv-attempts", AttemptsTable)
        await wait_for(pilot, lambda: attempts.row_count == 3, what="three attempts listed")
        assert "attempt 1 of 3" in str(screen.query_one("#inv-title").render())

        attempts.focus()
        await pilot.press("j", "j", "enter")  # attempt 3, opened from the list
        await wait_for(pilot, lambda: isinstance(app.screen, InvocationScreen) and app.screen.attempt == 3, what="attempt 3")
        third = app.screen
        assert isinstance(third, InvocationScreen)
        assert third.record.request_id == screen.record.request_id
        assert third.record.started_at > screen.record.started_at
        log = str(third.query_one("#inv-log").render())
        assert f"START RequestId: {third.record.request_id}" in log and "boom, every time" in log

        await pilot.press("escape", "escape")
        await wait_for(pilot, lambda: app.screen is main, what="back on the main screen")
        assert app.refresh_failures == []
        await quit_and_check(pilot)
