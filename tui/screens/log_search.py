"""`LogSearchScreen`: search one function's log lines, with structured (JSON) lines shown as JSON.

The lines come from the store (the last few hundred invocations, read once,
off the event loop) or, without a store, from what the dashboard holds in
memory. Type to filter (case-insensitive; every word must match, like a
CloudWatch Logs Insights `filter @message like`); ↑/↓ pick a line and the
pane below shows it whole, pretty-printed when it is JSON (Powertools Logger,
Lambda's JSON log format, EMF documents).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from rich.json import JSON
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Input, Static

from lambdatop.tui.screens.base import LambdatopScreen
from lambdatop.tui.widgets.vim_table import VimTable

STORE_INVOCATIONS = 300
SHOWN_LINES = 2000


@dataclass(slots=True)
class LogEntry:
    at: float
    request_id: str
    line: str

    @property
    def is_json(self) -> bool:
        text = self.line.strip()
        return text.startswith("{") and text.endswith("}")

    @property
    def level(self) -> str | None:
        if self.is_json:
            try:
                value = json.loads(self.line)
            except ValueError:
                return None
            level = value.get("level") or value.get("levelname") if isinstance(value, dict) else None
            return str(level).upper() if level else None
        if self.line.startswith("[") and "]" in self.line[:10]:
            return self.line[1:self.line.index("]")]
        return None


def matches(entry: LogEntry, words: list[str]) -> bool:
    haystack = entry.line.lower()
    return all(word in haystack or word in entry.request_id for word in words)


def entries_from_store(store: Any, function: str, limit: int = STORE_INVOCATIONS) -> list[LogEntry]:
    out: list[LogEntry] = []
    for stored in reversed(store.invocations(function=function, limit=limit, payloads=True)):
        for line in stored.log_lines:
            out.append(LogEntry(stored.record.started_at, stored.record.request_id, line.rstrip("\n")))
    return out


class LogSearchScreen(LambdatopScreen[None]):
    BINDINGS = [Binding("escape", "back", "Back"), Binding("slash", "focus_filter", "Filter", key_display="/")]
    DEFAULT_CSS = """
    LogSearchScreen #logs-title { height: 1; padding: 0 1; background: $panel; }
    LogSearchScreen #logs-table-box { height: 2fr; border: round $primary; }
    LogSearchScreen #logs-table { height: 1fr; }
    LogSearchScreen #logs-detail-box { height: 1fr; border: round $primary; }
    LogSearchScreen #logs-table-box:focus-within, LogSearchScreen #logs-detail-box:focus-within { border: heavy $accent; }
    """

    def __init__(self, fleet: Any, function: str, lines: list[LogEntry] | None = None) -> None:
        super().__init__()
        self.fleet = fleet
        self.function = function
        self.entries: list[LogEntry] = list(lines or [])
        self.shown: list[LogEntry] = []
        self.source = "memory"

    def compose(self) -> ComposeResult:
        yield Static("", id="logs-title")
        yield Input(placeholder="filter: words that must all appear (request id, level, text) · esc back", id="logs-filter")
        with Vertical(id="logs-table-box"):
            yield VimTable(id="logs-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="logs-detail-box"):
            yield Static("", id="logs-detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#logs-table", DataTable)
        table.add_column("time (UTC)", key="time", width=12)
        table.add_column("request", key="request", width=10)
        table.add_column("level", key="level", width=8)
        table.add_column("line", key="line")
        self.query_one("#logs-detail-box").border_title = "line"
        self.apply_filter("")
        store = self.fleet.store if self.fleet is not None else None  # None: lines given, no fleet
        if store is not None:
            self.load_from_store(store)
        self.query_one("#logs-filter", Input).focus()

    @work(thread=True, exclusive=True)
    def load_from_store(self, store: Any) -> None:
        try:
            entries = entries_from_store(store, self.function)
        except Exception:  # noqa: BLE001 - a store problem leaves the in-memory lines on screen
            return
        self.app.call_from_thread(self._loaded, entries)

    def _loaded(self, entries: list[LogEntry]) -> None:
        if entries:
            self.entries = entries
            self.source = "store"
            self.apply_filter(self.query_one("#logs-filter", Input).value)

    def apply_filter(self, text: str) -> None:
        words = [w for w in text.lower().split() if w]
        found = [e for e in self.entries if matches(e, words)]
        self.shown = found[-SHOWN_LINES:]
        table = self.query_one("#logs-table", DataTable)
        table.clear()
        for entry in self.shown:
            level = entry.level
            style = "red" if level in ("ERROR", "CRITICAL") or "Task timed out" in entry.line else (
                "yellow" if level in ("WARN", "WARNING") else "")
            line = Text(entry.line.replace("\t", "  ")[:400], style=style)
            if entry.is_json:
                line.stylize("cyan", 0, 1)
            table.add_row(time.strftime("%H:%M:%S", time.gmtime(entry.at)), entry.request_id[:8], level or "", line)
        if self.shown:
            table.move_cursor(row=len(self.shown) - 1)
        title = Text(f" {self.function} ", style="bold black on #ff9900")
        title.append(f"  log · {len(self.shown)} of {len(self.entries)} lines from {self.source}")
        if words:
            title.append(f" · filter “{text}”", style="bold")
        self.query_one("#logs-title", Static).update(title)
        self._show(table.cursor_row)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.apply_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#logs-table", DataTable).focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(event.cursor_row)

    def _show(self, row: int) -> None:
        detail = self.query_one("#logs-detail", Static)
        if not 0 <= row < len(self.shown):
            detail.update(Text("no matching lines", style="dim"))
            return
        entry = self.shown[row]
        if entry.is_json:
            try:
                detail.update(JSON(entry.line, indent=2))
                return
            except (ValueError, json.JSONDecodeError):
                pass
        detail.update(Text(f"{entry.request_id}\n", style="dim") + Text(entry.line))

    def action_focus_filter(self) -> None:
        self.query_one("#logs-filter", Input).focus()

    def action_back(self) -> None:
        self.app.pop_screen()
