"""The trace waterfall and export: real invocations' traces drawn in Textual and written as Chrome trace JSON."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from lambdatop.runtime.fleet import Fleet
from lambdatop.runtime.observability.service import ObservabilityService
from lambdatop.runtime.observability.views import chrome_trace, flatten
from lambdatop.tui.widgets.waterfall import TraceWaterfall, bar
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Static

TRACED = """
from aws_xray_sdk.core import xray_recorder

def handler(event, context):
    with xray_recorder.in_subsegment("load") as sub:
        sub.put_annotation("table", "orders")
        with xray_recorder.in_subsegment("query"):
            pass
    if event.get("fail"):
        with xray_recorder.in_subsegment("charge"):
            raise RuntimeError("card declined")
    return "ok"
"""


async def traced_documents(make_project: Callable[..., Any], fail: bool) -> tuple[Any, list[dict[str, Any]]]:
    config = make_project({"fn": TRACED}, "functions:\n  fn: {handler: app.handler, code: fn, tracing: Active, timeout: 5, dependencies: shared}\n")
    fleet = Fleet(config)
    obs = ObservabilityService()
    fleet.add_service(obs)
    async with fleet:
        result = await fleet.invoke("fn", {"fail": fail})
        wanted = 3 if fail else 2  # load+query (+ charge)
        deadline = time.monotonic() + 10
        while obs.traces.documents_received < wanted or obs.trace(result.record.request_id) is None:
            assert time.monotonic() < deadline, "subsegments never arrived"
            await asyncio.sleep(0.05)
        return result.record, obs.trace_documents(result.record.request_id)


async def test_chrome_export_has_one_event_per_segment_and_subsegment(make_project: Callable[..., Any]) -> None:
    record, docs = await traced_documents(make_project, fail=False)
    spans = flatten(docs)
    names = [s.name for s in spans]
    assert names[:2] == ["fn", "fn"] and {"Initialization", "Invocation", "Overhead", "load", "query"} <= set(names)
    exported = json.loads(json.dumps(chrome_trace([{"Id": record.trace_id, "documents": docs}])))
    complete = [e for e in exported["traceEvents"] if e["ph"] == "X"]
    assert len(complete) == len(spans) == 7
    assert sorted(e["name"] for e in complete) == sorted(names)
    for event in complete:
        assert event["dur"] >= 0 and event["ts"] > 0 and isinstance(event["pid"], int) and isinstance(event["tid"], int)
    query = next(e for e in complete if e["name"] == "query")
    load = next(e for e in complete if e["name"] == "load")
    function = next(e for e in complete if e["cat"] == "AWS::Lambda::Function")
    # Nested subsegments share their segment's track, so Perfetto stacks them.
    assert query["tid"] == load["tid"] == function["tid"]
    assert load["ts"] <= query["ts"] and query["ts"] + query["dur"] <= load["ts"] + load["dur"] + 0.01
    assert load["args"]["annotations"] == {"table": "orders"}


class WaterfallApp(App[None]):
    def __init__(self, docs: list[dict[str, Any]]) -> None:
        super().__init__()
        self.docs = docs

    def compose(self) -> ComposeResult:
        yield TraceWaterfall(documents=self.docs)


async def test_waterfall_draws_bars_to_scale_with_errors_in_red(make_project: Callable[..., Any]) -> None:
    _, docs = await traced_documents(make_project, fail=True)
    app = WaterfallApp(docs)
    async with app.run_test(size=(140, 40)) as pilot:
        waterfall = app.query_one(TraceWaterfall)
        table = waterfall.query_one("#wf-table", DataTable)
        assert table.row_count == len(waterfall.spans) == len(flatten(docs))
        names = [s.name for s in waterfall.spans]
        charge = names.index("charge")
        # The failed subsegment (and the Invocation it broke) are drawn red.
        charge_bar = table.get_row_at(charge)[1]
        assert charge_bar.spans and all("red" in str(span.style) for span in charge_bar.spans)
        invocation_bar = table.get_row_at(names.index("Invocation"))[1]
        assert invocation_bar.spans and all("red" in str(span.style) for span in invocation_bar.spans)
        load_bar = table.get_row_at(names.index("load"))[1]
        assert load_bar.spans and all("cyan" in str(span.style) for span in load_bar.spans)
        # Selecting a row shows its annotations; selecting the failure shows the exception.
        table.focus()
        load = names.index("load")
        for _ in range(load):
            await pilot.press("down")
        await pilot.pause()
        detail = str(waterfall.query_one("#wf-detail", Static).render())
        assert "table='orders'" in detail
        for _ in range(charge - load):
            await pilot.press("down")
        await pilot.pause()
        detail = str(waterfall.query_one("#wf-detail", Static).render())
        assert "card declined" in detail and "fault" in detail


def test_bars_are_placed_and_sized_to_scale() -> None:
    whole = bar(0.0, 1.0, 0.0, 1.0, 40, "cyan")
    assert whole.plain == "█" * 40
    second_half = bar(0.5, 1.0, 0.0, 1.0, 40, "cyan")
    assert second_half.plain == " " * 20 + "█" * 20
    quarter = bar(0.25, 0.5, 0.0, 1.0, 40, "cyan")
    assert quarter.plain.index("█") == 10 and quarter.plain.count("█") == 10 and len(quarter.plain) == 40
    tiny = bar(0.1, 0.1001, 0.0, 1.0, 40, "cyan")
    assert len(tiny.plain.strip()) == 1  # too short to see still gets a sliver


class LiveApp(App[None]):
    def __init__(self, fleet: Fleet, record: Any) -> None:
        super().__init__()
        self.fleet = fleet
        self.record = record

    def compose(self) -> ComposeResult:
        yield TraceWaterfall(fleet=self.fleet, record=self.record)


async def test_waterfall_finds_the_invocations_trace_in_the_running_fleet(make_project: Callable[..., Any]) -> None:
    """How the invocation screen mounts it: TraceWaterfall(fleet=..., record=...); late subsegments appear by polling."""
    config = make_project({"fn": TRACED}, "functions:\n  fn: {handler: app.handler, code: fn, tracing: Active, timeout: 5, dependencies: shared}\n")
    fleet = Fleet(config)
    fleet.add_service(ObservabilityService())
    async with fleet:
        result = await fleet.invoke("fn", {"fail": False})
        app = LiveApp(fleet, result.record)
        async with app.run_test(size=(140, 30)) as pilot:
            waterfall = app.query_one(TraceWaterfall)
            deadline = time.monotonic() + 10
            while "query" not in [s.name for s in waterfall.spans]:
                assert time.monotonic() < deadline, [s.name for s in waterfall.spans]
                await pilot.pause(0.1)
            assert waterfall.query_one("#wf-table", DataTable).row_count == len(waterfall.spans) == 7
            assert waterfall.spans[1].id == result.record.segment_id
