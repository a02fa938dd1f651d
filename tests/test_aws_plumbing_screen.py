"""The plumbing view: event sources and AWS resources, live; sending to a queue from it triggers the mapping."""

from __future__ import annotations

from pathlib import Path

from lambdatop.runtime.fleet import Fleet
from lambdatop.tui.screens.event_editor import EventEditorScreen
from lambdatop.tui.screens.plumbing import PlumbingScreen
from textual.app import App
from textual.widgets import DataTable

from tests.aws_support import Results, aws_fleet, copy_app, event_of
from tests.waiting import eventually


class PlumbingApp(App[None]):
    def __init__(self, fleet: Fleet) -> None:
        super().__init__()
        self.fleet = fleet

    def on_mount(self) -> None:
        self.push_screen(PlumbingScreen(self.fleet))


async def test_the_plumbing_view_lists_sources_and_resources_and_sends_to_a_queue(tmp_path: Path) -> None:
    async with aws_fleet(copy_app(tmp_path)) as fleet:
        results = Results(fleet)
        app = PlumbingApp(fleet)
        async with app.run_test(size=(200, 50)) as pilot:
            screen = app.screen
            assert isinstance(screen, PlumbingScreen)
            resources = screen.query_one("#plumbing-resources", DataTable)

            def orders_row() -> tuple[str, ...] | None:
                names = [str(resources.get_row_at(i)[0]) for i in range(resources.row_count)]
                row = tuple(str(cell) for cell in resources.get_row_at(names.index("Orders"))) if "Orders" in names else None
                return row if row is not None and row[3] != "–" else None  # the figures come from the sidecar, on their own time

            orders = await eventually(orders_row, "the Orders queue's depth on the plumbing view")
            assert orders[3] == "0" and orders[5] == "0"  # depth and DLQ depth of an empty queue
            sources = screen.query_one("#plumbing-sources", DataTable)
            rows = {str(sources.get_row_at(i)[0]) + ":" + str(sources.get_row_at(i)[2]) for i in range(sources.row_count)}
            assert {"sqs:QueueWorker", "dynamodb:StreamReader", "s3:CsvWatcher", "sns:AlertListener", "eventbridge:OrderPlaced"} <= rows
            names = [str(resources.get_row_at(i)[0]) for i in range(resources.row_count)]
            assert "Workflow" in names and "not created" in str(resources.get_row_at(names.index("Workflow"))[2])

            resources.focus()
            resources.move_cursor(row=names.index("Orders"))
            await pilot.press("s")
            await pilot.pause()
            assert isinstance(app.screen, EventEditorScreen)
            await pilot.press("ctrl+s")
            fired = await results.wait("QueueWorker")
            assert "from lambdatop" in event_of(fired[0])["Records"][0]["body"]
