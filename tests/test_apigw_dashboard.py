"""The dashboard's APIs view (`w`), the route on an invocation, and `e` starting from the route's event."""

from __future__ import annotations

import json
import shutil

import pytest
from textual.widgets import DataTable, TextArea

from lambdatop.runtime.apigateway.server import ApiGatewayService
from lambdatop.runtime.config.api_settings import ApiSettings
from lambdatop.runtime.services import ServiceOptions
from lambdatop.tui.app import LambdatopApp
from lambdatop.tui.screens.apis import ApisScreen
from lambdatop.tui.screens.event_editor import EventEditorScreen
from lambdatop.tui.screens.invocation import InvocationScreen
from lambdatop.tui.screens.main import MainScreen

from tests.apigw_support import APPS, call
from tests.test_tui_dashboard import SIZE, functions_table
from tests.tui_pilot import quit_and_check, shown, started, wait_for

pytestmark = pytest.mark.timeout(90)


def make_app(tmp_path) -> LambdatopApp:
    project = tmp_path / "sam-app"
    shutil.copytree(APPS / "sam-app", project)
    options = ServiceOptions(port=None, watch=False, store=False, api=ApiSettings(port=0))
    return LambdatopApp(project / "template.yaml", options=options)


def row(table: DataTable, index: int = 0) -> list[str]:
    return [str(cell) for cell in table.get_row_at(index)]


async def test_w_shows_each_route_with_its_figures_and_enter_opens_the_function(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(150, 40)) as pilot:
        await started(pilot)
        api = next(s for s in app.fleet.services if isinstance(s, ApiGatewayService))
        for _ in range(2):
            assert (await call("GET", f"{api.url}/hello"))[0] == 200
        assert (await call("GET", f"{api.url}/nope"))[0] == 403
        await pilot.press("w")
        await shown(pilot, ApisScreen)
        table = app.screen.query_one("#apis-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 1 and row(table)[4] == "2")
        cells = row(table)
        assert cells[:4] == ["GET", "/hello", "ServerlessRestApi (REST Prod)", "HelloWorldFunction"]
        assert (cells[5], cells[6], cells[9]) == ("0", "0", "200")
        assert "1 unmatched" in str(app.screen.query_one("#apis-title").render())
        await pilot.press("enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "FunctionScreen")
        await pilot.press("escape", "escape")
        await shown(pilot, MainScreen)
        await quit_and_check(pilot)


async def test_e_preselects_the_route_event_and_the_invocation_shows_its_route(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        functions_table(app).select_function("HelloWorldFunction")
        await pilot.press("e")
        await shown(pilot, EventEditorScreen)
        event = json.loads(app.screen.query_one("#event-text", TextArea).text)
        assert (event["httpMethod"], event["path"], event["resource"]) == ("GET", "/hello", "/hello")
        assert event["requestContext"]["stage"] == "Prod"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.activity.latest_result("HelloWorldFunction") is not None)
        result = app.activity.latest_result("HelloWorldFunction")
        assert json.loads(result.response)["statusCode"] == 200  # type: ignore[union-attr]
        api = next(s for s in app.fleet.services if isinstance(s, ApiGatewayService))
        _, headers, _ = await call("GET", f"{api.url}/hello")
        request_id = headers["x-amzn-RequestId"]
        await wait_for(pilot, lambda: app.activity.result(request_id) is not None)
        app.open_invocation(request_id)
        await shown(pilot, InvocationScreen)
        summary = str(app.screen._summary())
        assert "Route" in summary and "GET /hello (ServerlessRestApi)" in summary
        await pilot.press("escape")
        await quit_and_check(pilot)
