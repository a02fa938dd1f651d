"""The schedules view on `t`: each schedule with its next fire time, and `f` firing the selected one now."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

from lambdatop.runtime.records import InvocationResult
from lambdatop.runtime.services import ServiceOptions
from lambdatop.tui.app import LambdatopApp
from lambdatop.tui.screens.schedules import SchedulesScreen
from textual.widgets import DataTable

from tests.test_schedules_firing import ECHO

PROJECT = """
    functions:
      report:
        handler: app.handler
        events:
          Nightly: {Type: Schedule, Properties: {Schedule: "cron(30 3 * * ? *)", Input: '{"report": "nightly"}'}}
          Paused: {Type: Schedule, Properties: {Schedule: rate(10 minutes), Enabled: false}}
          Morning:
            Type: ScheduleV2
            Properties:
              ScheduleExpression: "cron(0 9 ? * MON-FRI *)"
              ScheduleExpressionTimezone: Europe/Paris
"""


async def test_t_opens_the_schedules_and_f_fires_the_selected_one(make_project: Callable[..., Path]) -> None:
    config = make_project({"report": ECHO}, PROJECT)
    app = LambdatopApp(config, options=ServiceOptions(port=None, watch=False))
    results = app.fleet.subscribe("test-screen")
    async with app.run_test(size=(160, 40)) as pilot:
        deadline = time.monotonic() + 60
        while not (app.state == "running" and app.last_snapshot is not None):  # every service started
            assert time.monotonic() < deadline, "the dashboard did not start"
            await pilot.pause(0.05)
        await pilot.press("t")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SchedulesScreen)
        table = screen.query_one("#schedules-table", DataTable)
        rows = {str(table.get_row_at(i)[0]): table.get_row_at(i) for i in range(table.row_count)}
        assert set(rows) == {"reportNightly", "reportPaused", "reportMorning"}
        nightly = rows["reportNightly"]
        assert (nightly[1], nightly[2], nightly[3], nightly[4].plain) == ("report", "cron(30 3 * * ? *)", "UTC", "enabled")
        assert nightly[5].plain[11:19] == "03:30:00" and " in " in nightly[5].plain
        assert (rows["reportPaused"][4].plain, rows["reportPaused"][5].plain) == ("disabled", "–")
        assert rows["reportMorning"][3] == "Europe/Paris"
        # Soonest first; the disabled one (no next fire) last.
        assert str(table.get_row_at(table.row_count - 1)[0]) == "reportPaused"

        table.move_cursor(row=[str(table.get_row_at(i)[0]) for i in range(table.row_count)].index("reportNightly"))
        await pilot.pause()
        assert "arn:aws:events:us-east-1:123456789012:rule/reportNightly" in str(screen.query_one("#schedules-detail").render())
        await pilot.press("f")
        deadline = time.monotonic() + 20
        fired: list[InvocationResult] = []
        while not fired:
            assert time.monotonic() < deadline, "f did not fire the schedule"
            fired = [i for i in results.drain() if isinstance(i, InvocationResult) and i.record.trigger == "schedule"]
            await asyncio.sleep(0.05)
        assert json.loads(fired[0].request) == {"report": "nightly"}
        await pilot.pause(1.2)  # the screen's once-a-second refresh
        row = next(table.get_row_at(i) for i in range(table.row_count) if str(table.get_row_at(i)[0]) == "reportNightly")
        assert row[7] == "1" and row[6].endswith("ago")

        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, SchedulesScreen)
