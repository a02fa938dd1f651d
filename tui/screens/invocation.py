"""One invocation: its record, a timing bar of its phases, event, response or error, and log.

Opened with Enter on an invocation (main or function screen). `r` re-invokes
its event, `e` opens it in the event editor first; j/k, g/G and ctrl+d/ctrl+u
scroll. An async event that failed is retried under the same request id: the
attempts panel lists every attempt (from the dashboard's window and the store)
and Enter on one opens it. The event, response and log come from the
dashboard's window of recent results, else from the store; without either, an
invocation older than the window shows its record only.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from rich.json import JSON
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Static

from lambdatop.runtime.records import InvocationRecord, InvocationResult, InvocationType
from lambdatop.tui.log_style import line_style
from lambdatop.tui.screens.base import DetailScroll, LambdatopScreen
from lambdatop.tui.widgets.attempts_table import AttemptsTable, merge_attempts
from lambdatop.tui.widgets.cells import clock, ms, start_text, status_text
from lambdatop.tui.widgets.timing_bar import TimingBar

if TYPE_CHECKING:
    from lambdatop.runtime.fleet import Fleet, FleetSnapshot

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
        text.append(line + "\n", style=line_style(line))
    return text or Text("(no log lines)", style="dim")


def trace_waterfall(fleet: Fleet, record: InvocationRecord) -> Widget | None:
    """The observability issue's full trace view, when it is installed.

    observability: `lambdatop.tui.widgets.waterfall.TraceWaterfall(fleet=..., record=...)` is mounted here,
    between the timing bar and the payloads. Missing module, or a widget that cannot be built for this
    record, and the screen simply goes without it.
    """
    try:
        from lambdatop.tui.widgets.waterfall import TraceWaterfall
    except ImportError:
        return None
    try:
        return TraceWaterfall(fleet=fleet, record=record)
    except Exception:  # noqa: BLE001 - a trace view problem must not cost the user the invocation screen
        return None


class InvocationScreen(LambdatopScreen[None]):
    """One attempt of one invocation, with the list of every attempt of its request id."""

    BINDINGS = [Binding("escape", "back", "Back")]

    def __init__(self, record: InvocationRecord, result: InvocationResult | None, attempt: int = 1) -> None:
        super().__init__()
        self.record = record
        self.result = result
        self.attempt = attempt  # the dashboard's number for it; the merged list of attempts has the last word
        self.attempts: list[InvocationResult] = []
        self._stored: list[InvocationResult] = []

    def compose(self) -> ComposeResult:
        record = self.record
        yield Static(self._title(), id="inv-title")
        with DetailScroll(id="inv-body"):
            yield Static(self._summary(), id="inv-summary")
            with Vertical(id="inv-attempts-box", classes="box"):
                yield AttemptsTable(id="inv-attempts")
            with Vertical(id="inv-timing-box", classes="box"):
                yield TimingBar(record, id="inv-timing")
            # observability: the full trace waterfall goes here (see trace_waterfall above).
            waterfall = trace_waterfall(self.app.fleet, record)
            if waterfall is not None:
                with Vertical(id="inv-trace-box", classes="box"):
                    yield waterfall
            with Horizontal(id="inv-payloads"):
                with Vertical(id="inv-event-box", classes="box"):
                    yield Static(id="inv-event")
                with Vertical(id="inv-response-box", classes="box"):
                    yield Static(id="inv-response")
            with Vertical(id="inv-log-box", classes="box"):
                yield Static(id="inv-log")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#inv-attempts-box").border_title = "attempts of this request id"
        self.query_one("#inv-timing-box").border_title = "timing"
        self.query_one("#inv-event-box").border_title = "event"
        self.query_one("#inv-response-box").border_title = "error" if self.record.is_error else "response"
        self.query_one("#inv-log-box").border_title = "log"
        if self.query("#inv-trace-box"):
            self.query_one("#inv-trace-box").border_title = "trace"
        self._show_payloads(self.result)
        self._refresh_attempts()
        self.query_one("#inv-body").focus()
        if getattr(self.app.fleet, "store", None) is not None:
            self.load_stored_attempts()

    def selected_function(self) -> str | None:
        return self.record.function

    def selected_invocation(self) -> str | None:
        return self.record.request_id

    def selected_attempt(self) -> int | None:
        return self.attempt

    def action_back(self) -> None:
        self.app.pop_screen()

    # -- attempts -------------------------------------------------------------------

    def refresh_from(self, snapshot: FleetSnapshot, status: str = "") -> None:
        """Each frame: a retry that ran since the screen opened joins the list (from the dashboard's window)."""
        self._refresh_attempts()

    @work(thread=True, exclusive=True)
    def load_stored_attempts(self) -> None:
        """The store's attempts of this request id (older than the window, or of an earlier run); off the loop."""
        try:
            store = self.app.fleet.store
            if store is None:
                return
            stored = store.attempts(self.record.request_id)
        except Exception:  # noqa: BLE001 - a store problem leaves the window's attempts on screen
            return
        results = [InvocationResult(s.record, s.request or b"", s.response or b"", list(s.log_lines)) for s in stored]
        self.app.call_from_thread(self._stored_loaded, results)

    def _stored_loaded(self, results: list[InvocationResult]) -> None:
        self._stored = results
        if self.result is None:
            found = next((r for r in results if r.record.started_at == self.record.started_at), None)
            if found is not None:
                self.result = found
                self._show_payloads(found)
        self._refresh_attempts()

    def _refresh_attempts(self) -> None:
        window = self.app.activity.attempts_of(self.record.request_id)
        current = [self.result] if self.result is not None else [InvocationResult(self.record, b"", b"")]
        before = (len(self.attempts), self.attempt)
        self.attempts = merge_attempts(current, window, self._stored)
        starts = [r.record.started_at for r in self.attempts]
        if self.record.started_at in starts:
            self.attempt = starts.index(self.record.started_at) + 1
        self.query_one("#inv-attempts", AttemptsTable).show(self.attempts, self.attempt)
        box = self.query_one("#inv-attempts-box")
        box.display = len(self.attempts) > 1 or self.record.invocation_type == InvocationType.EVENT
        if (len(self.attempts), self.attempt) != before:  # each frame calls this: redraw only what changed
            box.border_title = f"attempts of this request id · {len(self.attempts)} · enter opens one"
            self.query_one("#inv-title", Static).update(self._title())

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id != "inv-attempts" or not event.row_key.value:
            return
        event.stop()
        number = int(event.row_key.value)
        if number == self.attempt or not 1 <= number <= len(self.attempts):
            return
        chosen = self.attempts[number - 1]
        kept = chosen if chosen.request or chosen.log_lines else None
        self.app.switch_screen(InvocationScreen(chosen.record, kept, number))

    # -- rendering ------------------------------------------------------------------

    def _show_payloads(self, result: InvocationResult | None) -> None:
        self.query_one("#inv-event", Static).update(
            payload_renderable(result.request if result else None, "(event not kept: older than the dashboard's window)"))
        self.query_one("#inv-response", Static).update(
            payload_renderable(result.response if result else None, "(response not kept)"))
        self.query_one("#inv-log", Static).update(log_renderable(result.log_lines if result else []))

    def _title(self) -> Text:
        record = self.record
        text = Text()
        text.append(f" {record.function} ", style="bold black on #ff9900")
        text.append(f" {record.request_id}  ")
        if len(self.attempts) > 1 or record.invocation_type == InvocationType.EVENT:
            text.append(f"attempt {self.attempt} of {max(len(self.attempts), self.attempt)}  ", style="bold yellow")
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
            *([("Source", r.source_arn)] if r.source_arn else []),
            ("Duration", f"{r.duration_ms:.2f} ms   Billed Duration {r.billed_duration_ms} ms"),
            ("Memory", f"{r.max_memory_used_mb} MB used of {r.memory_size_mb} MB"),
        ]
        if r.init_duration_ms is not None:
            rows.append(("Init Duration", f"{r.init_duration_ms:.2f} ms"))
        if r.restore_duration_ms is not None:
            rows.append(("Restore", f"{r.restore_duration_ms:.2f} ms   Billed Restore Duration "
                                    f"{r.billed_restore_duration_ms} ms   (SnapStart: Init ran at publish)"))
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
