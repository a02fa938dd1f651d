"""`PlumbingScreen` (`p`): the template's event sources and AWS resources, live.

Top: every event source mapping and push source (source → function, state,
batch size, in-flight batches, batches and records, throttles, last poll,
last error, iterator age for streams). Bottom: the resources in the AWS
services sidecar (queues with depth, in flight and DLQ depth; tables with item
count and stream; buckets, topics, buses) and the ones not created, with why.
`s` on a resource opens the event editor to send a message, put an object,
publish, put an event or an item. Refreshes once a second from the AWS and
trigger services' typed snapshots.
"""

from __future__ import annotations

import json
import time
from typing import Any

from lambdatop.runtime.aws.inventory import KINDS, sample_payload
from lambdatop.tui.screens.event_editor import EventChoice, EventEditorScreen
from lambdatop.tui.widgets.cells import ago
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

REFRESH_S = 1.0
STATE_STYLES = {"Enabled": "green", "Disabled": "yellow", "Refused": "red"}


class PlumbingScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("p", "back", "Back", show=False),
        Binding("s", "send", "Send to resource"),
        Binding("tab", "switch", "Switch table", show=False),
    ]
    DEFAULT_CSS = """
    PlumbingScreen #plumbing-title { height: 1; padding: 0 1; background: $panel; }
    PlumbingScreen #plumbing-sources-box { height: 1fr; border: round $primary; }
    PlumbingScreen #plumbing-resources-box { height: 1fr; border: round $primary; }
    PlumbingScreen DataTable { height: 1fr; }
    PlumbingScreen .plumbing-empty { padding: 1 2; color: $text-muted; }
    """

    def __init__(self, fleet: Any) -> None:
        super().__init__(id="plumbing")
        self.fleet = fleet
        self._resources: list[Any] = []
        self._source_keys: list[str] = []
        self._resource_keys: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="plumbing-title")
        with Vertical(id="plumbing-sources-box"):
            yield Static("no event sources: the template's functions have no SQS, stream, S3, SNS or EventBridge "
                         "events (or the AWS services are off)", id="plumbing-no-sources", classes="plumbing-empty")
            yield DataTable(id="plumbing-sources", cursor_type="row", zebra_stripes=True)
        with Vertical(id="plumbing-resources-box"):
            yield Static("no AWS resources (the template has none, or run without --no-aws)", id="plumbing-no-resources",
                         classes="plumbing-empty")
            yield DataTable(id="plumbing-resources", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        sources = self.query_one("#plumbing-sources", DataTable)
        for label in ("kind", "source", "→ function", "state", "batch", "in flight", "batches", "records", "failed",
                      "throttles", "last poll", "age", "last error"):
            sources.add_column(label, key=label)
        resources = self.query_one("#plumbing-resources", DataTable)
        for label in ("resource", "type", "local name", "depth", "in flight", "DLQ", "detail"):
            resources.add_column(label, key=label)
        self.query_one("#plumbing-sources-box").border_title = "event sources"
        self.query_one("#plumbing-resources-box").border_title = "AWS resources · s send"
        self.refresh_plumbing()
        self.set_interval(REFRESH_S, self.refresh_plumbing)
        resources.focus()

    def refresh_plumbing(self) -> None:
        now = time.time()
        snapshot = self.fleet.snapshot()
        aws, mappings = snapshot.aws, snapshot.mappings or []
        title = Text(" Plumbing ", style="bold black on #ff9900")
        if aws is None or aws.mode == "off":
            title.append("  AWS services off", style="yellow")
        else:
            where = f"sidecar pid {aws.pid}" if aws.pid else aws.mode
            title.append(f"  {aws.endpoint_url or 'real AWS'} ({where}, {aws.state}"
                         f"{f', restarted {aws.restarts}×' if aws.restarts else ''})")
        title.append(f"  · {len(mappings)} source(s)  · esc back", style="dim")
        self.query_one("#plumbing-title", Static).update(title)
        self._fill(self.query_one("#plumbing-sources", DataTable), "_source_keys",
                   {m.uuid: self._source_cells(m, now) for m in mappings})
        self._resources = list(aws.resources) if aws is not None else []
        self._fill(self.query_one("#plumbing-resources", DataTable), "_resource_keys",
                   {r.logical_id: self._resource_cells(r) for r in self._resources})
        self.query_one("#plumbing-no-sources").display = not mappings
        self.query_one("#plumbing-sources").display = bool(mappings)
        self.query_one("#plumbing-no-resources").display = not self._resources
        self.query_one("#plumbing-resources").display = bool(self._resources)

    def _fill(self, table: DataTable[Any], attribute: str, rows: dict[str, tuple[Any, ...]]) -> None:
        keys = list(rows)
        if keys != getattr(self, attribute):
            cursor = table.cursor_row
            table.clear()
            for key, cells in rows.items():
                table.add_row(*cells, key=key)
            setattr(self, attribute, keys)
            if keys:
                table.move_cursor(row=min(cursor, len(keys) - 1))
            return
        columns = [c.key for c in table.columns.values()]
        for key, cells in rows.items():
            for column, value in zip(columns, cells, strict=True):
                table.update_cell(key, column, value)

    @staticmethod
    def _source_cells(m: Any, now: float) -> tuple[Any, ...]:
        source = m.source_arn.rsplit(":", 1)[-1].split("/stream/")[0].rsplit("/", 1)[-1]
        age = f"{m.iterator_age_ms / 1000:.1f}s" if m.iterator_age_ms is not None else "–"
        error = Text(m.last_error or "", style="red") if m.last_error else Text("–", style="dim")
        return (m.kind, source, m.function, Text(m.state, style=STATE_STYLES.get(m.state, "")),
                str(m.batch_size) if m.batch_size else "–", str(m.in_flight), str(m.batches), str(m.records),
                Text(str(m.failed_batches), style="red" if m.failed_batches else ""), str(m.throttles),
                ago(m.last_poll_at, now) if m.last_poll_at else "–", age, error)

    @staticmethod
    def _resource_cells(r: Any) -> tuple[Any, ...]:
        figures = r.figures
        kind = KINDS.get(r.type, r.type.rsplit("::", 1)[-1])

        def number(value: int | None, style: str = "") -> Any:
            return Text(str(value), style=style if value else "") if value is not None else Text("–", style="dim")

        if not r.created:
            return (r.logical_id, kind, Text("not created", style="yellow"), "–", "–", "–", Text(r.note, style="yellow"))
        return (r.logical_id, kind, r.physical_id or "–", number(figures.depth if figures else None),
                number(figures.in_flight if figures else None), number(figures.dlq_depth if figures else None, "bold red"),
                figures.detail if figures else "")

    def selected_resource(self) -> Any:
        table = self.query_one("#plumbing-resources", DataTable)
        row = table.cursor_row
        key = self._resource_keys[row] if 0 <= row < len(self._resource_keys) else None
        return next((r for r in self._resources if r.logical_id == key), None)

    def action_send(self) -> None:
        resource = self.selected_resource()
        if resource is None or not resource.created or resource.type not in KINDS:
            self.notify("select a queue, bucket, topic, bus, table or stream to send to", severity="warning")
            return
        kind = KINDS[resource.type]
        text = json.dumps(sample_payload(resource.type), indent=2)
        choice = EventChoice(f"{kind} {resource.logical_id}", "template", lambda: text, detail=resource.physical_id or "")

        def chosen(payload: bytes | None) -> None:
            if payload is not None:
                self.run_worker(self._send(resource.logical_id, payload), exit_on_error=False)

        self.app.push_screen(EventEditorScreen(resource.logical_id, [choice]), chosen)

    async def _send(self, logical_id: str, payload: bytes) -> None:
        try:
            outcome = await self.fleet.send_to_resource(logical_id, json.loads(payload))
        except Exception as exc:  # noqa: BLE001 - shown, not raised: the screen stays up
            self.notify(f"{logical_id}: {exc}", severity="error")
            return
        self.notify(f"{logical_id}: {outcome}")

    def action_switch(self) -> None:
        sources = self.query_one("#plumbing-sources", DataTable)
        resources = self.query_one("#plumbing-resources", DataTable)
        (resources if sources.has_focus else sources).focus()

    def action_back(self) -> None:
        self.app.pop_screen()
