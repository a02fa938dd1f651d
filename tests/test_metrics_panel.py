"""The function screen's metrics panel (figures, EMF custom metrics, cost, alarms) and the log search screen."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.observability.service import ObservabilityService
from lambdatop.tui.screens.log_search import LogEntry, LogSearchScreen
from lambdatop.tui.widgets.function_metrics import FunctionMetrics, render_function
from rich.console import Console
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Input, Static

EMF = """
import json, time

def handler(event, context):
    print(json.dumps({"level": "INFO", "message": "charged", "amount": event["amount"]}))
    print(json.dumps({"_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [
        {"Namespace": "Shop", "Dimensions": [[]], "Metrics": [{"Name": "Revenue", "Unit": "None"}]}]},
        "Revenue": event["amount"]}))
    return "ok"
"""


def plain(renderable: Any) -> str:
    console = Console(width=160, record=True)
    console.print(renderable)
    return console.export_text()


async def test_panel_shows_metrics_custom_metrics_cost_and_alarms(make_project: Callable[..., Any]) -> None:
    config = make_project({"shop": EMF}, "functions:\n  shop: {handler: app.handler, code: shop, architecture: arm64, memory_size: 256}\n")
    fleet = Fleet(config)
    obs = ObservabilityService()
    fleet.add_service(obs)
    async with fleet:
        for amount in (5, 7, 30):
            await fleet.invoke("shop", {"amount": amount})
        obs.flush()  # the invocations (and their EMF lines) filed now, not at the service's next drain
        obs.tick(__import__("time").time())
        snapshot = fleet.snapshot()
    text = plain(render_function("shop", snapshot, "arm64"))
    assert "Invocations" in text and " 3 " in text
    assert "Shop/Revenue" in text and "total 42" in text
    assert "3 requests" in text and "arm64" in text
    assert "shop-Errors" in text and "shop-Throttles" in text

    class PanelApp(App[None]):
        def compose(self) -> ComposeResult:
            yield FunctionMetrics("shop", "arm64", id="panel")

    app = PanelApp()
    async with app.run_test(size=(160, 40)):
        panel = app.query_one(FunctionMetrics)
        panel.refresh_from(snapshot)
        assert "Shop/Revenue" in plain(panel.content)


class LogsApp(App[None]):
    def __init__(self, entries: list[LogEntry]) -> None:
        super().__init__()
        self.entries = entries

    def on_mount(self) -> None:
        self.push_screen(LogSearchScreen(None, "shop", self.entries))


async def test_log_search_filters_and_shows_json_lines_as_json() -> None:
    entries = [
        LogEntry(1.0, "aaaa1111", "START RequestId: aaaa1111 Version: $LATEST"),
        LogEntry(1.0, "aaaa1111", json.dumps({"level": "INFO", "message": "charged", "amount": 5})),
        LogEntry(2.0, "bbbb2222", "[ERROR]\t2026-01-01T00:00:00.000Z\tbbbb2222\tcard declined"),
        LogEntry(2.0, "bbbb2222", json.dumps({"level": "ERROR", "message": "charge failed", "amount": 30})),
    ]
    app = LogsApp(entries)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, LogSearchScreen)
        table = screen.query_one("#logs-table", DataTable)
        assert table.row_count == 4
        await pilot.press(*"error")
        await pilot.pause()
        assert screen.query_one("#logs-filter", Input).value == "error"
        assert [e.request_id for e in screen.shown] == ["bbbb2222", "bbbb2222"]
        assert [e.level for e in screen.shown] == ["ERROR", "ERROR"]
        # The last match is selected; it is JSON, so the pane shows it pretty-printed.
        detail = plain(screen.query_one("#logs-detail", Static).content)
        assert '"message": "charge failed"' in detail and '"amount": 30' in detail
        screen.query_one("#logs-filter", Input).value = ""
        await pilot.press(*"charged aaaa")
        await pilot.pause()
        assert [e.line for e in screen.shown] == [entries[1].line]
