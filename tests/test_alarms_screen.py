"""The alarms screen: every alarm with its state, the ALARM ones first, and the selected alarm's history."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from lambdatop.runtime.observability.alarms import AlarmState
from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.observability.service import ObservabilityService
from lambdatop.tui.screens.alarms import AlarmsScreen
from textual.app import App
from textual.widgets import DataTable

FLAKY = """
def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("broken")
    return "ok"
"""


class AlarmsApp(App[None]):
    def __init__(self, fleet: Fleet) -> None:
        super().__init__()
        self.fleet = fleet

    def on_mount(self) -> None:
        self.push_screen(AlarmsScreen(self.fleet))


async def test_alarms_screen_lists_states_and_history(make_project: Callable[..., Any]) -> None:
    config = make_project({"flaky": FLAKY, "calm": FLAKY}, """
        functions:
          flaky: {handler: app.handler, code: flaky, timeout: 2}
          calm: {handler: app.handler, code: calm, timeout: 2}
        alarms:
          rules:
            - {name: flaky-fast-errors, function: flaky, metric: Errors, period: 1, threshold: 0, comparison: ">"}
    """)
    fleet = Fleet(config)
    obs = ObservabilityService()
    fleet.add_service(obs)
    async with fleet:
        alarm = obs.alarms.alarms["flaky-fast-errors"]
        deadline = time.monotonic() + 15
        while alarm.state is not AlarmState.ALARM:
            assert time.monotonic() < deadline, alarm.reason
            await fleet.invoke("flaky", {"fail": True})
            await asyncio.sleep(0.1)
        async def keep_failing() -> None:  # a 1 s alarm goes back to OK after a quiet second
            while True:
                await fleet.invoke("flaky", {"fail": True})
                await asyncio.sleep(0.2)

        failing = asyncio.create_task(keep_failing())
        app = AlarmsApp(fleet)
        async with app.run_test(size=(160, 40)) as pilot:
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, AlarmsScreen)
            table = screen.query_one("#alarms-table", DataTable)
            # Defaults (Errors, Throttles per function) plus the configured one; the alarm in ALARM is first.
            assert table.row_count == 5
            rows = [table.get_row_at(i) for i in range(table.row_count)]
            states = [row[0].plain.strip() for row in rows]
            firing = states.count("ALARM")
            # ALARM rows first. The default 1-minute Errors alarm on `flaky` may fire too when the test
            # straddles a minute boundary (periods align to the clock), so the configured one is among them.
            assert firing >= 1 and states[:firing] == ["ALARM"] * firing, states
            assert "flaky-fast-errors" in [row[1].plain for row in rows[:firing]]
            history = screen.query_one("#alarms-history", DataTable)
            changes = [history.get_row_at(i)[2].plain for i in range(history.row_count)]
            assert any(c.strip().endswith("→  ALARM") or "→  ALARM" in c for c in changes), changes
            assert "Threshold Crossed" in history.get_row_at(0)[3]
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, AlarmsScreen)
        failing.cancel()
        await asyncio.gather(failing, return_exceptions=True)
