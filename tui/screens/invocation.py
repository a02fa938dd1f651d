"""One invocation: its record, a timing bar of its phases, event, response or error, and log.

Opened with Enter on an invocation (main or function screen). `r` re-invokes
its event, `e` opens it in the event editor first. The event, response and
log come from the dashboard's window of recent results; an invocation older
than that window shows its record only (the store, when present, has the rest).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from rich.json import JSON
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static

from lambdatop.runtime.records import InvocationRecord, InvocationResult
from lambdatop.tui.widgets.cells import clock, ms, start_text, status_text
from lambdatop.tui.widgets.timing_bar import TimingBar

if TYPE_CHECKING:
    from lambdatop.runtime.fleet import Fleet

PAYLOAD_SHOWN_BYTES = 64 * 1024  # enough to read; the whole payload is in the store and `r` resends all of it


def payload_renderable(data: bytes | None, empty: str) -> Text | JSON:
    if data is None:
        return Text(empty, style="dim")
    shown = data[:PAYLOAD_SHOWN_BYTES]
    text = shown.decode("utf-8", "replace")
    try:
        if len(shown) == len(data):
            return JSON(text, indent=2)
    except (ValueError, json.JSONDecodeError):
        pass
    suffix = f"\n… {len(data) - len(shown)} more bytes" if len(shown) < len(data) else ""
    return Text(text + suffix)


def log_renderable(lines: list[str]) -> Text:
    text = Text()
    for line in lines:
        line = line.rstrip("\n")
        if line.startswith(("START ", "END ", "INIT_START ")):
            text.append(line + "\n", style="dim cyan")
        elif line.startswith("REPORT "):
            text.append(line + "\n", style="bold cyan")
        elif "Task timed out" in line or "Error" in line or "Traceback" in line:
            text.append(line + "\n", style="red")
        else:
            text.append(line + "\n")
    return text or Text("(no log lines)", style="dim")


def trace_waterfall(fleet: Fleet, record: InvocationRecord) -> Widget | None:
    """The observability issue's full trace view, when it is installed.

    observability: `lambdatop.tui.widgets.waterfall.TraceWaterfall(fleet=..., record=...)` is mounted here,
    between the timing bar and the payloads. Missing module, or a widget that cannot be built for this
    record, and the screen simply goes without it.
    """
    try:
        from lambdatop.tui.widgets.waterfall import TraceWaterfall  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        return TraceWaterfall(fleet=fleet, record=record)
    except Exception:  # noqa: BLE001 - a trace view problem must not cost the user the invocation screen
        return None


class InvocationScreen(Screen[None]):
    BINDINGS = [Binding("escape", "back", "Back")]

    def __init__(self, record: InvocationRecord, result: InvocationResult | None) -> None:
        super().__init__()
        self.record = record
        self.result = result

    def compose(self) -> ComposeResult:
        record = self.record
        yield Static(self._title(), id="inv-title")
        with VerticalScroll(id="inv-body"):
            yield Static(self._summary(), id="inv-summary")
            with Vertical(id="inv-timing-box", classes="box"):
                yield TimingBar(record, id="inv-timing")
            # observability: the full trace waterfall goes here (see trace_waterfall above).
            waterfall = trace_waterfall(self.app.fleet, record)  # type: ignore[attr-defined]
            if waterfall is not None:
                with Vertical(id="inv-trace-box", classes="box"):
                    yield waterfall
            with Horizontal(id="inv-payloads"):
                with Vertical(id="inv-event-box", classes="box"):
                    yield Static(payload_renderable(self.result.request if self.result else None,
                                                    "(event not kept: older than the dashboard's window)"), id="inv-event")
                with Vertical(id="inv-response-box", classes="box"):
                    yield Static(payload_renderable(self.result.response if self.result else None,
                                                    "(response not kept)"), id="inv-response")
            with Vertical(id="inv-log-box", classes="box"):
                yield Static(log_renderable(self.result.log_lines if self.result else []), id="inv-log")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#inv-timing-box").border_title = "timing"
        self.query_one("#inv-event-box").border_title = "event"
        self.query_one("#inv-response-box").border_title = "error" if self.record.is_error else "response"
        self.query_one("#inv-log-box").border_title = "log"
        if self.query("#inv-trace-box"):
            self.query_one("#inv-trace-box").border_title = "trace"
        self.query_one("#inv-body").focus()

    def selected_function(self) -> str | None:
        return self.record.function

    def selected_invocation(self) -> str | None:
        return self.record.request_id

    def action_back(self) -> None:
        self.app.pop_screen()

    def _title(self) -> Text:
        record = self.record
        text = Text()
        text.append(f" {record.function} ", style="bold black on #ff9900")
        text.append(f" {record.request_id}  ")
        text.append_text(status_text(record.status))
        text.append("  ")
        text.append_text(start_text(record))
        if record.status != "throttled":
            text.append(f"  {ms(record.duration_ms)}")
        return text

    def _summary(self) -> Text:
        r = self.record
        rows: list[tuple[str, str]] = [
            ("Started", f"{time_text(r.started_at)}"),
            ("Version", f"{r.version} (code {r.code_version})"),
            ("Trigger / type", f"{r.trigger} / {r.invocation_type}"),
            *([("Route", r.route)] if r.route else []),
            ("Duration", f"{r.duration_ms:.2f} ms   Billed Duration {r.billed_duration_ms} ms"),
            ("Memory", f"{r.max_memory_used_mb} MB used of {r.memory_size_mb} MB"),
        ]
        if r.init_duration_ms is not None:
            rows.append(("Init Duration", f"{r.init_duration_ms:.2f} ms"))
        if r.env_id or r.pid:
            rows.append(("Environment", f"{r.env_id or '-'} (pid {r.pid or '-'})"))
        if r.trace_id:
            rows.append(("Trace", f"{r.trace_id}" + (f"  segment {r.segment_id}" if r.segment_id else "")))
        if r.error_type:
            rows.append(("Error", f"{r.error_type}: {r.error_message or ''}"))
        text = Text()
        for key, value in rows:
            text.append(f" {key:<15}", style="bold")
            text.append(value + "\n", style="red" if key == "Error" else "")
        return text


def time_text(epoch: float) -> str:
    return time.strftime("%Y-%m-%d ", time.localtime(epoch)) + clock(epoch)
